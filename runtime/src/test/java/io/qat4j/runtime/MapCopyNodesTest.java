package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * ZeroPad, Crop and UpsampleNearest, which copy codes, against index arithmetic written in the test (the
 * optimized kernels copy whole rows), on random sizes and margins, and with their validation.
 */
class MapCopyNodesTest {

    @Test
    void paddingCroppingAndUpsamplingMoveCodesWhereTheIndexMathSays() {
        SplittableRandom r = new SplittableRandom(111);
        for (int trial = 0; trial < 150; trial++) {
            int c = 1 + r.nextInt(3);
            int h = 1 + r.nextInt(6);
            int w = 1 + r.nextInt(6);
            int n = 1 + r.nextInt(3);
            int zp = r.nextInt(-128, 128);
            Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {c, h, w}, 0.1, zp);
            byte[] x = TfliteMath.codes(r, n * c * h * w, 7);
            FixedPoint.Rounding rounding = FixedPoint.Rounding.values()[trial % 2];
            int[] m = {r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3)};   // top, left, bottom, right

            int ph = h + m[0] + m[2];
            int pw = w + m[1] + m[3];
            Int8Graph.Tensor padded = new Int8Graph.Tensor(new int[] {c, ph, pw}, 0.1, zp);
            byte[] y = TfliteMath.runEverywhere(TfliteMath.single(in, padded, new Int8Graph.ZeroPad(0, 1, m[0], m[1], m[2], m[3]), rounding), x, n);
            for (int b = 0; b < n; b++) {
                for (int ch = 0; ch < c; ch++) {
                    for (int oy = 0; oy < ph; oy++) {
                        for (int ox = 0; ox < pw; ox++) {
                            boolean inside = oy >= m[0] && oy < m[0] + h && ox >= m[1] && ox < m[1] + w;
                            int want = inside ? x[((b * c + ch) * h + oy - m[0]) * w + ox - m[1]] : zp;
                            assertEquals(want, y[((b * c + ch) * ph + oy) * pw + ox], "pad, trial " + trial);
                        }
                    }
                }
            }

            if (h > m[0] + m[2] && w > m[1] + m[3]) {
                int ch2 = h - m[0] - m[2];
                int cw = w - m[1] - m[3];
                Int8Graph.Tensor cropped = new Int8Graph.Tensor(new int[] {c, ch2, cw}, 0.1, zp);
                byte[] z = TfliteMath.runEverywhere(TfliteMath.single(in, cropped, new Int8Graph.Crop(0, 1, m[0], m[1], m[2], m[3]), rounding), x, n);
                for (int b = 0; b < n; b++) {
                    for (int ch = 0; ch < c; ch++) {
                        for (int oy = 0; oy < ch2; oy++) {
                            for (int ox = 0; ox < cw; ox++) {
                                assertEquals(x[((b * c + ch) * h + oy + m[0]) * w + ox + m[1]], z[((b * c + ch) * ch2 + oy) * cw + ox],
                                        "crop, trial " + trial);
                            }
                        }
                    }
                }
            }
            // padding then cropping the same margins gives the input back
            Int8Graph back = new Int8Graph(List.of(in, padded, in), List.of(new Int8Graph.ZeroPad(0, 1, m[0], m[1], m[2], m[3]),
                    new Int8Graph.Crop(1, 2, m[0], m[1], m[2], m[3])), 0, 2, rounding);
            assertArrayEquals(x, TfliteMath.runEverywhere(back, x, n), "pad then crop, trial " + trial);

            int sh = 1 + r.nextInt(3);
            int sw = 1 + r.nextInt(3);
            Int8Graph.Tensor up = new Int8Graph.Tensor(new int[] {c, h * sh, w * sw}, 0.1, zp);
            byte[] u = TfliteMath.runEverywhere(TfliteMath.single(in, up, new Int8Graph.UpsampleNearest(0, 1, sh, sw), rounding), x, n);
            for (int b = 0; b < n; b++) {
                for (int ch = 0; ch < c; ch++) {
                    for (int oy = 0; oy < h * sh; oy++) {
                        for (int ox = 0; ox < w * sw; ox++) {
                            assertEquals(x[((b * c + ch) * h + oy / sh) * w + ox / sw], u[((b * c + ch) * h * sh + oy) * w * sw + ox],
                                    "upsample, trial " + trial);
                        }
                    }
                }
            }
        }
    }

    @Test
    void malformedCopiesAreRefusedNamingTheNode() {
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {2, 4, 5}, 0.1, 3);
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {2, 6, 5}, 0.1, 3), new Int8Graph.ZeroPad(0, 1, 1, 1, 1, 1),
                "node 0 (ZeroPad) output: shape [2, 6, 5] does not match expected [2, 6, 7]");
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {2, 6, 7}, 0.2, 3), new Int8Graph.ZeroPad(0, 1, 1, 1, 1, 1),
                "node 0 (ZeroPad): input and output must share scale and zero point");
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {2, 6, 7}, 0.1, 3), new Int8Graph.ZeroPad(0, 1, -1, 1, 3, 1),
                "node 0 (ZeroPad): padding -1 outside");
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {2, 1, 1}, 0.1, 3), new Int8Graph.Crop(0, 1, 2, 2, 2, 2),
                "node 0 (Crop): cropping 2+2 rows and 2+2 columns leaves nothing of [2, 4, 5]");
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {2, 8, 5}, 0.1, 3), new Int8Graph.UpsampleNearest(0, 1, 2, 2),
                "node 0 (UpsampleNearest) output: shape [2, 8, 5] does not match expected [2, 8, 10]");
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {2, 4, 5}, 0.1, 3), new Int8Graph.UpsampleNearest(0, 1, 0, 1),
                "node 0 (UpsampleNearest): size/stride/dilation 0 outside");
        Int8Graph.Tensor flat = new Int8Graph.Tensor(new int[] {40}, 0.1, 3);
        AvgPoolRequantTest.assertRefused(flat, flat, new Int8Graph.Crop(0, 1, 0, 0, 0, 0), "node 0 (Crop): input must be [C, H, W], got [40]");
    }
}
