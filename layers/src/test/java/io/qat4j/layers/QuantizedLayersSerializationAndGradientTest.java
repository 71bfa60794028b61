package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.params.QuantizerParams;

class QuantizedLayersSerializationAndGradientTest {

    private static final Nets.ConvVariant PLAIN = new Nets.ConvVariant(1, 1, 1, ConvolutionMode.Truncate, true);

    /** Every field set to a non-default value, so a dropped field shows up in the round trip. */
    private static QuantSettings unusual() {
        QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ_PLUS, 5, InputQuantMode.LSQ_PLUS, 6);
        s.setWeightPerChannel(false);
        s.setInputSigned(true);
        s.setInputSignFromData(false);
        s.setEnabled(false);
        s.setObserverEnabled(false);
        s.setAveragingConstant(0.125);
        s.setPactAlphaDecay(0.003);
        s.setPactInitAlpha(6.5);
        s.setStepGradientScaling(false);
        return s;
    }

    @Test
    void everySettingsFieldSurvivesTheJsonRoundTrip() {
        QuantSettings s = unusual();
        assertNotEquals(new QuantSettings(), s);
        MultiLayerNetwork net = Nets.cnn(s, PLAIN, DataType.FLOAT, new NoOp(), Activation.TANH);
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        String json = conf.toJson();
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(json);
        assertEquals(conf, back);
        for (int i = 0; i < back.getConfs().size(); i++) {
            QuantizedLayerConf layer = (QuantizedLayerConf) back.getConf(i).getLayer();
            assertEquals(s, layer.getQuant(), "layer " + i);
        }
        assertEquals(conf.toYaml(), MultiLayerConfiguration.fromYaml(conf.toYaml()).toYaml());
    }

    @Test
    void clonedConfigurationsDoNotShareSettings() {
        QuantizedDenseLayer a = QuantizedDenseLayer.of(new DenseLayer.Builder().nIn(3).nOut(2).build(), new QuantSettings());
        QuantizedDenseLayer b = a.clone();
        b.getQuant().setEnabled(false);
        assertTrue(a.getQuant().isEnabled());
    }

    @Test
    void unsupportedConfigurationsAreRejectedByName() {
        IllegalArgumentException noise = assertThrows(IllegalArgumentException.class, () -> QuantizedDenseLayer.of(
                new DenseLayer.Builder().name("fc1").nOut(2).weightNoise(new org.deeplearning4j.nn.conf.weightnoise.DropConnect(0.5))
                        .build(), new QuantSettings()));
        assertTrue(noise.getMessage().contains("'fc1'") && noise.getMessage().contains("weight noise"), noise.getMessage());
        QuantSettings bad = QuantSettings.of(WeightQuantMode.LSQ, 1, InputQuantMode.LSQ, 8);
        IllegalArgumentException bits = assertThrows(IllegalArgumentException.class, () -> QuantizedConvolutionLayer.of(
                new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(3, 3).name("conv1").nOut(2).build(), bad));
        assertTrue(bits.getMessage().contains("'conv1'") && bits.getMessage().contains("weightBits"), bits.getMessage());
        for (InputQuantMode m : new InputQuantMode[] {InputQuantMode.FIXED, InputQuantMode.LSQ, InputQuantMode.LSQ_PLUS, InputQuantMode.PACT}) {
            QuantSettings signed1 = QuantSettings.of(WeightQuantMode.LSQ, 4, m, 1);   // issue 14 #5: every mode, not only LSQ
            signed1.setInputSigned(true);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> signed1.validate("x"), m.toString());
            assertTrue(e.getMessage().contains("inputBits >= 2"), e.getMessage());
        }
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

    @Test
    void gradientCheckPassesWithQuantizationDisabled() {
        withDoubleDefaults(QuantizedLayersSerializationAndGradientTest::checkDisabled);
    }

    private static void checkDisabled() {
        QuantSettings off = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4);
        off.setEnabled(false);
        MultiLayerNetwork net = Nets.cnn(off, PLAIN, DataType.DOUBLE, new NoOp(), Activation.TANH);
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 3, 2, 9, 9);
        INDArray y = Nets.oneHot(3, 3, 2).castTo(DataType.DOUBLE);
        assertTrue(GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net).input(x).labels(y)
                .epsilon(1e-6).maxRelError(1e-3).minAbsoluteError(1e-8)));
    }

    @Test
    void gradientCheckPassesOnTheSmoothLsqStepPath() {
        withDoubleDefaults(QuantizedLayersSerializationAndGradientTest::checkLsqStepPath);
    }

    private static void checkLsqStepPath() {
        // Steps small enough that every weight, and every input of the first layer, is clipped:
        // x^ = Qp s sign(x) is smooth in s, and the STE's zero gradient for clipped values is the true
        // one. Later layers take float inputs so that the first layer's step gradients reach the loss.
        // LSQ's gradient scale g deliberately shrinks step gradients; the check compares unscaled ones.
        MultiLayerNetwork net = Nets.cnnPerLayer(layer -> {
            QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, 4, layer == 0 ? InputQuantMode.LSQ : InputQuantMode.NONE, 4);
            s.setStepGradientScaling(false);
            s.setQuantizeBias(false);   // round(b / (s_x s_w)) is a staircase in b: finite differences cannot see its STE gradient
            return s;
        }, PLAIN, DataType.DOUBLE, new NoOp(), Activation.TANH);
        for (int i = 0; i < net.getnLayers(); i++) {
            // step 0.01 and |w| >= 0.1: every weight is clipped (|w/s| >= 10 > Qp = 7), w^ = +-0.07
            net.getLayer(i).getParam(QuantizerParams.WEIGHT_STEP_KEY).assign(0.01);
            INDArray w = net.getLayer(i).getParam("W");
            INDArray sign = w.gte(0.0).castTo(DataType.DOUBLE).muli(2).subi(1);
            w.assign(org.nd4j.linalg.ops.transforms.Transforms.abs(w, true).addi(0.1).muli(sign));
        }
        // input step 0.05 and x in [1, 2]: every input is clipped (x/s >= 20 > Qp = 15), x^ = 0.75
        net.getLayer(0).getParam(QuantizerParams.INPUT_STEP_KEY).assign(0.05);
        net.getLayer(0).getParam(QuantizerParams.INPUT_COUNT_KEY).assign(1);
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 3, 2, 9, 9).addi(1);
        INDArray y = Nets.oneHot(3, 3, 5).castTo(DataType.DOUBLE);
        assertTrue(GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net).input(x).labels(y)
                .epsilon(1e-6).maxRelError(1e-3).minAbsoluteError(1e-8)));
        // the step gradients checked are not trivially zero
        net.setInput(x);
        net.setLabels(y);
        net.computeGradientAndScore();
        for (String key : new String[] {"0_Ws", "0_Xs", "1_Ws", "2_Ws", "3_Ws"}) {
            assertTrue(net.gradient().getGradientFor(key).norm2Number().doubleValue() > 1e-6, key);
        }
    }
}
