package io.qat4j.runtime.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;

/**
 * The reference kernels against arithmetic written independently: an im2col-ordered int64
 * accumulation for convolutions, real-valued math for the requantization (within one LSB), and
 * hand-worked pooling cases.
 */
class ReferenceKernelsTest {

    @Test
    void requantizeIsZeroPointPlusMbqmClamped() {
        FixedPoint.QuantizedMultiplier m = FixedPoint.quantizeMultiplier(0.25);
        assertEquals(10 + 25, ReferenceKernels.requantize(100, m.multiplier(), m.shift(), 10, -128, 127));
        assertEquals(127, ReferenceKernels.requantize(100000, m.multiplier(), m.shift(), 10, -128, 127));
        assertEquals(-5, ReferenceKernels.requantize(-100000, m.multiplier(), m.shift(), 0, -5, 6));
        assertEquals(0, ReferenceKernels.requantize(-100, m.multiplier(), m.shift(), 0, 0, 6), "fused ReLU");
    }

    private static Int8Graph.Requant unitRequant(int channels, double m) {
        int[] mult = new int[channels];
        int[] shift = new int[channels];
        FixedPoint.QuantizedMultiplier q = FixedPoint.quantizeMultiplier(m);
        java.util.Arrays.fill(mult, q.multiplier());
        java.util.Arrays.fill(shift, q.shift());
        return new Int8Graph.Requant(mult, shift, -128, 127);
    }

    @Test
    void convolutionMatchesAnIm2colAccumulationOnOddShapesPaddingStrideAndDilation() {
        SplittableRandom r = new SplittableRandom(5);
        int[][] geometries = {
            // inC, H, W, outC, kH, kW, stride, padT, padL, padB, padR, dilation
            {1, 5, 7, 2, 3, 3, 1, 1, 1, 1, 1, 1},
            {3, 9, 8, 4, 3, 3, 2, 1, 1, 1, 1, 1},
            {2, 6, 6, 3, 1, 1, 1, 0, 0, 0, 0, 1},
            {2, 7, 5, 2, 3, 2, 2, 0, 1, 2, 0, 1},
            {3, 9, 9, 2, 3, 3, 1, 2, 2, 2, 2, 2},
        };
        for (int[] g : geometries) {
            int inC = g[0], h = g[1], w = g[2], outC = g[3], kh = g[4], kw = g[5], s = g[6];
            int oh = Int8Graph.outputSize(h, kh, s, g[7], g[9], g[11]);
            int ow = Int8Graph.outputSize(w, kw, s, g[8], g[10], g[11]);
            Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {inC, h, w}, 0.1, r.nextInt(-20, 20));
            Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {outC, oh, ow}, 0.2, r.nextInt(-20, 20));
            byte[] weights = new byte[outC * inC * kh * kw];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (byte) r.nextInt(-127, 128);
            }
            int[] bias = new int[outC];
            for (int i = 0; i < outC; i++) {
                bias[i] = r.nextInt(-5000, 5000);
            }
            double realM = 0.0007;
            Int8Graph.Conv2D conv = new Int8Graph.Conv2D(0, 1, outC, inC,
                    new Int8Graph.Window(kh, kw, s, s, g[7], g[8], g[9], g[10], g[11], g[11]),
                    8, weights, bias, unitRequant(outC, realM));
            new Int8Graph(List.of(in, out), List.of(conv), 0, 1).validate();
            int n = 2;
            byte[] x = new byte[n * inC * h * w];
            for (int i = 0; i < x.length; i++) {
                x[i] = (byte) r.nextInt(-128, 128);
            }
            byte[] y = new byte[n * outC * oh * ow];
            ReferenceKernels.conv2d(conv, in, out, x, y, n, FixedPoint.Rounding.DOUBLE);
            for (int b = 0; b < n; b++) {
                for (int oc = 0; oc < outC; oc++) {
                    for (int oy = 0; oy < oh; oy++) {
                        for (int ox = 0; ox < ow; ox++) {
                            // im2col order: gather the receptive field (zero point where padded), then one dot product
                            long acc = bias[oc];
                            int k = 0;
                            for (int ic = 0; ic < inC; ic++) {
                                for (int ky = 0; ky < kh; ky++) {
                                    for (int kx = 0; kx < kw; kx++, k++) {
                                        int iy = oy * s - g[7] + ky * g[11];
                                        int ix = ox * s - g[8] + kx * g[11];
                                        int xv = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[((b * inC + ic) * h + iy) * w + ix] : in.zeroPoint();
                                        acc += (long) (xv - in.zeroPoint()) * weights[oc * inC * kh * kw + k];
                                    }
                                }
                            }
                            int expected = ReferenceKernels.requantize(Math.toIntExact(acc), conv.requant().multiplier()[oc],
                                    conv.requant().shift()[oc], out.zeroPoint(), -128, 127);
                            int got = y[((b * outC + oc) * oh + oy) * ow + ox];
                            assertEquals(expected, got);
                            double real = out.zeroPoint() + acc * realM;
                            assertTrue(Math.abs(Math.max(-128, Math.min(127, real)) - got) <= 1.0, "within one LSB of real math");
                        }
                    }
                }
            }
        }
    }

    @Test
    void denseMatchesRealArithmeticWithinOneLsb() {
        SplittableRandom r = new SplittableRandom(9);
        int inF = 37;
        int outF = 5;
        byte[] w = new byte[outF * inF];
        for (int i = 0; i < w.length; i++) {
            w[i] = (byte) r.nextInt(-7, 8);
        }
        int[] bias = {100, -200, 0, 7, 3000};
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {inF}, 0.1, 5);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {outF}, 0.3, -7);
        Int8Graph.Dense d = new Int8Graph.Dense(0, 1, outF, inF, 4, w, bias, unitRequant(outF, 0.01));
        byte[] x = new byte[3 * inF];
        for (int i = 0; i < x.length; i++) {
            x[i] = (byte) r.nextInt(-128, 128);
        }
        byte[] y = new byte[3 * outF];
        ReferenceKernels.dense(d, in, out, x, y, 3, FixedPoint.Rounding.DOUBLE);
        for (int b = 0; b < 3; b++) {
            for (int o = 0; o < outF; o++) {
                double acc = bias[o];
                for (int i = 0; i < inF; i++) {
                    acc += (x[b * inF + i] - 5) * w[o * inF + i];
                }
                double real = Math.max(-128, Math.min(127, -7 + acc * 0.01));
                assertTrue(Math.abs(real - y[b * outF + o]) <= 1.0, real + " vs " + y[b * outF + o]);
            }
        }
    }

    @Test
    void poolingHandWorked() {
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {1, 3, 3}, 1, 0);
        byte[] x = {1, -2, 3, -4, 5, -6, 7, -8, 9};
        Int8Graph.Tensor outMax = new Int8Graph.Tensor(new int[] {1, 2, 2}, 1, 0);
        byte[] y = new byte[4];
        // 2x2 windows, stride 2, padding bottom/right 1: windows {1,-2,-4,5}, {3,-6}, {7,-8}, {9}
        ReferenceKernels.maxPool(new Int8Graph.MaxPool(0, 1, Int8Graph.Window.pool(2, 2, 2, 2, 0, 0, 1, 1)), in, outMax, x, y, 1);
        assertArrayEquals(new byte[] {5, 3, 7, 9}, y);
        ReferenceKernels.avgPool(new Int8Graph.AvgPool(0, 1, Int8Graph.Window.pool(2, 2, 2, 2, 0, 0, 1, 1)), in, outMax, x, y, 1);
        // averages over valid elements, half away from zero: 0/4 = 0, -3/2 = -1.5 -> -2, -1/2 -> -1 (-0.5 away), 9
        assertArrayEquals(new byte[] {0, -2, -1, 9}, y);
        assertEquals(3, ReferenceKernels.roundingDivide(5, 2));      // 2.5 away from zero
        assertEquals(-3, ReferenceKernels.roundingDivide(-5, 2));
        assertEquals(1, ReferenceKernels.roundingDivide(4, 3));
    }
}
