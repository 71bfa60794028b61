package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * DL4J dropout on quantized layers: applied to the layer input in training (before the input
 * quantizer), the identity at inference. Checked on a conv -> depthwise -> separable -> dense -> output
 * network with dropout on every layer but the output.
 */
class QuantizedDropoutTest {

    /** Retain probability of DL4J's {@code dropOut(p)}. */
    private static final double RETAIN = 0.7;

    private static MultiLayerNetwork floatNet(boolean dropout) {
        double p = dropout ? RETAIN : 0;   // 0: no dropout (DL4J's convention)
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(9).dataType(DataType.FLOAT).updater(new Adam(1e-3))
                .convolutionMode(ConvolutionMode.Same).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv").nOut(3).dropOut(p).activation(Activation.RELU).build())
                .layer(new DepthwiseConvolution2D.Builder(3, 3).name("dw").depthMultiplier(2).dropOut(p).activation(Activation.RELU).build())
                .layer(new SeparableConvolution2D.Builder(3, 3).name("sep").nOut(4).dropOut(p).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name("fc").nOut(6).dropOut(p).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(6, 6, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static QuantizationPlan w8a8() {
        return QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8));
    }

    @Test
    void quantizedLayersWithDropoutAreWrappedAndAreTheIdentityAtInference() {
        MultiLayerNetwork fpDrop = floatNet(true);
        QuantizedModel.Wrapped<MultiLayerNetwork> wrapped = QuantizedModel.wrap(fpDrop, w8a8());
        assertEquals(java.util.List.of("conv", "dw", "sep", "fc", "out"), wrapped.quantized(), wrapped.summary());
        assertTrue(wrapped.keptInFloat().isEmpty(), wrapped.summary());
        MultiLayerNetwork drop = wrapped.network();
        assertEquals(QuantizedModel.wrap(floatNet(false), w8a8()).network().params().length(), drop.params().length(),
                "dropout adds no parameters");

        Nd4j.getRandom().setSeed(5);
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, 2, 6, 6);
        INDArray y = Nets.oneHot(8, 3, 6);
        for (int i = 0; i < 3; i++) {
            drop.fit(x, y);   // trains with dropout, initializes and moves the quantizers
        }
        // the same trained network without dropout: its configuration (quantizer signedness included) minus the dropout
        MultiLayerConfiguration conf = drop.getLayerWiseConfigurations().clone();
        for (NeuralNetConfiguration c : conf.getConfs()) {
            c.getLayer().setIDropout(null);
        }
        MultiLayerNetwork plain = new MultiLayerNetwork(conf);
        plain.init();
        plain.setParams(drop.params().dup());
        assertEquals(plain.output(x), drop.output(x), "inference ignores dropout: bit-identical to the network without it");
        // in training the dropout network drops inputs (the same parameters give another output)
        INDArray trainingDrop = drop.feedForward(x, true).get(5);
        INDArray trainingPlain = plain.feedForward(x, true).get(5);
        assertTrue(Nets.maxAbsDiff(trainingDrop, trainingPlain) > 1e-3, "dropout is applied in training");
    }

    @Test
    void withQuantizationDisabledDropoutMatchesTheDl4jTwinMaskForMask() {
        MultiLayerNetwork fp = floatNet(true);
        MultiLayerNetwork q = QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.disabled())).network();
        Nd4j.getRandom().setSeed(5);
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, 2, 6, 6);
        INDArray y = Nets.oneHot(8, 3, 6);
        // the same random stream gives the same dropout masks in both networks: same input and parameter gradients
        Nd4j.getRandom().setSeed(77);
        Pair<Gradient, INDArray> gf = fp.calculateGradients(x, y, null, null);
        Nd4j.getRandom().setSeed(77);
        Pair<Gradient, INDArray> gq = q.calculateGradients(x, y, null, null);
        assertTrue(Nets.maxAbsDiff(gf.getSecond(), gq.getSecond()) < 1e-5, "input gradient");
        for (Map.Entry<String, INDArray> e : gf.getFirst().gradientForVariable().entrySet()) {
            INDArray other = gq.getFirst().gradientForVariable().get(e.getKey());
            assertNotNull(other, e.getKey());
            assertTrue(Nets.maxAbsDiff(e.getValue(), other) < 1e-5, "gradient " + e.getKey() + ": " + Nets.maxAbsDiff(e.getValue(), other));
        }
        // and another seed gives other masks: the comparison above is not trivially true
        Nd4j.getRandom().setSeed(78);
        Pair<Gradient, INDArray> other = q.calculateGradients(x, y, null, null);
        assertTrue(Nets.maxAbsDiff(gq.getSecond(), other.getSecond()) > 1e-6, "another dropout mask changes the input gradient");
    }
}
