package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;

/**
 * With quantization switched off, the quantized depthwise and separable convolutions equal DL4J's
 * DepthwiseConvolution2D and SeparableConvolution2D: parameters, output, input gradient and
 * parameter gradients, after a few Adam steps, and after save and restore, in a
 * MultiLayerNetwork and a ComputationGraph (STYLE.md habit 8).
 */
class DepthwiseSeparableTwinTest {

    @TempDir
    Path dir;

    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of(new DepthwiseNets.Variant(1, 1, 1, ConvolutionMode.Truncate, true, 2)),
                Arguments.of(new DepthwiseNets.Variant(2, 0, 1, ConvolutionMode.Truncate, true, 1)),
                Arguments.of(new DepthwiseNets.Variant(2, 1, 1, ConvolutionMode.Truncate, false, 3)),
                Arguments.of(new DepthwiseNets.Variant(1, 0, 2, ConvolutionMode.Truncate, true, 2)),
                Arguments.of(new DepthwiseNets.Variant(2, 0, 1, ConvolutionMode.Same, true, 2)));
    }

    private static QuantSettings off() {
        QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4);
        s.setEnabled(false);
        return s;
    }

    private static void assertClose(INDArray expected, INDArray got, double tol, String what) {
        assertTrue(java.util.Arrays.equals(expected.shape(), got.shape()), what + ": shape " + java.util.Arrays.toString(got.shape()));
        double diff = Nets.maxAbsDiff(expected, got);
        assertTrue(diff <= tol, what + ": max |diff| = " + diff);
    }

    private static void assertGradientsEqual(Gradient expected, Gradient got, double tol, String what) {
        for (Map.Entry<String, INDArray> e : expected.gradientForVariable().entrySet()) {
            INDArray other = got.gradientForVariable().get(e.getKey());
            assertNotNull(other, what + ": missing gradient " + e.getKey());
            assertClose(e.getValue(), other, tol, what + " gradient " + e.getKey());
        }
    }

    @ParameterizedTest
    @MethodSource("variants")
    void disabledQuantizationEqualsTheDl4jTwinInAMultiLayerNetwork(DepthwiseNets.Variant v) throws IOException {
        MultiLayerNetwork fp = DepthwiseNets.mln(i -> null, v, DataType.FLOAT, new Adam(1e-2), Activation.TANH);
        MultiLayerNetwork q = DepthwiseNets.mln(i -> off(), v, DataType.FLOAT, new Adam(1e-2), Activation.TANH);
        assertTrue(q.getLayer(0).conf().getLayer() instanceof QuantizedDepthwiseConvolutionLayer);
        assertTrue(q.getLayer(1).conf().getLayer() instanceof QuantizedSeparableConvolutionLayer);
        for (int i = 0; i < fp.getnLayers(); i++) {
            for (Map.Entry<String, INDArray> e : fp.getLayer(i).paramTable().entrySet()) {
                assertTrue(java.util.Arrays.equals(e.getValue().shape(), q.getLayer(i).getParam(e.getKey()).shape()),
                        v + " param " + i + "_" + e.getKey() + " shape");
            }
        }
        Nets.copyParams(fp, q);

        Nd4j.getRandom().setSeed(7);
        INDArray x = Nd4j.randn(DataType.FLOAT, 6, DepthwiseNets.CHANNELS, DepthwiseNets.SIZE, DepthwiseNets.SIZE);
        INDArray y = Nets.oneHot(6, 3, 1);
        assertClose(fp.output(x), q.output(x), 1e-6, v + " output");
        assertClose(fp.feedForward(x, false).get(2), q.feedForward(x, false).get(2), 1e-5, v + " separable activations");

        Pair<Gradient, INDArray> gf = fp.calculateGradients(x, y, null, null);
        Pair<Gradient, INDArray> gq = q.calculateGradients(x, y, null, null);
        assertClose(gf.getSecond(), gq.getSecond(), 1e-6, v + " input gradient");
        assertGradientsEqual(gf.getFirst(), gq.getFirst(), 1e-5, v.toString());

        for (int i = 0; i < 3; i++) {
            fp.fit(x, y);
            q.fit(x, y);
        }
        for (int i = 0; i < fp.getnLayers(); i++) {
            for (Map.Entry<String, INDArray> e : fp.getLayer(i).paramTable().entrySet()) {
                assertClose(e.getValue(), q.getLayer(i).getParam(e.getKey()), 1e-4, v + " param " + i + "_" + e.getKey() + " after fit");
            }
        }
        INDArray before = q.output(x);

        File file = dir.resolve("q.zip").toFile();
        ModelSerializer.writeModel(q, file, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(file, true);
        assertEquals(q.getLayerWiseConfigurations(), restored.getLayerWiseConfigurations());
        assertEquals(MultiLayerConfiguration.fromJson(q.getLayerWiseConfigurations().toJson()), q.getLayerWiseConfigurations());
        assertEquals(q.params(), restored.params());
        assertEquals(q.getUpdater().getStateViewArray(), restored.getUpdater().getStateViewArray());
        assertEquals(before, restored.output(x), "bit-identical output after restore");
        // the restored network keeps training like the original
        q.fit(x, y);
        restored.fit(x, y);
        assertEquals(q.params(), restored.params(), "same parameters after one more step");
    }

    @Test
    void disabledQuantizationEqualsTheDl4jTwinInAComputationGraph() throws IOException {
        DepthwiseNets.Variant v = new DepthwiseNets.Variant(1, 1, 1, ConvolutionMode.Truncate, true, 2);
        ComputationGraph fp = DepthwiseNets.graph(null, v, DataType.FLOAT, new Adam(1e-2), Activation.RELU);
        ComputationGraph q = DepthwiseNets.graph(off(), v, DataType.FLOAT, new Adam(1e-2), Activation.RELU);
        for (org.deeplearning4j.nn.api.Layer l : fp.getLayers()) {
            String name = l.conf().getLayer().getLayerName();
            for (Map.Entry<String, INDArray> e : l.paramTable().entrySet()) {
                q.getLayer(name).setParam(e.getKey(), e.getValue().dup());
            }
        }
        Nd4j.getRandom().setSeed(8);
        INDArray x = Nd4j.randn(DataType.FLOAT, 5, DepthwiseNets.CHANNELS, DepthwiseNets.SIZE, DepthwiseNets.SIZE);
        INDArray y = Nets.oneHot(5, 3, 4);
        assertClose(fp.outputSingle(x), q.outputSingle(x), 1e-6, "graph output");
        Map<String, INDArray> gradFp = gradients(fp, x, y);
        Map<String, INDArray> gradQ = gradients(q, x, y);
        for (Map.Entry<String, INDArray> e : gradFp.entrySet()) {
            assertNotNull(gradQ.get(e.getKey()), "missing gradient " + e.getKey());
            assertClose(e.getValue(), gradQ.get(e.getKey()), 1e-5, "graph gradient " + e.getKey());
        }
        for (int i = 0; i < 3; i++) {
            fp.fit(new INDArray[] {x}, new INDArray[] {y});
            q.fit(new INDArray[] {x}, new INDArray[] {y});
        }
        assertClose(fp.outputSingle(x), q.outputSingle(x), 1e-5, "graph output after fit");
        File file = dir.resolve("g.zip").toFile();
        ModelSerializer.writeModel(q, file, true);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(file, true);
        assertEquals(q.getConfiguration(), restored.getConfiguration());
        assertEquals(ComputationGraphConfiguration.fromJson(q.getConfiguration().toJson()), q.getConfiguration());
        assertEquals(q.params(), restored.params());
        assertEquals(q.outputSingle(x), restored.outputSingle(x), "bit-identical graph output after restore");
    }

    private static Map<String, INDArray> gradients(ComputationGraph g, INDArray x, INDArray y) {
        g.setInputs(x);
        g.setLabels(y);
        g.computeGradientAndScore();
        Map<String, INDArray> out = new java.util.LinkedHashMap<>();
        g.gradient().gradientForVariable().forEach((k, a) -> out.put(k, a.dup()));
        return out;
    }
}
