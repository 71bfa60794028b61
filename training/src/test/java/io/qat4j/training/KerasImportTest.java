package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Path;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The Keras 2 fixtures in src/test/resources/keras (written by make_fixtures.py there, without Keras)
 * go through {@link ModelLoader} into DL4J networks whose outputs equal the same weights computed
 * here in plain double math with Keras' semantics (channels_last, cross-correlation, row-major
 * flatten of [H, W, C]).
 */
class KerasImportTest {

    static Path fixture(String name) {
        try {
            return Path.of(KerasImportTest.class.getResource("/keras/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Element i of the fixture's t-th weight tensor, as make_fixtures.py writes it. */
    static double w(int t, int i) {
        return ((7 * i + 3 * t) % 11 - 5) / 8.0;
    }

    /** The test input, channels first: x[c][h][w] = ((5 (c H W + h W + w)) mod 9 - 4) / 4. */
    static double[][][] input(int c, int h, int wd) {
        double[][][] x = new double[c][h][wd];
        for (int k = 0; k < c; k++) {
            for (int i = 0; i < h; i++) {
                for (int j = 0; j < wd; j++) {
                    x[k][i][j] = ((5 * (k * h * wd + i * wd + j)) % 9 - 4) / 4.0;
                }
            }
        }
        return x;
    }

    static INDArray nchw(double[][][] x) {
        int c = x.length;
        int h = x[0].length;
        int wd = x[0][0].length;
        INDArray a = Nd4j.create(DataType.FLOAT, 1, c, h, wd);
        for (int k = 0; k < c; k++) {
            for (int i = 0; i < h; i++) {
                for (int j = 0; j < wd; j++) {
                    a.putScalar(new long[] {0, k, i, j}, x[k][i][j]);
                }
            }
        }
        return a;
    }

    /** Keras Conv2D, 3x3, stride 1, kernel [3, 3, in, out] = weight 0, bias = weight 1; padding 0 (valid) or 1 (same); relu. */
    static double[][][] conv3x3Relu(double[][][] x, int out, int pad) {
        int in = x.length;
        int h = x[0].length;
        int wd = x[0][0].length;
        int oh = h + 2 * pad - 2;
        int ow = wd + 2 * pad - 2;
        double[][][] y = new double[out][oh][ow];
        for (int co = 0; co < out; co++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    double acc = w(1, co);
                    for (int kh = 0; kh < 3; kh++) {
                        for (int kw = 0; kw < 3; kw++) {
                            int r = i + kh - pad;
                            int s = j + kw - pad;
                            if (r < 0 || s < 0 || r >= h || s >= wd) {
                                continue;
                            }
                            for (int ci = 0; ci < in; ci++) {
                                acc += x[ci][r][s] * w(0, ((kh * 3 + kw) * in + ci) * out + co);
                            }
                        }
                    }
                    y[co][i][j] = Math.max(0, acc);
                }
            }
        }
        return y;
    }

    /** Keras Dense with kernel [in, out] = weight 2, bias = weight 3, then softmax. */
    static double[] denseSoftmax(double[] x, int out) {
        double[] z = new double[out];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < out; j++) {
            z[j] = w(3, j);
            for (int i = 0; i < x.length; i++) {
                z[j] += x[i] * w(2, i * out + j);
            }
            max = Math.max(max, z[j]);
        }
        double sum = 0;
        for (int j = 0; j < out; j++) {
            z[j] = Math.exp(z[j] - max);
            sum += z[j];
        }
        for (int j = 0; j < out; j++) {
            z[j] /= sum;
        }
        return z;
    }

    private static INDArray run(LoadedModel m, double[][][] x) {
        DataSet fitted = m.input().fit(new DataSet(nchw(x), Nd4j.zeros(DataType.FLOAT, 1, 3)), "the test input", m.describe());
        return Networks.output(m.network(), fitted.getFeatures());
    }

    @Test
    void sequentialCnnImportsAsAMultiLayerNetworkThatComputesTheKerasFunction() throws Exception {
        Path file = fixture("sequential-cnn.h5");
        assertEquals(ModelLoader.Format.KERAS_SEQUENTIAL, ModelLoader.detect(file));
        LoadedModel m = ModelLoader.load(file);
        assertEquals(Networks.Kind.MULTI_LAYER, m.kind());
        assertEquals(ModelInput.Kind.IMAGE, m.input().kind());
        assertArrayEquals(new long[] {2, 5, 5}, m.input().shape());
        assertEquals(CNN2DFormat.NHWC, m.input().format());
        Networks.checkTrainable(m.network(), "the imported Sequential model");   // its training_config gave it a loss layer

        double[][][] x = input(2, 5, 5);
        double[][][] c = conv3x3Relu(x, 2, 0);
        double[] flat = new double[18];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 2; k++) {
                    flat[(i * 3 + j) * 2 + k] = c[k][i][j];   // Keras Flatten of [H, W, C]
                }
            }
        }
        double[] expected = denseSoftmax(flat, 3);
        INDArray y = run(m, x);
        assertArrayEquals(new long[] {1, 3}, y.shape());
        for (int j = 0; j < 3; j++) {
            assertEquals(expected[j], y.getDouble(0, j), 1e-5, "output " + j);
        }
        assertTrue(Math.abs(expected[0] - expected[1]) > 1e-3 || Math.abs(expected[1] - expected[2]) > 1e-3,
                "the reference outputs differ, so a permuted input or weight would show");
    }

    @Test
    void functionalModelWithAnAddImportsAsAComputationGraphThatComputesTheKerasFunction() throws Exception {
        Path file = fixture("functional-add.h5");
        assertEquals(ModelLoader.Format.KERAS_FUNCTIONAL, ModelLoader.detect(file));
        LoadedModel m = ModelLoader.load(file);
        assertEquals(Networks.Kind.GRAPH, m.kind());
        assertArrayEquals(new long[] {2, 4, 4}, m.input().shape());
        assertEquals(CNN2DFormat.NHWC, m.input().format());

        double[][][] x = input(2, 4, 4);
        double[][][] c = conv3x3Relu(x, 2, 1);
        double[] pooled = new double[2];
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    pooled[k] += (c[k][i][j] + x[k][i][j]) / 16;   // Add, then GlobalAveragePooling2D
                }
            }
        }
        double[] expected = denseSoftmax(pooled, 3);
        INDArray y = run(m, x);
        for (int j = 0; j < 3; j++) {
            assertEquals(expected[j], y.getDouble(0, j), 1e-5, "output " + j);
        }
    }
}
