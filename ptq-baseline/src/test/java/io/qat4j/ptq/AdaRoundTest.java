package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link AdaRound} against plain references: the objective's gradient against central finite
 * differences, im2col against DL4J's own convolution, and the learned rounding against nearest
 * rounding on a small layer with correlated inputs (the case where rounding each weight to nearest
 * is not the best joint choice, paper sec. 3).
 */
class AdaRoundTest {

    /** Correlated inputs: {@code x = relu(z A)} with z Gaussian, so that rounding errors of different weights interact. */
    private static double[] correlatedInputs(int rows, int k, Random rnd) {
        double[] a = new double[4 * k];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextGaussian();
        }
        double[] x = new double[rows * k];
        for (int r = 0; r < rows; r++) {
            double[] z = {rnd.nextGaussian(), rnd.nextGaussian(), rnd.nextGaussian(), rnd.nextGaussian()};
            for (int j = 0; j < k; j++) {
                double v = 0.1 * rnd.nextGaussian();
                for (int t = 0; t < 4; t++) {
                    v += z[t] * a[t * k + j];
                }
                x[r * k + j] = Math.max(0, v);
            }
        }
        return x;
    }

    private static double[] matmul(double[] x, int rows, int k, double[] w, int out, double[] bias, boolean relu) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < out; c++) {
                double acc = bias == null ? 0 : bias[c];
                for (int j = 0; j < k; j++) {
                    acc += x[r * k + j] * w[j * out + c];
                }
                y[r * out + c] = relu ? Math.max(0, acc) : acc;
            }
        }
        return y;
    }

    private static double[] minMaxScales(double[] w, int out, int qmax) {
        double[] s = new double[out];
        for (int i = 0; i < w.length; i++) {
            s[i % out] = Math.max(s[i % out], Math.abs(w[i]) / qmax);
        }
        return s;
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        Random rnd = new Random(3);
        int k = 7;
        int out = 3;
        int rows = 40;
        double[] w = new double[k * out];
        for (int i = 0; i < w.length; i++) {
            w[i] = rnd.nextGaussian() * 0.5;
        }
        double[] bias = {0.1, -0.2, 0.05};
        int qmax = 3;
        double[] scales = minMaxScales(w, out, qmax);
        scales[1] *= 0.8;   // column 1 clips its largest weight: its gradient must be zero
        double[] xs = correlatedInputs(rows, k, rnd);
        INDArray x = Nd4j.create(xs, new long[] {rows, k}, 'c');
        for (boolean relu : new boolean[] {false, true}) {
            INDArray y = Nd4j.create(matmul(xs, rows, k, w, out, bias, relu), new long[] {rows, out}, 'c');
            AdaRound.Objective f = new AdaRound.Objective(w, out, scales, qmax, bias, relu);
            double[] v = new double[w.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = rnd.nextDouble() * 3 - 1.5;    // inside the unclamped part of h
            }
            for (double lambda : new double[] {0, 0.05}) {
                double[] grad = new double[v.length];
                f.evaluate(v, x, y, lambda, 4, grad);
                double worst = 0;
                for (int i = 0; i < v.length; i++) {
                    double e = 1e-6;
                    double[] vp = v.clone();
                    double[] vm = v.clone();
                    vp[i] += e;
                    vm[i] -= e;
                    double[] scratch = new double[v.length];
                    double fd = (f.evaluate(vp, x, y, lambda, 4, scratch) - f.evaluate(vm, x, y, lambda, 4, scratch)) / (2 * e);
                    worst = Math.max(worst, Math.abs(fd - grad[i]) / Math.max(1e-3, Math.abs(fd)));
                }
                assertTrue(worst < 1e-4, "relu " + relu + ", lambda " + lambda + ": gradient vs finite differences, worst relative error "
                        + worst);
            }
        }
    }

    @Test
    void learnedRoundingBeatsNearestAndStaysBetweenFloorAndCeiling() {
        Random rnd = new Random(11);
        int k = 48;
        int out = 8;
        int rows = 2000;
        int qmax = 3;    // 3-bit weights
        double[] w = new double[k * out];
        for (int i = 0; i < w.length; i++) {
            w[i] = rnd.nextGaussian() * 0.2;
        }
        double[] bias = new double[out];
        double[] scales = minMaxScales(w, out, qmax);
        double[] all = correlatedInputs(rows + 1000, k, rnd);    // one input distribution: learn on the first rows, measure on the rest
        double[] train = java.util.Arrays.copyOfRange(all, 0, rows * k);
        double[] held = java.util.Arrays.copyOfRange(all, rows * k, all.length);
        for (boolean relu : new boolean[] {false, true}) {
            INDArray x = Nd4j.create(train, new long[] {rows, k}, 'c');
            INDArray y = Nd4j.create(matmul(train, rows, k, w, out, bias, relu), new long[] {rows, out}, 'c');
            AdaRound.Rounded r = AdaRound.learn(w, out, scales, qmax, x, y, bias, relu,
                    new AdaRound.Settings(600, 0.01, 512, 0.01, 0.2, 256, 0));
            // every code is the floor or the ceiling of W/s (clamped): AdaRound only chooses the direction
            for (int i = 0; i < w.length; i++) {
                double q = w[i] / scales[i % out];
                int lo = (int) Math.max(-qmax, Math.floor(q));
                int hi = (int) Math.min(qmax, Math.ceil(q));
                assertTrue(r.codes()[i] == lo || r.codes()[i] == hi, "weight " + i + ": code " + r.codes()[i] + " for W/s " + q);
            }
            // on held-out rows, in plain double math
            double[] nearest = new double[w.length];
            double[] learned = new double[w.length];
            for (int i = 0; i < w.length; i++) {
                double s = scales[i % out];
                nearest[i] = s * Math.max(-qmax, Math.min(qmax, Math.rint(w[i] / s)));
                learned[i] = s * r.codes()[i];
            }
            double[] ref = matmul(held, 1000, k, w, out, bias, relu);
            double eNearest = mse(matmul(held, 1000, k, nearest, out, bias, relu), ref);
            double eLearned = mse(matmul(held, 1000, k, learned, out, bias, relu), ref);
            System.out.printf("AdaRound 3-bit [%d, %d]%s: output MSE nearest %.5f, learned %.5f on held-out rows (training rows %.5f -> %.5f); "
                    + "%.1f%% of codes changed%n", k, out, relu ? " + ReLU" : "", eNearest, eLearned, r.nearestError(), r.learnedError(),
                    100 * r.changed());
            assertTrue(eLearned < 0.5 * eNearest, "learned rounding should cut the output error: " + eLearned + " vs nearest " + eNearest);
            assertTrue(r.changed() > 0 && r.changed() < 0.5, "some, not most, codes change: " + r.changed());
        }
    }

    private static double mse(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return s / a.length;
    }

    @Test
    void im2colTimesTheWeightIsDl4jsConvolution() {
        for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
            for (int stride : new int[] {1, 2}) {
                ConvolutionLayer.Builder b = new ConvolutionLayer.Builder(3, 3).stride(stride, stride).dilation(1, stride).convolutionMode(mode)
                        .nOut(5).activation(Activation.IDENTITY).hasBias(false);
                ConvolutionLayer conf = mode == ConvolutionMode.Truncate ? b.padding(1, 0).build() : b.build();
                MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(7).dataType(DataType.DOUBLE).list()
                        .layer(conf).setInputType(InputType.convolutional(9, 8, 3)).build());
                net.init();
                INDArray in = Nd4j.rand(DataType.DOUBLE, 4, 3, 9, 8);
                INDArray expected = net.output(in);
                int oh = (int) expected.size(2);
                int ow = (int) expected.size(3);
                ConvolutionLayer used = (ConvolutionLayer) net.getLayer(0).conf().getLayer();
                INDArray cols = AdaRound.im2col(in, used, oh, ow).castTo(DataType.DOUBLE);
                INDArray w = net.getLayer(0).getParam("W");   // [O, C, kh, kw]
                INDArray got = cols.mmul(w.reshape('c', 5, 27).transpose());   // [N oh ow, O]
                INDArray gotNchw = got.reshape('c', 4, oh, ow, 5).permute(0, 3, 1, 2);
                double diff = gotNchw.sub(expected).amaxNumber().doubleValue();
                assertTrue(diff < 1e-6, mode + " stride " + stride + ": max |im2col W - conv| " + diff);
            }
        }
    }

    @Test
    void settingsNameTheFieldAndTheFix() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AdaRound.Settings(0, 0.01, 4096, 0.01, 0.2, 256, 0));
        assertTrue(e.getMessage().contains("iterations"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AdaRound.Settings(100, 0.01, 4096, 0.01, 1.0, 256, 0));
        assertTrue(e.getMessage().contains("warmup"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AdaRound.learn(new double[6], 4, new double[] {1}, 3,
                Nd4j.zeros(2, 1), Nd4j.zeros(2, 4), null, false, AdaRound.Settings.defaults()));
        assertTrue(e.getMessage().contains("[K, 4]"), e.getMessage());
        assertEquals(0.5, AdaRound.h(0), 1e-12, "h(0) = 0.5: the rounding threshold is V = 0");
    }
}
