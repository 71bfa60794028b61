package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * Depthwise convolution (TFLite {@code DepthwiseConv}) against a plain long-arithmetic reference written in
 * TFLite's loop order (input channel, then depth multiplier), against the same convolution as a dense
 * {@link Int8Graph.Conv2D} whose cross-channel weights are zero, and through the file format.
 */
class DepthwiseConv2DTest {

    private static Int8Graph.Requant requant(SplittableRandom r, int channels, int zp, boolean relu) {
        int[] m = new int[channels];
        int[] s = new int[channels];
        for (int c = 0; c < channels; c++) {
            FixedPoint.QuantizedMultiplier q = FixedPoint.quantizeMultiplier(Math.scalb(0.5 + r.nextDouble() / 2, -r.nextInt(5, 11)));
            m[c] = q.multiplier();
            s[c] = q.shift();
        }
        return new Int8Graph.Requant(m, s, relu ? zp : -128, 127);
    }

    /** TFLite's reference loop: for each input channel ic and multiplier index m, output channel ic * depthMultiplier + m. */
    private static byte[] expected(Int8Graph.DepthwiseConv2D c, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, int n,
                                   FixedPoint.Rounding rounding) {
        Int8Graph.Window w = c.window();
        int inC = c.inChannels();
        int h = in.dims()[1];
        int wd = in.dims()[2];
        int oh = out.dims()[1];
        int ow = out.dims()[2];
        int outC = inC * c.depthMultiplier();
        byte[] y = new byte[n * outC * oh * ow];
        for (int b = 0; b < n; b++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    for (int ic = 0; ic < inC; ic++) {
                        for (int m = 0; m < c.depthMultiplier(); m++) {
                            int oc = m + ic * c.depthMultiplier();
                            long acc = 0;
                            for (int ky = 0; ky < w.kernelH(); ky++) {
                                for (int kx = 0; kx < w.kernelW(); kx++) {
                                    int iy = oy * w.strideH() - w.padTop() + w.dilationH() * ky;
                                    int ix = ox * w.strideW() - w.padLeft() + w.dilationW() * kx;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
                                        long xv = x[((b * inC + ic) * h + iy) * wd + ix];
                                        long wv = c.weights()[(oc * w.kernelH() + ky) * w.kernelW() + kx];
                                        acc += wv * (xv - in.zeroPoint());
                                    }
                                }
                            }
                            acc += c.bias()[oc];
                            Int8Graph.Requant r = c.requant();
                            y[((b * outC + oc) * oh + oy) * ow + ox] = (byte) TfliteMath.requantize(Math.toIntExact(acc), r.multiplier()[oc],
                                    r.shift()[oc], out.zeroPoint(), r.activationMin(), r.activationMax(), rounding);
                        }
                    }
                }
            }
        }
        return y;
    }

    @Test
    void randomGeometriesMatchThePlainReferenceAndADenseConvolution() {
        SplittableRandom r = new SplittableRandom(61);
        int trials = 0;
        for (int trial = 0; trial < 200; trial++) {
            int inC = 1 + r.nextInt(5);
            int dm = 1 + r.nextInt(3);
            int h = 1 + r.nextInt(10);
            int w = 1 + r.nextInt(10);
            int kh = 1 + r.nextInt(4);
            int kw = 1 + r.nextInt(4);
            int sh = 1 + r.nextInt(3);
            int sw = 1 + r.nextInt(3);
            int dil = 1 + r.nextInt(2);
            int[] pad = {r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3)};
            int oh = Int8Graph.outputSize(h, kh, sh, pad[0], pad[2], dil);
            int ow = Int8Graph.outputSize(w, kw, sw, pad[1], pad[3], dil);
            if (oh < 1 || ow < 1) {
                continue;
            }
            trials++;
            int outC = inC * dm;
            int bits = new int[] {8, 4, 2, 1}[r.nextInt(4)];
            FixedPoint.Rounding rounding = FixedPoint.Rounding.values()[trial % 2];
            Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {inC, h, w}, 0.02, r.nextInt(-128, 128));
            Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {outC, oh, ow}, 0.05, r.nextInt(-128, 128));
            Int8Graph.Window win = new Int8Graph.Window(kh, kw, sh, sw, pad[0], pad[1], pad[2], pad[3], dil, dil);
            byte[] weights = RandomGraphs.codes(r, outC * kh * kw, bits);
            int[] bias = RandomGraphs.bias(r, outC, 5000);
            Int8Graph.Requant rq = requant(r, outC, out.zeroPoint(), r.nextBoolean());
            Int8Graph.DepthwiseConv2D dw = new Int8Graph.DepthwiseConv2D(0, 1, inC, dm, win, bits, weights, bias, rq);
            int n = 1 + r.nextInt(3);
            byte[] x = TfliteMath.codes(r, n * inC * h * w, 4);
            byte[] got = TfliteMath.runEverywhere(TfliteMath.single(in, out, dw, rounding), x, n);
            assertArrayEquals(expected(dw, in, out, x, n, rounding), got, "trial " + trial);
            // the same as a dense convolution whose weights outside each output's own input channel are 0
            byte[] dense = new byte[outC * inC * kh * kw];
            for (int oc = 0; oc < outC; oc++) {
                System.arraycopy(weights, oc * kh * kw, dense, (oc * inC + oc / dm) * kh * kw, kh * kw);
            }
            Int8Graph.Conv2D conv = new Int8Graph.Conv2D(0, 1, outC, inC, win, 8, dense, bias, rq);
            assertArrayEquals(got, TfliteMath.runEverywhere(TfliteMath.single(in, out, conv, rounding), x, n), "as Conv2D, trial " + trial);
        }
        assertTrue(trials > 100, trials + " geometries");
    }

    @Test
    void extremeInputsAndWeightsMatch() {
        // x - z = -255 everywhere (input -128, zero point 127) with weights +-127 in a 5x5 window: |acc| up to 25 x 32,385
        SplittableRandom r = new SplittableRandom(62);
        int inC = 3;
        int dm = 2;
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {inC, 6, 6}, 0.02, 127);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {inC * dm, 6, 6}, 0.05, -1);
        byte[] weights = new byte[inC * dm * 25];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (byte) (r.nextBoolean() ? 127 : -127);
        }
        Int8Graph.DepthwiseConv2D dw = new Int8Graph.DepthwiseConv2D(0, 1, inC, dm, new Int8Graph.Window(5, 5, 1, 1, 2, 2, 2, 2, 1, 1), 8,
                weights, new int[inC * dm], requant(r, inC * dm, -1, false));
        byte[] x = new byte[inC * 36];
        java.util.Arrays.fill(x, Byte.MIN_VALUE);
        for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
            assertArrayEquals(expected(dw, in, out, x, 1, rounding), TfliteMath.runEverywhere(TfliteMath.single(in, out, dw, rounding), x, 1));
        }
    }

    @Test
    void roundTripsThroughTheFileAndRefusesMalformedNodes() throws ModelFormatException {
        SplittableRandom r = new SplittableRandom(63);
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {2, 5, 5}, 0.02, 3);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {6, 3, 3}, 0.05, -4);
        Int8Graph.Window win = new Int8Graph.Window(3, 3, 2, 2, 1, 1, 1, 1, 1, 1);
        Int8Graph.DepthwiseConv2D dw = new Int8Graph.DepthwiseConv2D(0, 1, 2, 3, win, 4, RandomGraphs.codes(r, 6 * 9, 4),
                RandomGraphs.bias(r, 6, 100), requant(r, 6, -4, false));
        Int8Graph g = TfliteMath.single(in, out, dw, FixedPoint.Rounding.SINGLE);
        Int8Graph back = ModelFile.fromBytes(ModelFile.toBytes(g));
        assertEquals(g, back);
        byte[] x = TfliteMath.codes(r, 2 * 50, 7);
        assertArrayEquals(TfliteMath.runEverywhere(g, x, 2), TfliteMath.runEverywhere(back, x, 2));
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {4, 3, 3}, 0.05, -4), dw,
                "node 0 (DepthwiseConv2D) output: shape [4, 3, 3] does not match expected [6, 3, 3]");
        AvgPoolRequantTest.assertRefused(in, out, new Int8Graph.DepthwiseConv2D(0, 1, 2, 3, win, 4, new byte[6 * 8], new int[6], dw.requant()),
                "node 0 (DepthwiseConv2D) weights: 48 values, expected 54");
        AvgPoolRequantTest.assertRefused(in, out, new Int8Graph.DepthwiseConv2D(0, 1, 3, 2, win, 4, new byte[54], new int[6], dw.requant()),
                "node 0 (DepthwiseConv2D) input: shape [2, 5, 5] does not match expected [3, -1, -1]");
        AvgPoolRequantTest.assertRefused(in, out, new Int8Graph.DepthwiseConv2D(0, 1, 2, 0, win, 4, new byte[0], new int[0], dw.requant()),
                "node 0 (DepthwiseConv2D): size/stride/dilation 0 outside");
        byte[] eightBit = new byte[54];
        eightBit[5] = 100;
        AvgPoolRequantTest.assertRefused(in, out, new Int8Graph.DepthwiseConv2D(0, 1, 2, 3, win, 4, eightBit, new int[6], dw.requant()),
                "node 0 (DepthwiseConv2D): weight code 100 at 5 is not a 4-bit code");
        AvgPoolRequantTest.assertRefused(new Int8Graph.Tensor(new int[] {256, 5, 5}, 0.02, 3), new Int8Graph.Tensor(new int[] {256, 3, 3}, 1, 0),
                new Int8Graph.DepthwiseConv2D(0, 1, 256, 512, win, 4, new byte[0], new int[0], dw.requant()),
                "256 channels x depth multiplier 512 = 131072 output channels, more than 65536");
        new Int8Graph(List.of(in, out), List.of(dw), 0, 1).validate();
    }
}
