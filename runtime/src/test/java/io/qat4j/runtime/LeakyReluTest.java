package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * TFLite's int8 LeakyRelu against its formula written out ({@code z_o + MBQM(x - z_i, M_pos)} at or above the
 * input zero point, {@code M_neg = alpha s_i / s_o} below, clamped) on every int8 code, and against the real
 * function within one output step.
 */
class LeakyReluTest {

    @Test
    void everyCodeMatchesTheFormulaAndTheRealFunction() {
        SplittableRandom r = new SplittableRandom(91);
        double[] alphas = {0.01, 0.1, 0.2, 0.3, 0.5, 0.999, 1.0, 0.0, 2.5};
        for (int trial = 0; trial < 90; trial++) {
            double alpha = alphas[trial % alphas.length];
            FixedPoint.Rounding rounding = FixedPoint.Rounding.values()[trial % 2];
            Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {2, 2, 64}, 0.01 + r.nextDouble() * 0.2, r.nextInt(-128, 128));
            Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {2, 2, 64}, 0.01 + r.nextDouble() * 0.2, r.nextInt(-128, 128));
            int lo = trial % 5 == 0 ? out.zeroPoint() - 3 : -128;
            int hi = trial % 7 == 0 ? Math.min(127, out.zeroPoint() + 40) : 127;
            lo = Math.max(-128, Math.min(lo, hi));
            Int8Graph.LeakyRelu l = Int8Graph.LeakyRelu.of(0, 1, in, out, alpha, lo, hi);
            byte[] x = new byte[256];
            for (int q = -128; q < 128; q++) {
                x[q + 128] = (byte) q;
            }
            byte[] y = TfliteMath.runEverywhere(TfliteMath.single(in, out, l, rounding), x, 1);
            for (int q = -128; q < 128; q++) {
                int d = q - in.zeroPoint();
                int want = d >= 0 ? TfliteMath.requantize(d, l.multiplierPositive(), l.shiftPositive(), out.zeroPoint(), lo, hi, rounding)
                        : TfliteMath.requantize(d, l.multiplierNegative(), l.shiftNegative(), out.zeroPoint(), lo, hi, rounding);
                assertEquals(want, y[q + 128], "trial " + trial + ", code " + q);
                double real = in.scale() * d;
                double code = Math.max(lo, Math.min(hi, out.zeroPoint() + (real >= 0 ? real : alpha * real) / out.scale()));
                assertTrue(Math.abs(code - y[q + 128]) <= 1.0, "trial " + trial + ", code " + q + ": " + y[q + 128] + " vs real " + code);
            }
        }
    }

    @Test
    void alphaZeroIsAReluAndNegativeAlphaIsRefused() {
        Int8Graph.Tensor t = new Int8Graph.Tensor(new int[] {8}, 0.1, -3);
        Int8Graph.LeakyRelu relu = Int8Graph.LeakyRelu.of(0, 1, t, t, 0, -128, 127);
        assertEquals(0, relu.multiplierNegative());
        byte[] y = TfliteMath.runEverywhere(TfliteMath.single(t, t, relu, FixedPoint.Rounding.SINGLE), new byte[] {-128, -10, -4, -3, -2, 0, 50,
                127}, 1);
        assertArrayEquals(new byte[] {-3, -3, -3, -3, -2, 0, 50, 127}, y);
        for (double bad : new double[] {-0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Int8Graph.LeakyRelu.of(0, 1, t, t, bad, -128, 127));
            assertTrue(e.getMessage().contains("LeakyRelu: alpha " + bad), e.getMessage());
        }
        AvgPoolRequantTest.assertRefused(t, new Int8Graph.Tensor(new int[] {7}, 0.1, -3), relu,
                "node 0 (LeakyRelu): input [8] and output [7] must have the same shape");
        AvgPoolRequantTest.assertRefused(t, t, new Int8Graph.LeakyRelu(0, 1, 1 << 30, 1, 5, 0, -128, 127),
                "node 0 (LeakyRelu): multiplier 5 of channel 1 is neither 0 nor in [2^30, 2^31)");
        AvgPoolRequantTest.assertRefused(t, t, new Int8Graph.LeakyRelu(0, 1, 1 << 30, 24, 0, 0, -128, 127),
                "node 0 (LeakyRelu): shift 24 of positive side would overflow int32");
    }
}
