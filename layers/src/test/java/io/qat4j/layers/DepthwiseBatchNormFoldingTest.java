package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;

/**
 * {@link BatchNormFolding#foldDepthwise} checked against DL4J itself: BN(depthwise(x)) and
 * BN(separable(x)) in inference mode equal the same DL4J convolution holding the folded weights and
 * bias, for both ways DL4J stores the variance, with and without a convolution bias, and with locked
 * gamma/beta.
 */
class DepthwiseBatchNormFoldingTest {

    private static void randomizeBn(org.deeplearning4j.nn.api.Layer bn, boolean logStd, boolean locked, long seed) {
        Nd4j.getRandom().setSeed(seed);
        long c = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).length();
        if (!locked) {
            bn.setParam(BatchNormalizationParamInitializer.GAMMA, Nd4j.rand(DataType.FLOAT, 1, c).addi(0.5));
            bn.setParam(BatchNormalizationParamInitializer.BETA, Nd4j.randn(DataType.FLOAT, 1, c));
        }
        bn.setParam(BatchNormalizationParamInitializer.GLOBAL_MEAN, Nd4j.randn(DataType.FLOAT, 1, c));
        if (logStd) {
            bn.setParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD, Nd4j.rand(DataType.FLOAT, 1, c).subi(0.5));
        } else {
            bn.setParam(BatchNormalizationParamInitializer.GLOBAL_VAR, Nd4j.rand(DataType.FLOAT, 1, c).addi(0.1));
        }
    }

    private static ConvolutionLayer conv(boolean separable, boolean bias) {
        return separable
                ? new SeparableConvolution2D.Builder(3, 3).nOut(5).depthMultiplier(2).stride(2, 2).padding(1, 1).hasBias(bias)
                        .activation(Activation.IDENTITY).build()
                : new DepthwiseConvolution2D.Builder(3, 3).depthMultiplier(2).stride(2, 2).padding(1, 1).hasBias(bias)
                        .activation(Activation.IDENTITY).build();
    }

    private static MultiLayerNetwork net(ConvolutionLayer conv, BatchNormalization bn) {
        NeuralNetConfiguration.ListBuilder b = new NeuralNetConfiguration.Builder().seed(1).list().layer(conv);
        if (bn != null) {
            b.layer(bn);
        }
        MultiLayerConfiguration conf = b.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                .activation(Activation.SOFTMAX).build()).setInputType(InputType.convolutional(9, 9, 3)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    @ParameterizedTest
    @CsvSource({"false,true,true,false", "false,false,false,false", "true,true,false,false", "true,false,true,false",
        "false,true,false,true"})
    void foldedDepthwiseAndSeparableReproduceConvolutionPlusBatchNorm(boolean separable, boolean logStd, boolean bias, boolean locked) {
        BatchNormalization.Builder bnb = new BatchNormalization.Builder().useLogStd(logStd).eps(1e-3);
        if (locked) {
            bnb.lockGammaBeta(true).gamma(1.5).beta(-0.25);
        }
        MultiLayerNetwork net = net(conv(separable, bias), bnb.build());
        Nd4j.getRandom().setSeed(2);
        if (bias) {
            net.getLayer(0).setParam("b", Nd4j.randn(DataType.FLOAT, net.getLayer(0).getParam("b").shape()));
        }
        randomizeBn(net.getLayer(1), logStd, locked, 3);
        assertTrue(BatchNormFolding.foldsIntoDepthwise(net.getLayerWiseConfigurations().getConf(0).getLayer(),
                net.getLayerWiseConfigurations().getConf(1).getLayer(), null));
        BatchNormFolding.Folded folded = BatchNormFolding.foldDepthwise(net.getLayer(0), net.getLayer(1));
        String key = BatchNormFolding.foldedWeightKey(net.getLayerWiseConfigurations().getConf(0).getLayer());
        assertEquals(separable ? "pW" : "W", key);

        MultiLayerNetwork twin = net(conv(separable, true), null);
        for (String k : net.getLayer(0).paramTable().keySet()) {
            twin.getLayer(0).setParam(k, net.getLayer(0).getParam(k).dup());
        }
        twin.getLayer(0).setParam(key, folded.weight());
        twin.getLayer(0).setParam("b", folded.bias().reshape(twin.getLayer(0).getParam("b").shape()));

        INDArray x = Nd4j.randn(DataType.FLOAT, 4, 3, 9, 9);
        INDArray expected = net.feedForwardToLayer(1, x, false).get(2);
        INDArray got = twin.feedForwardToLayer(0, x, false).get(1);
        double scale = Math.max(1, expected.amaxNumber().doubleValue());
        double diff = Nets.maxAbsDiff(expected, got);
        assertTrue(diff <= 1e-5 * scale, "max diff " + diff);
    }

    @Test
    void onlyAStockIdentityDepthwiseOrSeparableConvolutionDirectlyBeforeABatchNormFolds() {
        BatchNormalization bn = new BatchNormalization.Builder().build();
        DepthwiseConvolution2D dw = (DepthwiseConvolution2D) conv(false, true);
        assertTrue(BatchNormFolding.foldsIntoDepthwise(dw, bn, null));
        assertTrue(BatchNormFolding.foldsIntoDepthwise(conv(true, false), bn, null));
        assertFalse(BatchNormFolding.foldsIntoDepthwise(new DepthwiseConvolution2D.Builder(3, 3).activation(Activation.RELU).build(), bn,
                null), "an activation between them does not commute with the batch norm");
        assertFalse(BatchNormFolding.foldsIntoDepthwise(dw, bn, new CnnToFeedForwardPreProcessor(4, 4, 6)), "a preprocessor between");
        assertFalse(BatchNormFolding.foldsIntoDepthwise(QuantizedDepthwiseConvolutionLayer.of(dw, new QuantSettings()), bn, null),
                "an already quantized layer is left as configured");
        assertFalse(BatchNormFolding.foldsIntoDepthwise(dw, new OutputLayer.Builder().nOut(2).build(), null));
        assertFalse(BatchNormFolding.folds(dw, bn, null), "the conv/dense rule (PTQ's) is unchanged");
    }
}
