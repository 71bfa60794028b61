package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.impl.QuantizedConvBatchNormImpl;
import io.qat4j.layers.params.QuantizedConvBatchNormParamInitializer;

class QuantizedConvBatchNormTest {

    private static ConvolutionLayer conv() {
        return new ConvolutionLayer.Builder(3, 3).name("conv").nOut(4).stride(2, 2).padding(1, 1).hasBias(false)
                .activation(Activation.IDENTITY).build();
    }

    private static BatchNormalization bn() {
        return new BatchNormalization.Builder().name("bn").useLogStd(false).eps(1e-3).decay(0.8).activation(Activation.IDENTITY).build();
    }

    private static OutputLayer out() {
        return new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build();
    }

    /** conv(no bias) -> BN -> relu -> output, DL4J layers. */
    private static MultiLayerNetwork dl4j(DataType dtype) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(dtype).updater(new NoOp()).list()
                .layer(conv()).layer(bn()).layer(new ActivationLayer.Builder().activation(Activation.TANH).build()).layer(out())
                .setInputType(InputType.convolutional(7, 7, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Nd4j.getRandom().setSeed(5);
        org.deeplearning4j.nn.api.Layer b = net.getLayer(1);
        b.setParam("gamma", Nd4j.rand(dtype, 4).addi(0.5));
        b.setParam("beta", Nd4j.randn(dtype, 4));
        b.setParam("mean", Nd4j.randn(dtype, 4));
        b.setParam("var", Nd4j.rand(dtype, 4).addi(0.5));
        return net;
    }

    /** The same network with conv+BN fused (the BN position becomes an identity activation). */
    private static MultiLayerNetwork fused(MultiLayerNetwork twin, QuantSettings s, boolean frozen, DataType dtype) {
        QuantizedConvBatchNormLayer f = QuantizedConvBatchNormLayer.of(conv(), bn(), s);
        f.setFreezeBatchNorm(frozen);
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(dtype).updater(new NoOp()).list()
                .layer(f).layer(new ActivationLayer.Builder().activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().activation(Activation.TANH).build()).layer(out())
                .setInputType(InputType.convolutional(7, 7, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.getLayer(0).setParam("W", twin.getLayer(0).getParam("W").dup());
        for (String k : List.of("gamma", "beta", "mean", "var")) {
            net.getLayer(0).setParam(k, twin.getLayer(1).getParam(k).dup());
        }
        net.getLayer(3).setParam("W", twin.getLayer(3).getParam("W").dup());
        net.getLayer(3).setParam("b", twin.getLayer(3).getParam("b").dup());
        return net;
    }

    private static void assertClose(INDArray a, INDArray b, double tol, String what) {
        double d = Nets.maxAbsDiff(a, b);
        assertTrue(d <= tol, what + ": " + d);
    }

    @Test
    void disabledQuantizationEqualsConvPlusBatchNormInTrainingAndInference() {
        MultiLayerNetwork twin = dl4j(DataType.FLOAT);
        MultiLayerNetwork f = fused(twin, QuantSettings.disabled(), false, DataType.FLOAT);
        INDArray x = Nd4j.randn(DataType.FLOAT, 5, 2, 7, 7);
        INDArray y = Nets.oneHot(5, 3, 2);
        assertClose(twin.output(x), f.output(x), 1e-5, "inference (running statistics)");
        assertClose(twin.feedForward(x, true).get(4), f.feedForward(x, true).get(4), 1e-5, "training (batch statistics)");
        Pair<Gradient, INDArray> gt = twin.calculateGradients(x, y, null, null);
        Pair<Gradient, INDArray> gf = f.calculateGradients(x, y, null, null);
        assertClose(gt.getSecond(), gf.getSecond(), 1e-5, "input gradient");
        assertClose(gt.getFirst().getGradientFor("0_W"), gf.getFirst().getGradientFor("0_W"), 1e-4, "W gradient");
        assertClose(gt.getFirst().getGradientFor("1_gamma"), gf.getFirst().getGradientFor("0_gamma"), 1e-4, "gamma gradient");
        assertClose(gt.getFirst().getGradientFor("1_beta"), gf.getFirst().getGradientFor("0_beta"), 1e-4, "beta gradient");
        assertClose(gt.getFirst().getGradientFor("3_W"), gf.getFirst().getGradientFor("3_W"), 1e-5, "output W gradient");
    }

    @Test
    void frozenStatisticsComputeTheFoldedConvolutionAndRunningStatisticsFollowTheBatches() {
        MultiLayerNetwork twin = dl4j(DataType.DOUBLE);
        QuantSettings w4 = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.NONE, 8);
        MultiLayerNetwork f = fused(twin, w4, true, DataType.DOUBLE);
        QuantizedConvBatchNormImpl layer = (QuantizedConvBatchNormImpl) f.getLayer(0);
        io.qat4j.layers.impl.WeightQuantization.initialize(w4, layer.foldedWeights(), 0, layer.paramTable());
        INDArray x = Nd4j.randn(DataType.DOUBLE, 3, 2, 7, 7);
        // reference: DL4J convolution with the reference-quantized folded weights and the folded bias
        MultiLayerNetwork plain = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).stride(2, 2).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(out()).setInputType(InputType.convolutional(7, 7, 2)).build());
        plain.init();
        INDArray folded = layer.foldedWeights();
        plain.getLayer(0).setParam("W", Nd4j.createFromArray(QuantizedForwardReferenceTest.referenceWeights(w4, folded, 0, layer.paramTable()))
                .reshape('c', folded.shape()));
        plain.getLayer(0).setParam("b", layer.foldedBias());
        for (boolean training : new boolean[] {false, true}) {
            assertClose(plain.feedForwardToLayer(0, x, false).get(1), f.feedForwardToLayer(0, x, training).get(1), 1e-9,
                    "frozen forward, training=" + training);
        }
        // live statistics: a training pass moves the running mean toward the batch mean (decay 0.8)
        ((QuantizedConvBatchNormLayer) f.getLayer(0).conf().getLayer()).setFreezeBatchNorm(false);
        INDArray before = layer.getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY).dup();
        f.feedForward(x, true);
        assertTrue(Nets.maxAbsDiff(before, layer.getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY)) > 1e-6);
        INDArray afterTraining = layer.getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY).dup();
        f.output(x);
        assertEquals(afterTraining, layer.getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY), "inference leaves statistics alone");
    }

    @Test
    void gradientChecksPassWithLiveAndFrozenStatistics() {
        DataType floatType = Nd4j.defaultFloatingPointType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        try {
            for (boolean frozen : new boolean[] {false, true}) {
                MultiLayerNetwork f = fused(dl4j(DataType.DOUBLE), QuantSettings.disabled(), frozen, DataType.DOUBLE);
                INDArray x = Nd4j.randn(DataType.DOUBLE, 4, 2, 7, 7);
                INDArray y = Nets.oneHot(4, 3, 7).castTo(DataType.DOUBLE);
                assertTrue(GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(f).input(x).labels(y)
                        .epsilon(1e-6).maxRelError(1e-3).minAbsoluteError(1e-8)
                        .excludeParams(java.util.Set.of("0_mean", "0_var"))), "frozen=" + frozen);
            }
        } finally {
            Nd4j.setDefaultDataTypes(floatType, floatType);
        }
    }
}
