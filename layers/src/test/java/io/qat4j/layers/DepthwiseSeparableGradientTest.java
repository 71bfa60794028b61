package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.IntFunction;

import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.ConvolutionMode;
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
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl;
import io.qat4j.layers.params.QuantizedSeparableConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * Finite-difference gradient checks of the depthwise and separable layers: the whole chain with
 * quantization disabled, and the STE/LSQ step path where fake quantization is smooth (every value
 * clipped, so {@code x^ = Qp s sign(x)}): input, weight, pointwise and mid steps.
 */
class DepthwiseSeparableGradientTest {

    private static final DepthwiseNets.Variant PLAIN = new DepthwiseNets.Variant(1, 0, 1, ConvolutionMode.Truncate, true, 2);
    /** Small enough for finite differences over every parameter: 2 channels of 6x6 -> 4 of 4x4 -> 3 of 2x2 -> 4 -> 3. */
    private static final int CHANNELS = 2;
    private static final int SIZE = 6;

    private static MultiLayerNetwork small(IntFunction<QuantSettings> s, DepthwiseNets.Variant v) {
        return DepthwiseNets.mln(s, v, DataType.DOUBLE, new NoOp(), Activation.TANH, CHANNELS, SIZE, 3, 4);
    }

    private static INDArray randn(int n) {
        return Nd4j.randn(DataType.DOUBLE, n, CHANNELS, SIZE, SIZE);
    }

    /** x in [1, 2]: at input step 0.05 and 4 bits (Qp = 15) every input is clipped to 0.75. */
    private static INDArray clippedInput(int n) {
        return Nd4j.rand(DataType.DOUBLE, n, CHANNELS, SIZE, SIZE).addi(1);
    }

    /** GradientCheckUtil insists on double as the global default type; restored afterwards. */
    private static void withDoubleDefaults(Runnable check) {
        DataType floatType = Nd4j.defaultFloatingPointType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        try {
            check.run();
        } finally {
            Nd4j.setDefaultDataTypes(floatType, floatType);
        }
    }

    private static boolean check(MultiLayerNetwork net, INDArray x, INDArray y) {
        return GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net).input(x).labels(y)
                .epsilon(1e-6).maxRelError(1e-3).minAbsoluteError(1e-8));
    }

    private static INDArray labels(int n, long seed) {
        return Nets.oneHot(n, 3, seed).castTo(DataType.DOUBLE);
    }

    @Test
    void gradientCheckPassesWithQuantizationDisabled() {
        withDoubleDefaults(() -> {
            QuantSettings off = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4);
            off.setEnabled(false);
            MultiLayerNetwork net = small(i -> off, new DepthwiseNets.Variant(1, 1, 1, ConvolutionMode.Truncate, true, 2));
            Nd4j.getRandom().setSeed(3);
            INDArray x = randn(3);
            assertTrue(check(net, x, labels(3, 2)));
        });
    }

    /** LSQ weights (and the given input mode) on the layer {@code at}, stock float layers elsewhere; no bias grid, unscaled step gradients. */
    private static IntFunction<QuantSettings> lsqAt(int at, InputQuantMode input) {
        return layer -> {
            if (layer != at) {
                return null;
            }
            QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, 4, input, 4);
            s.setStepGradientScaling(false);
            s.setQuantizeBias(false);   // round(b / (s_x s_w)) is a staircase in b: finite differences cannot see its STE gradient
            return s;
        };
    }

    /** |w| >= 0.1 with the sign kept: at step 0.01 and 4 bits (Qp = 7) every weight is clipped to +-0.07. */
    private static void clipAll(org.deeplearning4j.nn.api.Layer layer, String weightKey, String stepKey) {
        INDArray w = layer.getParam(weightKey);
        INDArray sign = w.gte(0.0).castTo(DataType.DOUBLE).muli(2).subi(1);
        w.assign(Transforms.abs(w, true).addi(0.1).muli(sign));
        layer.getParam(stepKey).assign(0.01);
    }

    @Test
    void depthwiseInputAndWeightStepGradientsPassTheGradientCheck() {
        withDoubleDefaults(() -> {
            MultiLayerNetwork net = small(lsqAt(0, InputQuantMode.LSQ), PLAIN);
            clipAll(net.getLayer(0), "W", QuantizerParams.WEIGHT_STEP_KEY);
            // input step 0.05 and x in [1, 2]: every input is clipped (x/s >= 20 > Qp = 15), x^ = 0.75
            net.getLayer(0).getParam(QuantizerParams.INPUT_STEP_KEY).assign(0.05);
            net.getLayer(0).getParam(QuantizerParams.INPUT_COUNT_KEY).assign(1);
            Nd4j.getRandom().setSeed(4);
            INDArray x = clippedInput(3);
            INDArray y = labels(3, 5);
            assertTrue(check(net, x, y));
            net.setInput(x);
            net.setLabels(y);
            net.computeGradientAndScore();
            for (String key : new String[] {"0_Ws", "0_Xs"}) {
                assertTrue(net.gradient().getGradientFor(key).norm2Number().doubleValue() > 1e-6, key + " is not trivially zero");
            }
        });
    }

    @Test
    void separableDepthwiseAndPointwiseStepGradientsPassTheGradientCheck() {
        withDoubleDefaults(() -> {
            // no input quantizer, hence no mid quantizer: the depthwise steps reach the loss through the pointwise part
            MultiLayerNetwork net = small(lsqAt(1, InputQuantMode.NONE), PLAIN);
            clipAll(net.getLayer(1), "W", QuantizerParams.WEIGHT_STEP_KEY);
            clipAll(net.getLayer(1), "pW", QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_STEP_KEY);
            Nd4j.getRandom().setSeed(6);
            INDArray x = randn(3);
            INDArray y = labels(3, 6);
            assertTrue(check(net, x, y));
            net.setInput(x);
            net.setLabels(y);
            net.computeGradientAndScore();
            // (W and pW themselves are all clipped: their true gradient is 0, and the check confirms it)
            for (String key : new String[] {"1_Ws", "1_pWs", "0_W"}) {
                assertTrue(net.gradient().getGradientFor(key).norm2Number().doubleValue() > 1e-6, key + " is not trivially zero");
            }
        });
    }

    @Test
    void separableMidQuantizerStepGradientPassesTheGradientCheck() {
        withDoubleDefaults(() -> {
            // a separable layer first: input x in [1, 2] at step 0.05 is clipped to 0.75; weights clipped to +-0.07, 3x3
            // taps without padding: |depthwise output| = 0.0525 |sum of nine +-1| >= 0.0525, clipped at mid step 0.003
            // (4-bit signed: +0.021 / -0.024), so the whole layer is smooth in the mid step
            MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(12345).dataType(DataType.DOUBLE)
                    .updater(new NoOp()).list()
                    .layer(QuantizedSeparableConvolutionLayer.of(DepthwiseNets.separable(PLAIN, 3, Activation.TANH),
                            lsqAt(0, InputQuantMode.LSQ).apply(0)))
                    .layer(new DenseLayer.Builder().nOut(4).activation(Activation.TANH).build())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                    .setInputType(InputType.convolutional(SIZE, SIZE, CHANNELS)).build());
            net.init();
            org.deeplearning4j.nn.api.Layer sep = net.getLayer(0);
            clipAll(sep, "W", QuantizerParams.WEIGHT_STEP_KEY);
            clipAll(sep, "pW", QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_STEP_KEY);
            ((QuantizedSeparableConvolutionImpl) sep).setMidRange(-1, 1);   // signed mid quantizer, count 1
            sep.getParam(QuantizedSeparableConvolutionParamInitializer.MID_INPUT_STEP_KEY).assign(0.003);
            sep.getParam(QuantizerParams.INPUT_STEP_KEY).assign(0.05);
            sep.getParam(QuantizerParams.INPUT_COUNT_KEY).assign(1);
            Nd4j.getRandom().setSeed(7);
            INDArray x = clippedInput(3);
            INDArray y = labels(3, 7);
            assertTrue(check(net, x, y));
            net.setInput(x);
            net.setLabels(y);
            net.computeGradientAndScore();
            // (everything before the clipped mid quantizer, the input step included, truly has gradient 0)
            for (String key : new String[] {"0_midXs", "0_pWs", "0_b"}) {
                assertTrue(net.gradient().getGradientFor(key).norm2Number().doubleValue() > 1e-6, key + " is not trivially zero");
            }
        });
    }
}
