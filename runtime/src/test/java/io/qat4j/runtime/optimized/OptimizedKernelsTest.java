package io.qat4j.runtime.optimized;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;

/** The optimized kernels give exactly the reference kernels' bytes on random graphs, shapes and zero points. */
class OptimizedKernelsTest {

    private static Int8Graph.Requant requant(SplittableRandom r, int channels, boolean relu, int zp) {
        int[] m = new int[channels];
        int[] s = new int[channels];
        for (int c = 0; c < channels; c++) {
            FixedPoint.QuantizedMultiplier q = FixedPoint.quantizeMultiplier(Math.scalb(0.5 + r.nextDouble() / 2, -r.nextInt(4, 12)));
            m[c] = q.multiplier();
            s[c] = q.shift();
        }
        return new Int8Graph.Requant(m, s, relu ? zp : -128, 127);
    }

    private static byte[] codes(SplittableRandom r, int n, int bits) {
        int hi = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
        byte[] w = new byte[n];
        for (int i = 0; i < n; i++) {
            w[i] = bits == 1 ? (byte) (r.nextBoolean() ? 1 : -1) : (byte) r.nextInt(-hi, hi + 1);
        }
        return w;
    }

    @Test
    void vectorDotProductsAreExactUpToAndBeyondTheFloatBound() {
        assertTrue(OptimizedKernels.vectorAvailable(), "the tests run with --add-modules jdk.incubator.vector (root pom argLine)");
        SplittableRandom r = new SplittableRandom(5);
        for (int k : new int[] {8, 504, 512, 520, 1024, 4096}) {
            // worst case: every product -255 x 127 (input -128 at zero point 127, weight 127), then random extremes
            for (boolean extreme : new boolean[] {true, false}) {
                byte[] w = new byte[4 * k];
                float[] x = new float[k];
                long[] expected = new long[4];
                for (int i = 0; i < k; i++) {
                    x[i] = extreme ? -255 : r.nextInt(-255, 256);
                }
                for (int row = 0; row < 4; row++) {
                    for (int i = 0; i < k; i++) {
                        w[row * k + i] = extreme ? 127 : (byte) r.nextInt(-127, 128);
                        expected[row] += (long) w[row * k + i] * (long) x[i];
                    }
                }
                float[] wf = VectorKernels.floatWeights(w, 4);
                int kp = VectorKernels.padded(k);
                float[] xp = java.util.Arrays.copyOf(x, kp);
                int[] got = new int[4];
                VectorKernels.dot4(wf, 0, kp, xp, 0, kp, got);
                for (int row = 0; row < 4; row++) {
                    assertEquals(expected[row], got[row], "k " + k + " row " + row + (extreme ? " (extreme)" : ""));
                    assertEquals(expected[row], VectorKernels.dot(wf, row * kp, xp, 0, kp), "single dot, k " + k);
                }
            }
        }
    }

    @Test
    void wideConvolutionsMatchTheReferenceOnBothVectorPaths() {
        // 32/40/64 output channels: blocks of four channel vectors and the single-vector remainder; k = 9, 504 (<= 512,
        // channels-across path) and 576 (> 512: four-row dot products reduced in exact chunks); odd position counts
        SplittableRandom r = new SplittableRandom(41);
        int[][] shapes = {{1, 32, 7, 5}, {56, 40, 5, 3}, {64, 64, 3, 5}, {3, 12, 4, 4}};
        for (int[] sh : shapes) {
            int inC = sh[0];
            int outC = sh[1];
            int h = sh[2];
            int w = sh[3];
            List<Int8Graph.Tensor> t = List.of(new Int8Graph.Tensor(new int[] {inC, h, w}, 0.02, 127),
                    new Int8Graph.Tensor(new int[] {outC, h, w}, 0.05, -3));
            byte[] codes = codes(r, outC * inC * 9, 8);
            for (int i = 0; i < codes.length; i += 3) {
                codes[i] = (byte) (r.nextBoolean() ? 127 : -127);
            }
            int[] bias = new int[outC];
            for (int i = 0; i < outC; i++) {
                bias[i] = r.nextInt(-30000, 30000);
            }
            Int8Graph g = new Int8Graph(t, List.of(new Int8Graph.Conv2D(0, 1, outC, inC, new Int8Graph.Window(3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
                    8, codes, bias, requant(r, outC, false, -3))), 0, 1, FixedPoint.Rounding.SINGLE);
            int n = 2;
            byte[] x = new byte[n * inC * h * w];
            for (int i = 0; i < x.length; i++) {
                x[i] = i % 5 == 0 ? Byte.MIN_VALUE : (byte) r.nextInt(-128, 128);   // -128 at zero point 127: x - z = -255
            }
            assertArrayEquals(new Int8Model(g, Int8Model.Kernels.REFERENCE).runQuantized(x, n),
                    new Int8Model(g, Int8Model.Kernels.OPTIMIZED).runQuantized(x, n), "shape " + java.util.Arrays.toString(sh));
        }
    }

    @Test
    void sixteenChannelConvolutionsMatchTheReference() {
        // 16 output channels take the four-positions-per-pass path; geometries with every remainder of positions mod 4,
        // stride 2, asymmetric padding, dilation 2, 1x1 and non-square kernels; both roundings; extreme inputs
        SplittableRandom r = new SplittableRandom(47);
        int[][] geometries = {
            // inC, h, w, kh, kw, stride, padTop, padLeft, padBottom, padRight, dilation
            {1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1}, {1, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1}, {3, 9, 6, 3, 3, 2, 0, 1, 2, 0, 1},
            {2, 5, 7, 1, 1, 1, 0, 0, 0, 0, 1}, {4, 11, 9, 5, 3, 2, 2, 1, 1, 2, 1}, {3, 10, 10, 3, 3, 1, 2, 2, 2, 2, 2},
            {1, 3, 3, 3, 3, 1, 0, 0, 0, 0, 1}};
        for (int[] geo : geometries) {
            for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
                int inC = geo[0];
                int oh = Int8Graph.outputSize(geo[1], geo[3], geo[5], geo[6], geo[8], geo[10]);
                int ow = Int8Graph.outputSize(geo[2], geo[4], geo[5], geo[7], geo[9], geo[10]);
                List<Int8Graph.Tensor> t = List.of(new Int8Graph.Tensor(new int[] {inC, geo[1], geo[2]}, 0.02, 127),
                        new Int8Graph.Tensor(new int[] {16, oh, ow}, 0.05, -7));
                int[] bias = new int[16];
                for (int i = 0; i < 16; i++) {
                    bias[i] = r.nextInt(-30000, 30000);
                }
                Int8Graph g = new Int8Graph(t, List.of(new Int8Graph.Conv2D(0, 1, 16, inC,
                        new Int8Graph.Window(geo[3], geo[4], geo[5], geo[5], geo[6], geo[7], geo[8], geo[9], geo[10], geo[10]),
                        8, codes(r, 16 * inC * geo[3] * geo[4], 8), bias, requant(r, 16, r.nextBoolean(), -7))), 0, 1, rounding);
                for (int n = 1; n <= 3; n++) {
                    byte[] x = new byte[n * inC * geo[1] * geo[2]];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = i % 7 == 0 ? Byte.MIN_VALUE : (byte) r.nextInt(-128, 128);
                    }
                    assertArrayEquals(new Int8Model(g, Int8Model.Kernels.REFERENCE).runQuantized(x, n),
                            new Int8Model(g, Int8Model.Kernels.OPTIMIZED).runQuantized(x, n),
                            java.util.Arrays.toString(geo) + " " + rounding + " batch " + n);
                }
            }
        }
    }

    @Test
    void twoByTwoMaxPoolMatchesTheReference() {
        // the unpadded 2x2 stride-2 fast path, even and odd inputs (the last row/column dropped), and a padded 2x2 that is not it
        SplittableRandom r = new SplittableRandom(19);
        int[][] shapes = {{16, 28, 28, 0}, {3, 7, 5, 0}, {2, 2, 5, 0}, {1, 7, 7, 1}, {1, 6, 6, 1}};
        for (int[] sh : shapes) {
            int pad = sh[3];
            int oh = Int8Graph.outputSize(sh[1], 2, 2, 0, pad, 1);
            int ow = Int8Graph.outputSize(sh[2], 2, 2, 0, pad, 1);
            Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {sh[0], sh[1], sh[2]}, 0.1, 3);
            Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {sh[0], oh, ow}, 0.1, 3);
            Int8Graph.MaxPool p = new Int8Graph.MaxPool(0, 1, Int8Graph.Window.pool(2, 2, 2, 2, 0, 0, pad, pad));
            int n = 3;
            byte[] x = new byte[n * sh[0] * sh[1] * sh[2]];
            for (int i = 0; i < x.length; i++) {
                x[i] = (byte) r.nextInt(-128, 128);
            }
            byte[] expected = new byte[n * sh[0] * oh * ow];
            byte[] got = new byte[expected.length];
            io.qat4j.runtime.reference.ReferenceKernels.maxPool(p, in, out, x, expected, n);
            OptimizedKernels.maxPool(p, in, out, x, got, n);
            assertArrayEquals(expected, got, java.util.Arrays.toString(sh));
        }
    }

    @Test
    void denseLayersMatchTheReferenceOnBothVectorPaths() {
        // 16 outputs (across outputs, inputs in chunks of 512: 1,100 = 2 full chunks + a tail) and 13 (four-row dot
        // products); batches of 1, 3 (odd) and 4; inputs -128 at zero point 127 give the extreme x - z = -255
        SplittableRandom r = new SplittableRandom(43);
        for (int outF : new int[] {16, 13}) {
            int inF = 1100;
            List<Int8Graph.Tensor> t = List.of(new Int8Graph.Tensor(new int[] {inF}, 0.02, 127), new Int8Graph.Tensor(new int[] {outF}, 0.05, 4));
            byte[] codes = codes(r, outF * inF, 8);
            int[] bias = new int[outF];
            for (int i = 0; i < outF; i++) {
                bias[i] = r.nextInt(-30000, 30000);
            }
            Int8Graph g = new Int8Graph(t, List.of(new Int8Graph.Dense(0, 1, outF, inF, 8, codes, bias, requant(r, outF, false, 4))), 0, 1,
                    FixedPoint.Rounding.SINGLE);
            for (int n : new int[] {1, 3, 4}) {
                byte[] x = new byte[n * inF];
                for (int i = 0; i < x.length; i++) {
                    x[i] = i % 3 == 0 ? Byte.MIN_VALUE : (byte) r.nextInt(-128, 128);
                }
                assertArrayEquals(new Int8Model(g, Int8Model.Kernels.REFERENCE).runQuantized(x, n),
                        new Int8Model(g, Int8Model.Kernels.OPTIMIZED).runQuantized(x, n), outF + " outputs, batch " + n);
            }
        }
    }

    @Test
    void maxPoolMatchesTheReferenceOnRandomGeometries() {
        SplittableRandom r = new SplittableRandom(17);
        for (int trial = 0; trial < 200; trial++) {
            int c = 1 + r.nextInt(3);
            int h = 1 + r.nextInt(9);
            int w = 1 + r.nextInt(9);
            int kh = 1 + r.nextInt(3);
            int kw = 1 + r.nextInt(3);
            int sh = 1 + r.nextInt(3);
            int sw = 1 + r.nextInt(3);
            int[] pad = {r.nextInt(kh), r.nextInt(kw), r.nextInt(kh), r.nextInt(kw)};
            int oh = Int8Graph.outputSize(h, kh, sh, pad[0], pad[2], 1);
            int ow = Int8Graph.outputSize(w, kw, sw, pad[1], pad[3], 1);
            if (oh < 1 || ow < 1) {
                continue;
            }
            Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {c, h, w}, 0.1, 3);
            Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {c, oh, ow}, 0.1, 3);
            Int8Graph.MaxPool p = new Int8Graph.MaxPool(0, 1, Int8Graph.Window.pool(kh, kw, sh, sw, pad[0], pad[1], pad[2], pad[3]));
            new Int8Graph(java.util.List.of(in, out), java.util.List.of(p), 0, 1).validate();
            int n = 1 + r.nextInt(3);
            byte[] x = new byte[n * c * h * w];
            for (int i = 0; i < x.length; i++) {
                x[i] = (byte) r.nextInt(-128, 128);
            }
            byte[] expected = new byte[n * c * oh * ow];
            byte[] got = new byte[expected.length];
            io.qat4j.runtime.reference.ReferenceKernels.maxPool(p, in, out, x, expected, n);
            OptimizedKernels.maxPool(p, in, out, x, got, n);
            assertArrayEquals(expected, got, "trial " + trial);
        }
    }

    @Test
    void convolutionAndDenseMatchTheReferenceOnRandomGeometries() {
        try {
            for (boolean vector : new boolean[] {true, false}) {
                OptimizedKernels.setVectorized(vector);
                randomGeometries();
            }
        } finally {
            OptimizedKernels.setVectorized(true);
        }
    }

    private static void randomGeometries() {
        SplittableRandom r = new SplittableRandom(31);
        for (int trial = 0; trial < 120; trial++) {
            int inC = 1 + r.nextInt(5);
            int h = 1 + r.nextInt(11);
            int w = 1 + r.nextInt(11);
            int outC = 1 + r.nextInt(9);
            int kh = 1 + r.nextInt(3);
            int kw = 1 + r.nextInt(3);
            int sh = 1 + r.nextInt(2);
            int sw = 1 + r.nextInt(2);
            int dil = 1 + r.nextInt(2);
            int[] pad = {r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3)};
            int oh = Int8Graph.outputSize(h, kh, sh, pad[0], pad[2], dil);
            int ow = Int8Graph.outputSize(w, kw, sw, pad[1], pad[3], dil);
            if (oh < 1 || ow < 1) {
                continue;
            }
            int bits = new int[] {8, 4, 2, 1}[r.nextInt(4)];
            int classes = 1 + r.nextInt(6);
            List<Int8Graph.Tensor> t = new ArrayList<>();
            t.add(new Int8Graph.Tensor(new int[] {inC, h, w}, 0.02, r.nextInt(-128, 128)));
            t.add(new Int8Graph.Tensor(new int[] {outC, oh, ow}, 0.05, r.nextInt(-128, 128)));
            t.add(new Int8Graph.Tensor(new int[] {outC * oh * ow}, 0.05, t.get(1).zeroPoint()));
            t.add(new Int8Graph.Tensor(new int[] {classes}, 0.1, r.nextInt(-20, 20)));
            int[] bias = new int[outC];
            for (int i = 0; i < outC; i++) {
                bias[i] = r.nextInt(-3000, 3000);
            }
            int[] bias2 = new int[classes];
            List<Int8Graph.Node> nodes = List.of(
                    new Int8Graph.Conv2D(0, 1, outC, inC, new Int8Graph.Window(kh, kw, sh, sw, pad[0], pad[1], pad[2], pad[3], dil, dil),
                            bits, codes(r, outC * inC * kh * kw, bits), bias, requant(r, outC, r.nextBoolean(), t.get(1).zeroPoint())),
                    new Int8Graph.Flatten(1, 2),
                    new Int8Graph.Dense(2, 3, classes, outC * oh * ow, bits, codes(r, classes * outC * oh * ow, bits), bias2,
                            requant(r, classes, false, t.get(3).zeroPoint())));
            FixedPoint.Rounding rounding = trial % 2 == 0 ? FixedPoint.Rounding.SINGLE : FixedPoint.Rounding.DOUBLE;
            Int8Graph g = new Int8Graph(t, nodes, 0, 3, rounding);
            int n = 1 + r.nextInt(3);
            byte[] x = new byte[n * inC * h * w];
            for (int i = 0; i < x.length; i++) {
                x[i] = (byte) r.nextInt(-128, 128);
            }
            Int8Model ref = new Int8Model(g, Int8Model.Kernels.REFERENCE);
            Int8Model opt = new Int8Model(g, Int8Model.Kernels.OPTIMIZED);
            for (int upTo = 1; upTo <= 3; upTo += 2) {
                Int8Graph partial = new Int8Graph(t, nodes.subList(0, upTo), 0, nodes.get(upTo - 1).output(), rounding);
                assertArrayEquals(new Int8Model(partial, Int8Model.Kernels.REFERENCE).runQuantized(x, n),
                        new Int8Model(partial, Int8Model.Kernels.OPTIMIZED).runQuantized(x, n), "trial " + trial);
            }
            assertArrayEquals(ref.runQuantized(x, n), opt.runQuantized(x, n));
        }
    }
}
