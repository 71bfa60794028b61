package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/** The reference CNN's options: the default is the network as it always was; widths, blocks and dropout as configured. */
class ReferenceCnnTest {

    private static List<String> names(MultiLayerNetwork net) {
        return Arrays.stream(net.getLayers()).map(l -> l.conf().getLayer().getLayerName()).toList();
    }

    /** Conv3x3 blocks (weights, bias, BN gamma/beta/mean/var), then dense and output, for a square image after the pools. */
    private static long expectedParams(int inChannels, int side, List<Integer> channels, int dense, int classes) {
        long n = 0;
        int in = inChannels;
        for (int c : channels) {
            n += (long) in * c * 9 + c + 4L * c;
            in = c;
            side /= 2;
        }
        return n + (long) side * side * in * dense + dense + (long) dense * classes + classes;
    }

    @Test
    void theDefaultIsTheReferenceCnnAsBefore() {
        MultiLayerNetwork old = ReferenceCnn.build(1, new Adam(1e-3), 1e-4, 1, 28, 28, 10);
        MultiLayerNetwork viaOptions = ReferenceCnn.build(1, new Adam(1e-3), 1e-4, 1, 28, 28, 10, ReferenceCnn.Options.DEFAULT);
        assertEquals(old.getLayerWiseConfigurations().toJson(), viaOptions.getLayerWiseConfigurations().toJson());
        assertEquals(old.params(), viaOptions.params());
        assertEquals(List.of("conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "fc1", "out"), names(old));
        // 828,456 parameter bytes, as results/fashion-mnist/report.md gives for the FP32 reference
        assertEquals(207_114, old.numParams());
        assertEquals(expectedParams(1, 28, List.of(16, 32), 128, 10), old.numParams());
        for (NeuralNetConfiguration c : old.getLayerWiseConfigurations().getConfs()) {
            assertNull(c.getLayer().getIDropout(), "no dropout by default: " + c.getLayer().getLayerName());
        }
        assertEquals(new ReferenceCnn.Options(List.of(16, 32), 128, 0), ReferenceCnn.Options.DEFAULT);
    }

    @Test
    void optionsSetTheBlocksTheDenseWidthAndDropoutOnTheDenseAndOutputInputs() {
        ReferenceCnn.Options o = new ReferenceCnn.Options(List.of(8, 12, 16), 20, 0.25);
        MultiLayerNetwork net = ReferenceCnn.build(2, new Adam(1e-3), 0, 1, 16, 16, 5, o);
        assertEquals(List.of("conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "conv3", "bn3", "relu3", "pool3", "fc1", "out"),
                names(net));
        assertEquals(expectedParams(1, 16, List.of(8, 12, 16), 20, 5), net.numParams());
        assertEquals(16, ((ConvolutionLayer) net.getLayer("conv3").conf().getLayer()).getNOut());
        assertEquals(20, ((DenseLayer) net.getLayer("fc1").conf().getLayer()).getNOut());
        for (NeuralNetConfiguration c : net.getLayerWiseConfigurations().getConfs()) {
            String name = c.getLayer().getLayerName();
            if (name.equals("fc1") || name.equals("out")) {
                assertEquals(0.75, ((Dropout) c.getLayer().getIDropout()).getP(), 0, "DL4J's retain probability 1 - dropout on " + name);
            } else {
                assertNull(c.getLayer().getIDropout(), name);
            }
        }
        assertArrayEqualsShape(new long[] {3, 5}, net.output(Nd4j.rand(DataType.FLOAT, 3, 1, 16, 16)).shape());
    }

    private static void assertArrayEqualsShape(long[] expected, long[] actual) {
        assertEquals(Arrays.toString(expected), Arrays.toString(actual));
    }

    @Test
    void dropoutActsInTrainingOnlyAlsoAfterWrappingForQuantization() {
        ReferenceCnn.Options drop = new ReferenceCnn.Options(List.of(4, 6, 8), 10, 0.3);
        ReferenceCnn.Options none = new ReferenceCnn.Options(List.of(4, 6, 8), 10, 0);
        MultiLayerNetwork withDropout = ReferenceCnn.build(3, new Adam(1e-3), 0, 1, 12, 12, 3, drop);
        MultiLayerNetwork twin = ReferenceCnn.build(3, new Adam(1e-3), 0, 1, 12, 12, 3, none);
        assertEquals(twin.params(), withDropout.params(), "dropout does not change the initialization");
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, 1, 12, 12);
        INDArray y = Nets.oneHot(16, 3, 5);
        for (int i = 0; i < 3; i++) {
            withDropout.fit(x, y);   // moves the weights and the batch-norm statistics
        }
        twin.setParams(withDropout.params().dup());
        assertEquals(twin.output(x, false), withDropout.output(x, false), "inference: the identity");
        assertTrue(Nets.maxAbsDiff(twin.output(x, true), withDropout.output(x, true)) > 1e-4, "training: inputs are dropped");

        QuantizationPlan w8a8 = QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.FIXED, 8, InputQuantMode.FIXED, 8));
        QuantizedModel.Wrapped<MultiLayerNetwork> q = QuantizedModel.wrap(withDropout, w8a8);
        QuantizedModel.Wrapped<MultiLayerNetwork> qTwin = QuantizedModel.wrap(twin, w8a8);
        assertEquals(List.of("conv1", "conv2", "conv3", "fc1", "out"), q.quantized(), q.summary());
        assertTrue(q.keptInFloat().isEmpty(), q.summary());
        QuantizedModel.calibrate(q.network(), x);
        QuantizedModel.calibrate(qTwin.network(), x);
        assertEquals(qTwin.network().params(), q.network().params(), "same observed ranges");
        assertEquals(qTwin.network().output(x, false), q.network().output(x, false), "the wrapped network with dropout: the same at inference");
    }

    @Test
    void badOptionsAreRefusedNamingTheKeyAndTheValue() {
        String none = assertThrows(IllegalArgumentException.class, () -> new ReferenceCnn.Options(List.of(), 128, 0)).getMessage();
        assertTrue(none.contains("ReferenceCnn.channels") && none.contains("[]"), none);
        assertThrows(IllegalArgumentException.class, () -> new ReferenceCnn.Options(List.of(8, 8, 8, 8, 8), 128, 0));
        assertThrows(IllegalArgumentException.class, () -> new ReferenceCnn.Options(null, 128, 0));
        String zero = assertThrows(IllegalArgumentException.class, () -> new ReferenceCnn.Options(List.of(16, 0), 128, 0)).getMessage();
        assertTrue(zero.contains("[16, 0]"), zero);
        String dense = assertThrows(IllegalArgumentException.class, () -> new ReferenceCnn.Options(List.of(16), 0, 0)).getMessage();
        assertTrue(dense.contains("ReferenceCnn.dense") && dense.contains("0"), dense);
        String p = assertThrows(IllegalArgumentException.class, () -> new ReferenceCnn.Options(List.of(16), 8, 1.0)).getMessage();
        assertTrue(p.contains("ReferenceCnn.dropout") && p.contains("[0, 1)") && p.contains("1.0"), p);
        assertThrows(IllegalArgumentException.class, () -> new ReferenceCnn.Options(List.of(16), 8, -0.1));
        // four blocks fit a 28x28 image (28, 14, 7, 3, 1), not an 8x8 one (8, 4, 2, 1, 0)
        ReferenceCnn.Options four = new ReferenceCnn.Options(List.of(2, 2, 2, 2), 4, 0);
        assertEquals(expectedParams(1, 28, List.of(2, 2, 2, 2), 4, 3), ReferenceCnn.build(1, new Adam(1e-3), 0, 1, 28, 28, 3, four).numParams());
        String small = assertThrows(IllegalArgumentException.class, () -> ReferenceCnn.build(1, new Adam(1e-3), 0, 1, 8, 8, 3, four)).getMessage();
        assertTrue(small.contains("8x8") && small.contains("block 4") && small.contains("at most 3 blocks"), small);
    }
}
