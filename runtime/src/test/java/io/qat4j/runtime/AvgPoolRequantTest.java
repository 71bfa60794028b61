package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * Average pooling with one requantization (format version 3) against a plain reference: the window sum of
 * {@code q - z_in} in long arithmetic, the divisor counted by hand (valid elements, or the whole window),
 * TFLite's MultiplyByQuantizedMultiplier written out ({@link TfliteMath}), and the real mean within half an
 * output step (single rounding) or one step (double rounding).
 */
class AvgPoolRequantTest {

    /** The plain reference of one sample batch: long sums, hand-counted divisors, the node's per-divisor multipliers. */
    private static byte[] expected(Int8Graph.AvgPoolRequant p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, int n,
                                   FixedPoint.Rounding rounding, double[] realCodes) {
        int c = in.dims()[0];
        int h = in.dims()[1];
        int w = in.dims()[2];
        int oh = out.dims()[1];
        int ow = out.dims()[2];
        Int8Graph.Window win = p.window();
        byte[] y = new byte[n * c * oh * ow];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        long sum = 0;
                        int valid = 0;
                        for (int iy = oy * win.strideH() - win.padTop(); iy < oy * win.strideH() - win.padTop() + win.kernelH(); iy++) {
                            for (int ix = ox * win.strideW() - win.padLeft(); ix < ox * win.strideW() - win.padLeft() + win.kernelW(); ix++) {
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                                    sum += x[((b * c + ch) * h + iy) * w + ix] - in.zeroPoint();
                                    valid++;
                                }
                            }
                        }
                        int k = p.countIncludePad() ? win.kernelH() * win.kernelW() : valid;
                        int i = ((b * c + ch) * oh + oy) * ow + ox;
                        Int8Graph.Requant r = p.requant();
                        y[i] = (byte) TfliteMath.requantize(sum, r.multiplier()[k - 1], r.shift()[k - 1], out.zeroPoint(), r.activationMin(),
                                r.activationMax(), rounding);
                        realCodes[i] = Math.max(r.activationMin(), Math.min(r.activationMax(),
                                out.zeroPoint() + in.scale() * sum / k / out.scale()));
                    }
                }
            }
        }
        return y;
    }

    @Test
    void randomWindowsMatchThePlainReferenceAndTheRealMean() {
        SplittableRandom r = new SplittableRandom(81);
        int checked = 0;
        for (int trial = 0; trial < 300; trial++) {
            int c = 1 + r.nextInt(3);
            int h = 1 + r.nextInt(9);
            int w = 1 + r.nextInt(9);
            int kh = 1 + r.nextInt(4);
            int kw = 1 + r.nextInt(4);
            int sh = 1 + r.nextInt(3);
            int sw = 1 + r.nextInt(3);
            int[] pad = {r.nextInt(kh), r.nextInt(kw), r.nextInt(kh), r.nextInt(kw)};
            int oh = Int8Graph.outputSize(h, kh, sh, pad[0], pad[2], 1);
            int ow = Int8Graph.outputSize(w, kw, sw, pad[1], pad[3], 1);
            if (oh < 1 || ow < 1) {
                continue;
            }
            FixedPoint.Rounding rounding = FixedPoint.Rounding.values()[trial % 2];
            boolean includePad = r.nextBoolean();
            Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {c, h, w}, 0.01 + r.nextDouble() * 0.1, r.nextInt(-128, 128));
            // same quantization as the input in one trial of four (TFLite's case), else another scale and zero point
            Int8Graph.Tensor out = trial % 4 == 0 ? new Int8Graph.Tensor(new int[] {c, oh, ow}, in.scale(), in.zeroPoint())
                    : new Int8Graph.Tensor(new int[] {c, oh, ow}, 0.01 + r.nextDouble() * 0.1, r.nextInt(-128, 128));
            boolean relu = r.nextInt(3) == 0;
            Int8Graph.Window win = Int8Graph.Window.pool(kh, kw, sh, sw, pad[0], pad[1], pad[2], pad[3]);
            Int8Graph.AvgPoolRequant p = Int8Graph.AvgPoolRequant.of(0, 1, win, includePad, in, out, relu ? out.zeroPoint() : -128,
                    relu ? Math.min(127, out.zeroPoint() + 60) : 127);
            int n = 1 + r.nextInt(3);
            byte[] x = TfliteMath.codes(r, n * c * h * w, 5);
            double[] real = new double[n * c * oh * ow];
            byte[] want = expected(p, in, out, x, n, rounding, real);
            byte[] got = TfliteMath.runEverywhere(TfliteMath.single(in, out, p, rounding), x, n);
            assertArrayEquals(want, got, "trial " + trial);
            double tolerance = rounding == FixedPoint.Rounding.SINGLE ? 0.5 + 1e-6 : 1.0;
            for (int i = 0; i < got.length; i++) {
                assertTrue(Math.abs(got[i] - real[i]) <= tolerance, "trial " + trial + " element " + i + ": " + got[i] + " vs real " + real[i]);
                checked++;
            }
        }
        assertTrue(checked > 3000, checked + " outputs checked");
    }

    @Test
    void theDivisorAtPaddedBordersIsTheValidCountOrTheWholeWindow() {
        // [1, 2, 2] input {4, 8, 12, 16} at scale 1, zero point 0; 2x2 windows, stride 2, padding 1 on every side:
        // every window holds exactly one valid element
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {1, 2, 2}, 1, 0);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {1, 2, 2}, 1, 0);
        Int8Graph.Window win = Int8Graph.Window.pool(2, 2, 2, 2, 1, 1, 1, 1);
        byte[] x = {4, 8, 12, 16};
        for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
            byte[] valid = TfliteMath.runEverywhere(TfliteMath.single(in, out, Int8Graph.AvgPoolRequant.of(0, 1, win, false, in, out, -128, 127),
                    rounding), x, 1);
            assertArrayEquals(new byte[] {4, 8, 12, 16}, valid, "divisor 1: the valid count");
            byte[] whole = TfliteMath.runEverywhere(TfliteMath.single(in, out, Int8Graph.AvgPoolRequant.of(0, 1, win, true, in, out, -128, 127),
                    rounding), x, 1);
            assertArrayEquals(new byte[] {1, 2, 3, 4}, whole, "divisor 4: padding counts as real zeros");
        }
    }

    @Test
    void tiesRoundTowardPlusInfinityAndClampsHold() {
        // equal scales, 1x2 windows: the mean of (q - z) is a half for odd sums; M_2 = 1/2 is exact (2^30, shift 0)
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {1, 1, 8}, 0.5, 0);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {1, 1, 4}, 0.5, 0);
        Int8Graph.Window win = Int8Graph.Window.pool(1, 2, 1, 2, 0, 0, 0, 0);
        Int8Graph.AvgPoolRequant p = Int8Graph.AvgPoolRequant.of(0, 1, win, false, in, out, -128, 127);
        assertEquals(1 << 30, p.requant().multiplier()[1]);
        assertEquals(0, p.requant().shift()[1]);
        byte[] x = {0, 1, -1, 0, 2, 3, -3, -2};   // sums 1, -1, 5, -5: means 0.5, -0.5, 2.5, -2.5
        for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
            assertArrayEquals(new byte[] {1, 0, 3, -2}, TfliteMath.runEverywhere(TfliteMath.single(in, out, p, rounding), x, 1), rounding.name());
        }
        // a fused ReLU6-like clamp [z, z + 6] on a larger output step
        Int8Graph.Tensor small = new Int8Graph.Tensor(new int[] {1, 1, 4}, 0.5, -3);
        Int8Graph.AvgPoolRequant clamped = Int8Graph.AvgPoolRequant.of(0, 1, win, false, in, small, -3, 3);
        byte[] y = TfliteMath.runEverywhere(TfliteMath.single(in, small, clamped, FixedPoint.Rounding.SINGLE), new byte[] {127, 127, -128, -128,
                4, 4, 0, 1}, 1);
        assertArrayEquals(new byte[] {3, -3, 1, -2}, y);
    }

    @Test
    void globalAveragePoolingIsTheWholeMapWindowAndGlobalMaxPoolingValidates() {
        SplittableRandom r = new SplittableRandom(3);
        int c = 5;
        int h = 7;
        int w = 6;
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {c, h, w}, 0.05, -17);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {c, 1, 1}, 0.02, 9);
        Int8Graph.Window global = Int8Graph.Window.pool(h, w, 1, 1, 0, 0, 0, 0);
        Int8Graph.AvgPoolRequant p = Int8Graph.AvgPoolRequant.of(0, 1, global, false, in, out, -128, 127);
        assertEquals(h * w, p.requant().multiplier().length);
        byte[] x = TfliteMath.codes(r, 2 * c * h * w, 9);
        byte[] y = TfliteMath.runEverywhere(TfliteMath.single(in, out, p, FixedPoint.Rounding.SINGLE), x, 2);
        for (int plane = 0; plane < 2 * c; plane++) {
            double mean = 0;
            for (int i = 0; i < h * w; i++) {
                mean += in.scale() * (x[plane * h * w + i] - in.zeroPoint());
            }
            mean /= h * w;
            double code = Math.max(-128, Math.min(127, out.zeroPoint() + mean / out.scale()));
            assertTrue(Math.abs(code - y[plane]) <= 0.5 + 1e-6, "plane " + plane + ": " + y[plane] + " vs " + code);
        }
        // global max pooling: MaxPool over the whole map
        Int8Graph.Tensor maxOut = new Int8Graph.Tensor(new int[] {c, 1, 1}, in.scale(), in.zeroPoint());
        byte[] m = TfliteMath.runEverywhere(TfliteMath.single(in, maxOut, new Int8Graph.MaxPool(0, 1, global), FixedPoint.Rounding.SINGLE), x, 2);
        for (int plane = 0; plane < 2 * c; plane++) {
            int best = -128;
            for (int i = 0; i < h * w; i++) {
                best = Math.max(best, x[plane * h * w + i]);
            }
            assertEquals(best, m[plane], "plane " + plane);
        }
    }

    @Test
    void theFactoryStoresOneMultiplierPerDivisor() {
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {1, 4, 4}, 0.3, 0);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {1, 3, 3}, 0.07, 0);
        Int8Graph.AvgPoolRequant p = Int8Graph.AvgPoolRequant.of(0, 1, Int8Graph.Window.pool(3, 2, 1, 1, 1, 0, 0, 0), false, in, out, -128, 127);
        for (int k = 1; k <= 6; k++) {
            double m = new FixedPoint.QuantizedMultiplier(p.requant().multiplier()[k - 1], p.requant().shift()[k - 1]).value();
            double want = 0.3 / 0.07 / k;
            assertTrue(Math.abs(m - want) <= want * 0x1p-30, "divisor " + k + ": " + m + " vs " + want);
        }
    }

    @Test
    void malformedNodesAreRefusedNamingTheNode() {
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {2, 4, 4}, 0.1, 0);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {2, 2, 2}, 0.2, 5);
        Int8Graph.Window win = Int8Graph.Window.pool(2, 2, 2, 2, 0, 0, 0, 0);
        Int8Graph.AvgPoolRequant good = Int8Graph.AvgPoolRequant.of(0, 1, win, false, in, out, -128, 127);
        new Int8Graph(List.of(in, out), List.of(good), 0, 1).validate();
        assertRefused(in, out, new Int8Graph.AvgPoolRequant(0, 1, win, false, new Int8Graph.Requant(new int[3], new int[3], -128, 127)),
                "node 0 (AvgPoolRequant) multipliers (one per divisor 1..4): 3 values, expected 4");
        assertRefused(in, new Int8Graph.Tensor(new int[] {2, 3, 2}, 0.2, 5), good, "node 0 (AvgPoolRequant) output: shape [2, 3, 2]");
        assertRefused(in, out, new Int8Graph.AvgPoolRequant(0, 1, new Int8Graph.Window(2, 2, 2, 2, 0, 0, 0, 0, 2, 1), false, good.requant()),
                "node 0 (AvgPoolRequant): pooling windows have dilation 1");
        assertRefused(in, out, new Int8Graph.AvgPoolRequant(0, 1, Int8Graph.Window.pool(2, 2, 2, 2, 2, 0, 0, 0), false, good.requant()),
                "node 0 (AvgPoolRequant): padding must be smaller than the window");
        int[] m = good.requant().multiplier();
        int[] s = good.requant().shift();
        s[3] = 30;   // 255 * 4 << 30 overflows int32 in MBQM's left shift
        assertRefused(in, out, new Int8Graph.AvgPoolRequant(0, 1, win, false, new Int8Graph.Requant(m, s, -128, 127)),
                "node 0 (AvgPoolRequant): shift 30 of divisor 4 would overflow int32");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Int8Graph.AvgPoolRequant.of(0, 1,
                Int8Graph.Window.pool(4096, 4096, 1, 1, 0, 0, 0, 0), false, in, out, -128, 127));
        assertTrue(e.getMessage().contains("16777216 elements; 1..8388608"), e.getMessage());
    }

    static void assertRefused(Int8Graph.Tensor in, Int8Graph.Tensor out, Int8Graph.Node node, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Int8Graph(List.of(in, out), List.of(node), 0, 1).validate());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
