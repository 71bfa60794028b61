package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedOutputLayer;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.NodeKind;

/**
 * The network input under a quantizer with fewer than 8 bits, whose range the data exceeds (a learned
 * or percentile-calibrated step clips the brightest pixels): the fake-quant network clamps the input to
 * its quantizer's codes ({@code [0, 15]} unsigned, {@code [-8, 7]} signed at 4 bits), and so must the
 * integer model. Before the fix the runtime quantized the input to the full int8 range and the first
 * layer saw codes such as 16 where the fake-quant network saw 15: the ResNet-style graph of
 * {@code GraphExperimentCommandTest} (QAT W4A4, input step 0.0629, pixels up to 1.0) agreed with its
 * fake-quant network on 94.7% of the test images; with the clamp, 100%.
 */
class InputClampExportTest {

    private static final int IN = 12;
    private static final int HIDDEN = 8;
    private static final int N = 2000;

    private static MultiLayerNetwork net(int inputBits, long seed) {
        QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, inputBits);
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.DOUBLE).list()
                .layer(QuantizedDenseLayer.of(new DenseLayer.Builder().nOut(HIDDEN).activation(Activation.IDENTITY).build(), s))
                .layer(QuantizedOutputLayer.of(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), s.clone()))
                .setInputType(InputType.feedForward(IN)).build());
        net.init();
        return net;
    }

    /** Sets layer {@code layer}'s input quantizer to the range {@code [min, max]}, then its LSQ step to {@code step}. */
    private static void inputStep(MultiLayerNetwork net, int layer, double min, double max, double step) {
        QuantSettings s = ((QuantizedLayerConf) net.getLayer(layer).conf().getLayer()).getQuant();
        Map<String, INDArray> p = net.getLayer(layer).paramTable();
        InputQuantization.setRange(s, p, min, max, "layer" + layer);
        p.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, step);
    }

    /** Layer 0's input codes in the fake-quant network: its input quantizer's output over its step. */
    private static int[] fakeQuantInputCodes(MultiLayerNetwork net, INDArray x) {
        QuantSettings s = ((QuantizedLayerConf) net.getLayer(0).conf().getLayer()).getQuant();
        Map<String, INDArray> p = net.getLayer(0).paramTable();
        double step = p.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0);
        double[] q = InputQuantization.forward(s, x, false, p, "layer0").dup('c').data().asDouble();
        int[] codes = new int[q.length];
        for (int i = 0; i < q.length; i++) {
            codes[i] = (int) Math.round(q[i] / step);
        }
        return codes;
    }

    private static void assertIntegerModelClampsLikeFakeQuant(int inputBits, boolean signed, long seed) {
        Random rnd = new Random(seed);
        MultiLayerNetwork net = net(inputBits, seed);
        int qmax = signed ? (1 << (inputBits - 1)) - 1 : (1 << inputBits) - 1;
        double step = 0.9 / qmax;    // range 0.9 (or +-0.9) while the data reaches 1.5: some inputs clip
        inputStep(net, 0, signed ? -1 : 0, 1, step);
        inputStep(net, 1, -4, 4, 8.0 / ((1 << inputBits) - 1));
        double[] xs = new double[N * IN];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = signed ? 3.0 * rnd.nextDouble() - 1.5 : 1.5 * rnd.nextDouble();
        }
        INDArray x = Nd4j.createFromArray(xs).reshape(N, IN);
        int[] expected = fakeQuantInputCodes(net, x);
        int clipped = 0;
        for (int i = 0; i < xs.length; i++) {
            clipped += Math.abs(Math.round(xs[i] / step)) > qmax ? 1 : 0;
        }

        Int8Graph g = Int8Exporter.export(net, x).graph();
        // the clamp is an identity requantization of the raw int8 input, the first node
        Int8Graph.Node clamp = g.nodes().get(0);
        assertEquals(NodeKind.REQUANTIZE, clamp.kind(), "first node: " + g.nodes());
        Int8Graph.Tensor codes = g.tensors().get(clamp.output());
        Int8Model upToClamp = new Int8Model(new Int8Graph(g.tensors(), g.nodes().subList(0, 1), g.input(), clamp.output(), g.rounding()));
        float[] xf = x.castTo(DataType.FLOAT).dup('c').data().asFloat();
        byte[] runtime = upToClamp.runQuantized(upToClamp.quantizeInput(xf, N), N);
        int[] got = new int[runtime.length];
        for (int i = 0; i < runtime.length; i++) {
            got[i] = runtime[i] - codes.zeroPoint();
        }
        System.out.printf("%d-bit %s input, step %.4f: %d of %d inputs beyond the quantizer's range%n", inputBits,
                signed ? "signed" : "unsigned", step, clipped, xs.length);
        assertTrue(clipped > xs.length / 10, "the construction must clip inputs: " + clipped);
        assertArrayEquals(expected, got, "input codes of the integer model equal the fake-quant network's, clipped ones included");

        // and the whole model: the integer logits (int32 accumulators dequantized) equal the fake-quant logits
        INDArray fq = Int8Exporter.fakeQuantLogits(net, x);
        float[] logits = new Int8Model(g).run(xf, N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            for (int c = 0; c < 3; c++) {
                worst = Math.max(worst, Math.abs(logits[i * 3 + c] - fq.getDouble(i, c)));
            }
        }
        assertTrue(worst < 1e-4, "logits of the integer model vs fake quant: max |diff| " + worst);
    }

    @Test
    void anUnsignedLowBitInputQuantizerClampsTheRuntimeInput() {
        assertIntegerModelClampsLikeFakeQuant(4, false, 21);
        assertIntegerModelClampsLikeFakeQuant(2, false, 22);
    }

    @Test
    void aSignedLowBitInputQuantizerClampsTheRuntimeInputAtBothEnds() {
        assertIntegerModelClampsLikeFakeQuant(4, true, 23);
        assertIntegerModelClampsLikeFakeQuant(3, true, 24);
    }

    @Test
    void anEightBitInputNeedsNoClampNode() {
        MultiLayerNetwork net = net(8, 25);
        inputStep(net, 0, 0, 1, 1.0 / 255);
        inputStep(net, 1, -4, 4, 8.0 / 255);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 64, IN);
        Int8Graph g = Int8Exporter.export(net, x).graph();
        assertEquals(NodeKind.DENSE, g.nodes().get(0).kind(), "an 8-bit input uses the runtime's int8 quantization as is: " + g.nodes());
    }
}
