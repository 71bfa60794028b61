package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.qat4j.runtime.FixedPoint.QuantizedMultiplier;

/**
 * FixedPoint against hand-worked cases and an arbitrary-precision model of the same definitions:
 * SRDHM(a, b) = floor(ab/2^31 + 1/2) (saturating at INT32_MIN^2), RoundingDivideByPOT(x, e) =
 * x/2^e rounded half away from zero, QuantizeMultiplier by exact BigDecimal arithmetic.
 */
class FixedPointTest {

    private static final BigDecimal TWO_31 = new BigDecimal(BigInteger.ONE.shiftLeft(31));
    private static final BigDecimal HALF = new BigDecimal("0.5");

    private static int modelSrdhm(int a, int b) {
        if (a == Integer.MIN_VALUE && b == Integer.MIN_VALUE) {
            return Integer.MAX_VALUE;
        }
        BigDecimal v = new BigDecimal(BigInteger.valueOf(a).multiply(BigInteger.valueOf(b))).divide(TWO_31);
        return v.add(HALF).setScale(0, RoundingMode.FLOOR).intValueExact();
    }

    private static int modelDivideByPOT(int x, int e) {
        return new BigDecimal(x).divide(new BigDecimal(BigInteger.ONE.shiftLeft(e))).setScale(0, RoundingMode.HALF_UP).intValueExact();
    }

    private static int modelMbqm(int x, int m0, int shift) {
        int left = Math.max(shift, 0);
        int right = Math.max(-shift, 0);
        long scaled = (long) x << left;
        if (scaled != (int) scaled) {
            throw new IllegalStateException("model only covers non-wrapping inputs");
        }
        return modelDivideByPOT(modelSrdhm((int) scaled, m0), right);
    }

    /** Exact: M = q 2^shift with q in [1/2, 1); M0 = round_half_up(q 2^31); renormalize; flush below -31. */
    private static QuantizedMultiplier modelQuantizeMultiplier(double m) {
        if (m == 0) {
            return new QuantizedMultiplier(0, 0);
        }
        BigDecimal exact = new BigDecimal(m);
        int shift = 0;
        BigDecimal q = exact;
        while (q.compareTo(BigDecimal.ONE) >= 0) {
            q = q.divide(BigDecimal.valueOf(2));
            shift++;
        }
        while (q.compareTo(HALF) < 0) {
            q = q.multiply(BigDecimal.valueOf(2));
            shift--;
        }
        BigInteger fixed = q.multiply(TWO_31).setScale(0, RoundingMode.HALF_UP).toBigIntegerExact();
        if (fixed.equals(BigInteger.ONE.shiftLeft(31))) {
            fixed = fixed.shiftRight(1);
            shift++;
        }
        if (shift < -31) {
            return new QuantizedMultiplier(0, 0);
        }
        return new QuantizedMultiplier(fixed.intValueExact(), shift);
    }

    @Test
    void srdhmSaturatesOnlyForMinTimesMin() {
        assertEquals(Integer.MAX_VALUE, FixedPoint.saturatingRoundingDoublingHighMul(Integer.MIN_VALUE, Integer.MIN_VALUE));
        // MIN * MAX does not overflow: -(2^31 - 1) rounded
        assertEquals(-Integer.MAX_VALUE, FixedPoint.saturatingRoundingDoublingHighMul(Integer.MIN_VALUE, Integer.MAX_VALUE));
        assertEquals(Integer.MAX_VALUE - 1, FixedPoint.saturatingRoundingDoublingHighMul(Integer.MAX_VALUE, Integer.MAX_VALUE));
        assertEquals(0, FixedPoint.saturatingRoundingDoublingHighMul(0, Integer.MIN_VALUE));
    }

    @Test
    void srdhmTiesRoundTowardPlusInfinityInBothSigns() {
        // a b / 2^31 = +0.5 -> 1, -0.5 -> 0, +1.5 -> 2, -1.5 -> -1
        assertEquals(1, FixedPoint.saturatingRoundingDoublingHighMul(1, 1 << 30));
        assertEquals(0, FixedPoint.saturatingRoundingDoublingHighMul(-1, 1 << 30));
        assertEquals(2, FixedPoint.saturatingRoundingDoublingHighMul(3, 1 << 30));
        assertEquals(-1, FixedPoint.saturatingRoundingDoublingHighMul(-3, 1 << 30));
        // just off the tie
        assertEquals(-1, FixedPoint.saturatingRoundingDoublingHighMul(-(1 << 30) - 1, 1));
        assertEquals(0, FixedPoint.saturatingRoundingDoublingHighMul((1 << 30) - 1, 1));
    }

    @Test
    void roundingDivideByPOTRoundsHalfAwayFromZero() {
        assertEquals(1, FixedPoint.roundingDivideByPOT(1, 1));
        assertEquals(-1, FixedPoint.roundingDivideByPOT(-1, 1));
        assertEquals(2, FixedPoint.roundingDivideByPOT(3, 1));
        assertEquals(-2, FixedPoint.roundingDivideByPOT(-3, 1));
        assertEquals(1, FixedPoint.roundingDivideByPOT(5, 2));    // 1.25
        assertEquals(-1, FixedPoint.roundingDivideByPOT(-5, 2));
        assertEquals(2, FixedPoint.roundingDivideByPOT(6, 2));    // 1.5
        assertEquals(-2, FixedPoint.roundingDivideByPOT(-6, 2));
        assertEquals(Integer.MIN_VALUE, FixedPoint.roundingDivideByPOT(Integer.MIN_VALUE, 0));
        assertEquals(-1, FixedPoint.roundingDivideByPOT(Integer.MIN_VALUE, 31));
        assertEquals(1, FixedPoint.roundingDivideByPOT(Integer.MAX_VALUE, 31));
        assertEquals(0, FixedPoint.roundingDivideByPOT((1 << 30) - 1, 31));
        assertThrows(IllegalArgumentException.class, () -> FixedPoint.roundingDivideByPOT(1, 32));
        assertThrows(IllegalArgumentException.class, () -> FixedPoint.roundingDivideByPOT(1, -1));
    }

    @Test
    void quantizeMultiplierHandWorkedCases() {
        assertEquals(new QuantizedMultiplier(1 << 30, 0), FixedPoint.quantizeMultiplier(0.5));
        assertEquals(new QuantizedMultiplier(1 << 30, 1), FixedPoint.quantizeMultiplier(1.0));
        assertEquals(new QuantizedMultiplier(1 << 30, -1), FixedPoint.quantizeMultiplier(0.25));
        assertEquals(new QuantizedMultiplier(0, 0), FixedPoint.quantizeMultiplier(0.0));
        // 0.75 = 0.75 * 2^0 -> M0 = 0.75 * 2^31
        assertEquals(new QuantizedMultiplier(3 << 29, 0), FixedPoint.quantizeMultiplier(0.75));
    }

    @Test
    void multipliersThatRoundUpTo2Pow31AreRenormalized() {
        // q 2^31 = 2^31 - 1/2 rounds (half away) to 2^31: halve and shift + 1
        double q = (Math.scalb(1.0, 31) - 0.5) / Math.scalb(1.0, 31);
        for (int e : new int[] {-20, -3, 0, 5}) {
            QuantizedMultiplier m = FixedPoint.quantizeMultiplier(Math.scalb(q, e));
            assertEquals(new QuantizedMultiplier(1 << 30, e + 1), m);
            assertEquals(Math.scalb(1.0, e), m.value(), 0.0);
        }
        // just below the rounding point stays in range
        double below = (Math.scalb(1.0, 31) - 0.5 - 1e-6) / Math.scalb(1.0, 31);
        assertEquals(new QuantizedMultiplier(Integer.MAX_VALUE, 0), FixedPoint.quantizeMultiplier(below));
    }

    @Test
    void tinyMultipliersFlushToZeroAndStillMultiplyToZero() {
        assertEquals(new QuantizedMultiplier(0, 0), FixedPoint.quantizeMultiplier(Math.scalb(1.0, -40)));
        assertEquals(new QuantizedMultiplier(0, 0), FixedPoint.quantizeMultiplier(Double.MIN_VALUE));
        // 2^-32 = 0.5 * 2^-31 is the smallest that survives: shift -31
        assertEquals(new QuantizedMultiplier(1 << 30, -31), FixedPoint.quantizeMultiplier(Math.scalb(1.0, -32)));
        assertEquals(new QuantizedMultiplier(0, 0), FixedPoint.quantizeMultiplier(Math.scalb(1.0, -33)));
        assertEquals(0, FixedPoint.multiplyByQuantizedMultiplier(123456789, FixedPoint.quantizeMultiplier(1e-12)));
    }

    @Test
    void badMultipliersAndShiftsAreRejected() {
        for (double bad : new double[] {-0.1, Double.NaN, Double.POSITIVE_INFINITY, Math.scalb(1.0, 31)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FixedPoint.quantizeMultiplier(bad));
            assertTrue(e.getMessage().contains("multiplier"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> FixedPoint.multiplyByQuantizedMultiplier(1, 1 << 30, 31));
        assertThrows(IllegalArgumentException.class, () -> FixedPoint.multiplyByQuantizedMultiplier(1, 1 << 30, -32));
    }

    @Test
    void srdhmAndDivideByPOTMatchTheBigIntegerModelOnRandomInputs() {
        SplittableRandom rnd = new SplittableRandom(2024);
        int[] specials = {Integer.MIN_VALUE, Integer.MIN_VALUE + 1, -1, 0, 1, Integer.MAX_VALUE, 1 << 30, -(1 << 30)};
        for (int i = 0; i < 200_000; i++) {
            int a = rnd.nextInt(10) == 0 ? specials[rnd.nextInt(specials.length)] : rnd.nextInt();
            int b = rnd.nextInt(10) == 0 ? specials[rnd.nextInt(specials.length)] : rnd.nextInt();
            assertEquals(modelSrdhm(a, b), FixedPoint.saturatingRoundingDoublingHighMul(a, b), a + " * " + b);
            int e = rnd.nextInt(32);
            assertEquals(modelDivideByPOT(a, e), FixedPoint.roundingDivideByPOT(a, e), a + " / 2^" + e);
        }
    }

    @Test
    void multiplyByQuantizedMultiplierMatchesTheModelForEveryShift() {
        SplittableRandom rnd = new SplittableRandom(99);
        for (int shift = FixedPoint.MIN_SHIFT; shift <= FixedPoint.MAX_SHIFT; shift++) {
            int bound = shift > 0 ? (int) Math.min(Integer.MAX_VALUE, (1L << (31 - shift)) - 1) : Integer.MAX_VALUE;
            for (int i = 0; i < 5000; i++) {
                int x = rnd.nextInt(-bound, bound);
                if (i < 4) {
                    x = new int[] {bound, -bound, 0, shift > 0 ? 1 : Integer.MIN_VALUE}[i];
                }
                int m0 = (1 << 30) + rnd.nextInt(1 << 30);
                assertEquals(modelMbqm(x, m0, shift), FixedPoint.multiplyByQuantizedMultiplier(x, m0, shift),
                        "x=" + x + " m0=" + m0 + " shift=" + shift);
            }
        }
    }

    @Test
    void quantizeMultiplierMatchesTheExactModelAndIsWithinHalfAnLsb() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 100_000; i++) {
            double m = Math.scalb(0.5 + rnd.nextDouble() * 0.5, rnd.nextInt(-40, 30));
            QuantizedMultiplier got = FixedPoint.quantizeMultiplier(m);
            assertEquals(modelQuantizeMultiplier(m), got, "M=" + m);
            if (got.multiplier() != 0) {
                assertTrue(got.multiplier() >= (1 << 30), "M0 in [2^30, 2^31)");
                double lsb = Math.scalb(1.0, got.shift() - 31);
                assertTrue(Math.abs(got.value() - m) <= lsb / 2, "M=" + m + " got " + got);
            }
        }
    }

    @Test
    void requantizationAgreesWithRealArithmeticUpToOneUnit() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < 100_000; i++) {
            double m = Math.scalb(0.5 + rnd.nextDouble() * 0.5, rnd.nextInt(-20, 0));
            int acc = rnd.nextInt(-(1 << 24), 1 << 24);
            int got = FixedPoint.multiplyByQuantizedMultiplier(acc, FixedPoint.quantizeMultiplier(m));
            assertTrue(Math.abs(got - acc * m) <= 1.0, "acc=" + acc + " M=" + m + " got " + got);
        }
    }

    /** floor(x M0 / 2^(31-shift) + 1/2) in exact integer arithmetic, saturated to int32: TFLITE_SINGLE_ROUNDING's definition. */
    private static int modelSingleRounding(int x, int m0, int shift) {
        java.math.BigInteger p = java.math.BigInteger.valueOf(x).multiply(java.math.BigInteger.valueOf(m0)).shiftLeft(1)
                .add(java.math.BigInteger.ONE.shiftLeft(31 - shift));                  // 2 x M0 + 2^(31-shift)
        java.math.BigInteger q = floorDiv(p, java.math.BigInteger.ONE.shiftLeft(32 - shift));
        return q.max(java.math.BigInteger.valueOf(Integer.MIN_VALUE)).min(java.math.BigInteger.valueOf(Integer.MAX_VALUE)).intValue();
    }

    private static java.math.BigInteger floorDiv(java.math.BigInteger a, java.math.BigInteger b) {
        java.math.BigInteger[] qr = a.divideAndRemainder(b);
        return qr[1].signum() < 0 ? qr[0].subtract(java.math.BigInteger.ONE) : qr[0];
    }

    @Test
    void singleRoundingMatchesTheExactModelForEveryShift() {
        SplittableRandom rnd = new SplittableRandom(31);
        for (int shift = FixedPoint.MIN_SHIFT; shift <= FixedPoint.MAX_SHIFT; shift++) {
            for (int i = 0; i < 3000; i++) {
                int x = i < 5 ? new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE, 0, 1, -1}[i] : rnd.nextInt();
                int m0 = i == 5 ? Integer.MAX_VALUE : (1 << 30) + rnd.nextInt(1 << 30);
                assertEquals(modelSingleRounding(x, m0, shift), FixedPoint.multiplyByQuantizedMultiplierSingleRounding(x, m0, shift),
                        "x=" + x + " m0=" + m0 + " shift=" + shift);
                assertEquals(FixedPoint.multiplyByQuantizedMultiplierSingleRounding(x, m0, shift),
                        FixedPoint.multiplyByQuantizedMultiplier(x, m0, shift, FixedPoint.Rounding.SINGLE));
                assertEquals(FixedPoint.multiplyByQuantizedMultiplier(x, m0, shift),
                        FixedPoint.multiplyByQuantizedMultiplier(x, m0, shift, FixedPoint.Rounding.DOUBLE));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> FixedPoint.multiplyByQuantizedMultiplierSingleRounding(1, 1 << 30, 31));
    }

    @Test
    void singleRoundingStaysWithinHalfAStepWhereDoubleRoundingDoesNot() {
        // a 2-bit layer: accumulator 1, M = 0.2546 (s_x s_w / s_y). Exact: 0.2546 -> 0. Double rounding: SRDHM rounds
        // 1 * 0.509 to 1 before the shift by 1, and 1/2 rounds away from zero -> 1, three quarters of a step off.
        QuantizedMultiplier m = FixedPoint.quantizeMultiplier(0.2546);
        assertEquals(1, FixedPoint.multiplyByQuantizedMultiplier(1, m));
        assertEquals(0, FixedPoint.multiplyByQuantizedMultiplierSingleRounding(1, m.multiplier(), m.shift()));
        SplittableRandom rnd = new SplittableRandom(8);
        int doubleOff = 0;
        for (int i = 0; i < 100_000; i++) {
            double real = Math.scalb(0.5 + rnd.nextDouble() * 0.5, rnd.nextInt(-8, 1));
            QuantizedMultiplier q = FixedPoint.quantizeMultiplier(real);
            int acc = rnd.nextInt(-64, 65);   // small accumulators, as 2- and 3-bit layers produce
            double exact = acc * q.value();
            int single = FixedPoint.multiplyByQuantizedMultiplierSingleRounding(acc, q.multiplier(), q.shift());
            assertTrue(Math.abs(single - exact) <= 0.5, "acc=" + acc + " M=" + real + " got " + single);
            doubleOff += Math.abs(FixedPoint.multiplyByQuantizedMultiplier(acc, q) - exact) > 0.5 ? 1 : 0;
        }
        assertTrue(doubleOff > 1000, "double rounding leaves half a step on small accumulators: " + doubleOff);
    }
}
