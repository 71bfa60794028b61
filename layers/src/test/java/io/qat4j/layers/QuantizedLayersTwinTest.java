package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
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

/**
 * With quantization switched off, each quantized layer equals its DL4J twin: parameters, output,
 * input gradient and parameter gradients, also after save and restore (STYLE.md habit 8).
 */
class QuantizedLayersTwinTest {

    @TempDir
    Path dir;

    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of(new Nets.ConvVariant(1, 1, 1, ConvolutionMode.Truncate, true)),
                Arguments.of(new Nets.ConvVariant(2, 0, 1, ConvolutionMode.Truncate, true)),
                Arguments.of(new Nets.ConvVariant(2, 1, 1, ConvolutionMode.Truncate, false)),
                Arguments.of(new Nets.ConvVariant(1, 0, 2, ConvolutionMode.Truncate, true)),
                Arguments.of(new Nets.ConvVariant(2, 0, 1, ConvolutionMode.Same, true)));
    }

    private static void assertClose(INDArray expected, INDArray got, double tol, String what) {
        assertTrue(java.util.Arrays.equals(expected.shape(), got.shape()), what + ": shape " + java.util.Arrays.toString(got.shape()));
        double diff = Nets.maxAbsDiff(expected, got);
        assertTrue(diff <= tol, what + ": max |diff| = " + diff);
    }

    @ParameterizedTest
    @MethodSource("variants")
    void disabledQuantizationEqualsTheDl4jTwin(Nets.ConvVariant v) throws IOException {
        MultiLayerNetwork fp = Nets.cnn(null, v, DataType.FLOAT, new Adam(1e-2), Activation.TANH);
        QuantSettings off = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4);
        off.setEnabled(false);
        MultiLayerNetwork q = Nets.cnn(off, v, DataType.FLOAT, new Adam(1e-2), Activation.TANH);
        Nets.copyParams(fp, q);

        Nd4j.getRandom().setSeed(7);
        INDArray x = Nd4j.randn(DataType.FLOAT, 6, 2, 9, 9);
        INDArray y = Nets.oneHot(6, 3, 1);
        assertClose(fp.output(x), q.output(x), 1e-6, v + " output");

        Pair<Gradient, INDArray> gf = fp.calculateGradients(x, y, null, null);
        Pair<Gradient, INDArray> gq = q.calculateGradients(x, y, null, null);
        assertClose(gf.getSecond(), gq.getSecond(), 1e-6, v + " input gradient");
        for (Map.Entry<String, INDArray> e : gf.getFirst().gradientForVariable().entrySet()) {
            INDArray other = gq.getFirst().gradientForVariable().get(e.getKey());
            assertNotNull(other, "missing gradient " + e.getKey());
            assertClose(e.getValue(), other, 1e-5, v + " gradient " + e.getKey());
        }

        // a few training steps keep the twins together (the quantizer parameters stay out of the way)
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
        assertEquals(q.params(), restored.params());
        assertEquals(q.getUpdater().getStateViewArray(), restored.getUpdater().getStateViewArray());
        assertEquals(before, restored.output(x), "bit-identical output after restore");
    }
}
