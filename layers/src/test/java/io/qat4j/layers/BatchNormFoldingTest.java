package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Folding is checked against DL4J itself: BN(conv(x)) in inference mode vs conv'(x) with folded parameters. */
class BatchNormFoldingTest {

    private static void randomizeBn(MultiLayerNetwork net, int layer, boolean logStd, long seed) {
        Nd4j.getRandom().setSeed(seed);
        org.deeplearning4j.nn.api.Layer bn = net.getLayer(layer);
        long c = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).length();
        bn.setParam(BatchNormalizationParamInitializer.GAMMA, Nd4j.rand(DataType.FLOAT, 1, c).addi(0.5));
        bn.setParam(BatchNormalizationParamInitializer.BETA, Nd4j.randn(DataType.FLOAT, 1, c));
        bn.setParam(BatchNormalizationParamInitializer.GLOBAL_MEAN, Nd4j.randn(DataType.FLOAT, 1, c));
        if (logStd) {
            bn.setParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD, Nd4j.rand(DataType.FLOAT, 1, c).subi(0.5));
        } else {
            bn.setParam(BatchNormalizationParamInitializer.GLOBAL_VAR, Nd4j.rand(DataType.FLOAT, 1, c).addi(0.1));
        }
    }

    private static double maxAbsDiff(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void foldedConvolutionReproducesConvPlusBatchNorm(boolean logStd) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(5).stride(2, 2).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().useLogStd(logStd).eps(1e-3).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(9, 9, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        randomizeBn(net, 1, logStd, 3);
        BatchNormFolding.Folded folded = BatchNormFolding.fold(net.getLayer(0), net.getLayer(1));

        MultiLayerConfiguration convOnly = new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(5).stride(2, 2).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(9, 9, 2)).build();
        MultiLayerNetwork twin = new MultiLayerNetwork(convOnly);
        twin.init();
        twin.getLayer(0).setParam("W", folded.weight());
        twin.getLayer(0).setParam("b", folded.bias());

        INDArray x = Nd4j.randn(DataType.FLOAT, 4, 2, 9, 9);
        INDArray expected = net.feedForwardToLayer(1, x, false).get(2);
        INDArray got = twin.feedForwardToLayer(0, x, false).get(1);
        double scale = expected.amaxNumber().doubleValue();
        assertTrue(maxAbsDiff(expected, got) <= 1e-5 * Math.max(1, scale), "max diff " + maxAbsDiff(expected, got));
    }

    @Test
    void foldedDenseReproducesDensePlusBatchNorm() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(2).list()
                .layer(new DenseLayer.Builder().nOut(6).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().useLogStd(false).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(7)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        randomizeBn(net, 1, false, 4);
        BatchNormFolding.Folded folded = BatchNormFolding.fold(net.getLayer(0), net.getLayer(1));
        INDArray x = Nd4j.randn(DataType.FLOAT, 5, 7);
        INDArray expected = net.feedForwardToLayer(1, x, false).get(2);
        INDArray got = x.mmul(folded.weight()).addRowVector(folded.bias());
        assertTrue(maxAbsDiff(expected, got) <= 1e-5 * Math.max(1, expected.amaxNumber().doubleValue()));
        assertEquals(6, folded.bias().length());
    }

    @Test
    void foldingIntoALayerWithoutWeightsOrAMismatchedBnIsAnError() {
        INDArray w = Nd4j.ones(DataType.FLOAT, 4, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BatchNormFolding.fold(w, null, 1,
                Nd4j.ones(4), Nd4j.ones(4), Nd4j.ones(4), Nd4j.ones(4)));
        assertTrue(e.getMessage().contains("3 output channels"), e.getMessage());
    }

    @Test
    void foldingRuleAcceptsOnlyPlainIdentityConvOrDenseDirectlyBeforeABatchNorm() {
        BatchNormalization bn = new BatchNormalization.Builder().build();
        ConvolutionLayer conv = new ConvolutionLayer.Builder(3, 3).nOut(2).activation(Activation.IDENTITY).build();
        DenseLayer dense = new DenseLayer.Builder().nOut(2).activation(Activation.IDENTITY).build();
        assertTrue(BatchNormFolding.folds(conv, bn, null));
        assertTrue(BatchNormFolding.folds(dense, bn, null));
        assertFalse(BatchNormFolding.folds(new ConvolutionLayer.Builder(3, 3).nOut(2).activation(Activation.RELU).build(), bn, null));
        assertFalse(BatchNormFolding.folds(new OutputLayer.Builder().nOut(2).activation(Activation.IDENTITY).build(), bn, null));
        assertFalse(BatchNormFolding.folds(conv, dense, null));
        assertFalse(BatchNormFolding.folds(conv, bn, new org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor(4, 4, 2)));
    }
}
