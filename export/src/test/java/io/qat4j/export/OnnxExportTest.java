package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.NodeKind;
import onnx.Onnx;

/**
 * The ONNX exports run in ONNX Runtime: the QDQ model of a QAT CNN agrees with the qat4j runtime
 * (argmax agreement and logit difference in output steps, reported), and the float export equals
 * DL4J's {@code output()}.
 */
class OnnxExportTest {

    @TempDir
    Path dir;

    /** ORT's outputs for {@code x} ([n, 1, SIZE, SIZE]), flattened. */
    static float[] runOrt(Path model, float[] x, int n, long[] shape) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model.toString(), opts);
                 OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
                 OrtSession.Result r = session.run(Map.of("input", in))) {
                float[][] y = (float[][]) r.get(0).getValue();
                float[] flat = new float[n * y[0].length];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(y[i], 0, flat, i * y[0].length, y[0].length);
                }
                return flat;
            }
        }
    }

    /** {argmax agreement, max |difference| in output steps} of two [n, classes] logit arrays. */
    static double[] compare(float[] a, float[] b, int n, int classes, double step) {
        int agree = 0;
        double maxSteps = 0;
        for (int i = 0; i < n; i++) {
            int ia = 0;
            int ib = 0;
            for (int c = 0; c < classes; c++) {
                ia = a[i * classes + c] > a[i * classes + ia] ? c : ia;
                ib = b[i * classes + c] > b[i * classes + ib] ? c : ib;
                maxSteps = Math.max(maxSteps, Math.abs(a[i * classes + c] - b[i * classes + c]) / step);
            }
            agree += ia == ib ? 1 : 0;
        }
        return new double[] {(double) agree / n, maxSteps};
    }

    @Test
    void qdqModelRunsInOnnxRuntimeAndAgreesWithTheQat4jRuntime() throws Exception {
        DataSet train = SyntheticImages.blobs(600, 1);
        DataSet test = SyntheticImages.blobs(300, 2);
        int n = (int) test.numExamples();
        float[] x = test.getFeatures().dup('c').data().asFloat();
        long[] shape = {n, 1, SyntheticImages.SIZE, SyntheticImages.SIZE};
        for (int bits : new int[] {8, 4}) {
            MultiLayerNetwork q = Int8ExportEndToEndTest.qat(QuantSettings.of(WeightQuantMode.LSQ, bits, InputQuantMode.LSQ, bits), train);
            Int8Exporter.Result r = Int8Exporter.export(q, train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 64)));
            Onnx.ModelProto proto = OnnxExporter.qdq(r);
            assertEquals(OnnxExporter.OPSET, proto.getOpsetImport(0).getVersion());
            assertTrue(proto.getGraph().getNodeList().stream().anyMatch(nd -> nd.getOpType().equals("QuantizeLinear")));
            Path file = dir.resolve("cnn-w" + bits + ".onnx");
            OnnxExporter.write(proto, file);
            assertTrue(Files.notExists(dir.resolve("cnn-w" + bits + ".onnx.tmp")));
            float[] ort = runOrt(file, x, n, shape);
            Int8Model model = new Int8Model(r.graph());
            float[] rt = model.run(x, n);
            double step = r.graph().tensors().get(r.graph().output()).scale();
            double[] cmp = compare(ort, rt, n, SyntheticImages.CLASSES, step);
            System.out.printf("ONNX QDQ W%dA%d vs qat4j runtime: argmax agreement %.4f, max logit difference %.2f output steps%n",
                    bits, bits, cmp[0], cmp[1]);
            assertTrue(cmp[0] >= 0.98, "ORT vs runtime argmax agreement " + cmp[0]);
            assertTrue(cmp[1] <= 3, "ORT logits within a few output steps of the runtime's (ties round differently): " + cmp[1]);
        }
    }

    @Test
    void residualQdqModelRunsInOnnxRuntime() throws Exception {
        DataSet train = SyntheticImages.blobs(600, 1);
        DataSet test = SyntheticImages.blobs(200, 2);
        org.deeplearning4j.nn.graph.ComputationGraph g = ResidualExportTest.residual(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8), true);
        ResidualExportTest.fit(g, train, 3);
        Int8Exporter.Result r = Int8Exporter.export(g, train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 64)));
        Path file = dir.resolve("residual.onnx");
        OnnxExporter.write(OnnxExporter.qdq(r), file);
        int n = (int) test.numExamples();
        float[] x = test.getFeatures().dup('c').data().asFloat();
        float[] ort = runOrt(file, x, n, new long[] {n, 1, SyntheticImages.SIZE, SyntheticImages.SIZE});
        double[] cmp = compare(ort, new Int8Model(r.graph()).run(x, n), n, SyntheticImages.CLASSES,
                r.graph().tensors().get(r.graph().output()).scale());
        System.out.printf("ONNX QDQ residual W8A8 vs qat4j runtime: argmax agreement %.4f, max logit difference %.2f output steps%n",
                cmp[0], cmp[1]);
        assertTrue(r.graph().nodes().stream().anyMatch(nd -> nd.kind() == NodeKind.ADD));
        assertTrue(cmp[0] >= 0.98, "agreement " + cmp[0]);
        assertTrue(cmp[1] <= 3, "max steps " + cmp[1]);
    }

    @Test
    void floatModelEqualsDl4jOutput() throws Exception {
        DataSet train = SyntheticImages.blobs(300, 3);
        MultiLayerNetwork fp = Int8ExportEndToEndTest.floatCnn();
        Int8ExportEndToEndTest.fit(fp, train, 2);   // BN running statistics away from their initial values
        Path file = dir.resolve("fp32.onnx");
        OnnxExporter.write(OnnxExporter.float32(fp, new int[] {1, SyntheticImages.SIZE, SyntheticImages.SIZE}), file);
        int n = 50;
        INDArray xs = train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, n)).dup('c');
        float[] ort = runOrt(file, xs.data().asFloat(), n, new long[] {n, 1, SyntheticImages.SIZE, SyntheticImages.SIZE});
        float[] dl4j = fp.output(xs, false).dup('c').data().asFloat();
        double max = 0;
        for (int i = 0; i < ort.length; i++) {
            max = Math.max(max, Math.abs(ort[i] - dl4j[i]));
        }
        System.out.printf("ONNX FP32 vs DL4J output(): max |difference| %.2e%n", max);
        assertTrue(max < 1e-4, "float ONNX model reproduces output(): " + max);
    }

    /**
     * DL4J's inference batch norm divides by {@code sqrt(std^2 + eps)} with std from the stored
     * log10 value. A channel whose running variance is below eps shows any other reading at once:
     * subtracting eps from std^2 made the ONNX sigma 1.9x too small here.
     */
    @Test
    void floatModelMatchesDl4jWithANearZeroVarianceBatchNormChannel() throws Exception {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv").nOut(3).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn").build())   // DL4J default: useLogStd, eps 1e-5
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).name("out").nOut(4).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(SyntheticImages.SIZE, SyntheticImages.SIZE, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        org.deeplearning4j.nn.api.Layer bn = net.getLayer(1);
        INDArray log10Std = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD);
        log10Std.putScalar(0, Math.log10(2e-3));   // var 4e-6 < eps
        log10Std.putScalar(1, Math.log10(0.5));
        log10Std.putScalar(2, Math.log10(2.0));
        bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).putScalar(1, 0.1);
        Path file = dir.resolve("near-zero-var.onnx");
        OnnxExporter.write(OnnxExporter.float32(net, new int[] {1, SyntheticImages.SIZE, SyntheticImages.SIZE}), file);
        int n = 20;
        INDArray xs = SyntheticImages.blobs(n, 4).getFeatures().dup('c');
        float[] ort = runOrt(file, xs.data().asFloat(), n, new long[] {n, 1, SyntheticImages.SIZE, SyntheticImages.SIZE});
        float[] dl4j = net.output(xs, false).dup('c').data().asFloat();
        double maxDiff = 0;
        double maxAbs = 0;
        for (int i = 0; i < ort.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(ort[i] - dl4j[i]));
            maxAbs = Math.max(maxAbs, Math.abs(dl4j[i]));
        }
        System.out.printf("ONNX FP32 vs DL4J output(), BN channel with var < eps: max |difference| %.3e of max |output| %.3e (%.2e relative)%n",
                maxDiff, maxAbs, maxDiff / maxAbs);
        assertTrue(maxDiff / maxAbs < 1e-5, "float ONNX model reproduces output() with a near-zero-variance BN channel: relative "
                + maxDiff / maxAbs);
    }
}
