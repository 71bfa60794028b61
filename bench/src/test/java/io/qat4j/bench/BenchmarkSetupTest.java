package io.qat4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import io.qat4j.runtime.FixedPoint;

/** The benchmarks are registered with JMH and compute what they claim to (timing is JMH's job, not a test's). */
class BenchmarkSetupTest {

    @Test
    void jmhAnnotationProcessingRegisteredEveryBenchmark() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/META-INF/BenchmarkList")) {
            assertNotNull(in, "META-INF/BenchmarkList missing: the JMH annotation processor did not run");
            String list = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            for (String name : new String[] {"FixedPointBenchmark_fixedPoint", "FixedPointBenchmark_floatMultiplier",
                    "FakeQuantBenchmark_fakeQuant", "Conv2dBackendBenchmark_forward", "Conv2dBackendBenchmark_trainStep",
                    "NativeConv2dBenchmark_forward", "NativeConv2dBenchmark_backward", "QatTrainingBenchmark_trainStep", "Int8RuntimeBenchmark_run", "InferenceBenchmark_infer"}) {
                assertTrue(list.contains("jmh_generated." + name + "_jmhTest"), name + " not registered");
            }
        }
    }

    @Test
    void fixedPointBenchmarkComputesClampedRequantization() {
        FixedPointBenchmark b = new FixedPointBenchmark();
        b.setup();
        byte[] out = b.fixedPoint().clone();
        byte[] expected = new byte[FixedPointBenchmark.N];
        for (int i = 0; i < expected.length; i++) {
            int v = FixedPoint.multiplyByQuantizedMultiplier(b.acc[i], b.multiplier) - 3;
            expected[i] = (byte) Math.max(-128, Math.min(127, v));
        }
        assertArrayEquals(expected, out);
        byte[] viaFloat = b.floatMultiplier();
        int differ = 0;
        for (int i = 0; i < out.length; i++) {
            assertTrue(Math.abs(out[i] - viaFloat[i]) <= 1);
            differ += out[i] != viaFloat[i] ? 1 : 0;
        }
        assertTrue(differ < out.length / 100, "float and fixed point rarely differ, by one unit: " + differ);
    }

    @Test
    void convBenchmarkRunsTheReferenceCnn() {
        Conv2dBackendBenchmark b = new Conv2dBackendBenchmark();
        b.setup();
        assertArrayEquals(new long[] {64, 10}, b.forward().shape());
        assertEquals(1.0, b.forward().getRow(0).sumNumber().doubleValue(), 1e-5);
        assertTrue(Double.isFinite(b.trainStep()));
    }

    @Test
    void nativeConvBenchmarkComputesTheSameConvolutionAsDl4jsNativeOpInterface() {
        NativeConv2dBenchmark b = new NativeConv2dBenchmark();
        b.setup();
        org.nd4j.linalg.api.ndarray.INDArray viaOp = b.forward().dup();
        // the same convolution through ND4J's typed API with the [out, in, kh, kw] weight layout
        org.nd4j.linalg.api.ndarray.INDArray viaApi = org.nd4j.linalg.factory.Nd4j.cnn().conv2d(b.input, b.weights, b.bias,
                org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig.builder().kH(3).kW(3).sH(1).sW(1).pH(1).pW(1)
                        .dH(1).dW(1).dataFormat("NCHW").weightsFormat(org.nd4j.enums.WeightsFormat.OIYX).build());
        assertTrue(viaOp.equalsWithEps(viaApi, 1e-3), "conv2d op and NDCNN.conv2d disagree");
        // bias gradient of conv2d_bp is the sum of gradOut over batch and space
        b.backward();
        assertTrue(b.gradB.equalsWithEps(b.gradOut.sum(0, 2, 3), 1e-2));
    }

    @Test
    void qatTrainingBenchmarkVariantsTrainTheSameArchitecture() {
        for (String variant : new String[] {"dl4j-fp32", "qat4j-disabled", "qat4j-w4a4-lsq"}) {
            QatTrainingBenchmark b = new QatTrainingBenchmark();
            b.variant = variant;
            b.setup();
            assertEquals(Conv2dBackendBenchmark.referenceCnn().numParams() > 0, true);
            double first = b.trainStep();
            assertTrue(Double.isFinite(first), variant);
            assertArrayEquals(new long[] {QatTrainingBenchmark.BATCH, 10}, b.net.output(b.batch.getFeatures()).shape(), variant);
        }
    }

    @Test
    void int8RuntimeBenchmarkKernelsAgree() {
        Int8RuntimeBenchmark ref = new Int8RuntimeBenchmark();
        ref.kernels = "REFERENCE";
        ref.batch = 2;
        ref.threads = 1;
        ref.setup();
        Int8RuntimeBenchmark opt = new Int8RuntimeBenchmark();
        opt.kernels = "OPTIMIZED";
        opt.batch = 2;
        opt.threads = 2;
        opt.setup();
        assertArrayEquals(ref.run(), opt.run());
        assertEquals(20, opt.run().length);
    }

    @Test
    void inferenceEnginesComputeTheSameModel() throws Exception {
        try (InferenceModels m = new InferenceModels(1)) {
            int n = 64;
            org.nd4j.linalg.api.ndarray.INDArray x = InferenceModels.randomImages(n, 5).getFeatures();
            float[] xf = x.dup('c').data().asFloat();
            // (a) vs (d): the float ONNX export computes DL4J's output()
            float[] dl4j = m.fp32.output(x, false).dup('c').data().asFloat();
            float[][] ortFp32 = m.runOrt(m.ortFp32, xf, n);
            double maxFloat = 0;
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < 10; c++) {
                    maxFloat = Math.max(maxFloat, Math.abs(ortFp32[i][c] - dl4j[i * 10 + c]));
                }
            }
            assertTrue(maxFloat < 1e-4, "ORT FP32 vs DL4J: " + maxFloat);
            // (b) vs (c): ORT on the QDQ export agrees with the qat4j runtime
            float[] int8 = m.int8.run(xf, n);
            float[][] qdq = m.runOrt(m.ortQdq, xf, n);
            int agree = 0;
            for (int i = 0; i < n; i++) {
                int a = 0;
                int b = 0;
                for (int c = 0; c < 10; c++) {
                    a = int8[i * 10 + c] > int8[i * 10 + a] ? c : a;
                    b = qdq[i][c] > qdq[i][b] ? c : b;
                }
                agree += a == b ? 1 : 0;
            }
            assertTrue(agree >= n - 2, "ORT QDQ vs qat4j runtime argmax agreement " + agree + "/" + n);
            assertEquals(1_218_048L, InferenceModels.MACS_PER_SAMPLE);
        }
    }
}
