package io.qat4j.runtime;

/**
 * Fixed-point requantization with exactly TFLite's double-rounding semantics (gemmlowp
 * {@code fixedpoint.h}, TFLite {@code kernels/internal/common.h} and {@code quantization_util.cc}).
 *
 * <p>A real multiplier {@code M = s_x s_w / s_y} is stored as a Q31 integer {@code M0} in
 * {@code [2^30, 2^31)} and a power-of-two exponent: {@code M = M0 2^(shift - 31)}. An int32
 * accumulator is rescaled by {@link #multiplyByQuantizedMultiplier}: first a rounding doubling
 * high multiply ({@link #saturatingRoundingDoublingHighMul}, rounds half towards +infinity), then a
 * rounding right shift ({@link #roundingDivideByPOT}, rounds half away from zero). The two roundings
 * are what makes this differ from {@code round(acc * M)}; matching them bit for bit is what lets
 * the runtime reproduce TFLite and the exporter's integer simulation exactly.
 */
public final class FixedPoint {

    /** Largest left shift {@link #multiplyByQuantizedMultiplier} accepts. */
    public static final int MAX_SHIFT = 30;
    /** Smallest (most negative) shift; {@link #quantizeMultiplier} flushes anything smaller to zero. */
    public static final int MIN_SHIFT = -31;

    private FixedPoint() {
    }

    /**
     * A real multiplier {@code M0 2^(shift-31)}: {@code multiplier} (M0) in {@code [2^30, 2^31)},
     * or {@code 0} with {@code shift 0} for a multiplier too small to represent.
     */
    public record QuantizedMultiplier(int multiplier, int shift) {
        /** The real value this represents, {@code M0 2^(shift - 31)}. */
        public double value() {
            return Math.scalb((double) multiplier, shift - 31);
        }
    }

    /**
     * TFLite {@code QuantizeMultiplier}: {@code q = frexp(M, &shift)} (q in [0.5, 1)),
     * {@code M0 = round_half_away(q 2^31)}; if rounding reached {@code 2^31}, halve it and
     * increment the shift; if {@code shift < -31} both become 0 (the multiplier flushes to zero).
     *
     * @param realMultiplier M, finite and {@code >= 0}; must be {@code < 2^30} so that the shift
     *                       stays {@code <= 30} (requantization multipliers are normally below 1)
     * @throws IllegalArgumentException for a negative, NaN, infinite or too large multiplier
     */
    public static QuantizedMultiplier quantizeMultiplier(double realMultiplier) {
        if (!(realMultiplier >= 0) || Double.isInfinite(realMultiplier)) {
            throw new IllegalArgumentException("FixedPoint.quantizeMultiplier: the real multiplier must be finite and >= 0, got "
                    + realMultiplier + " (check the scales s_x, s_w, s_y it was computed from)");
        }
        if (realMultiplier == 0.0 || realMultiplier < Double.MIN_NORMAL) {
            return new QuantizedMultiplier(0, 0);
        }
        int shift = Math.getExponent(realMultiplier) + 1;          // frexp exponent: M = q 2^shift, q in [0.5, 1)
        double q = Math.scalb(realMultiplier, -shift);
        long qFixed = Math.round(Math.scalb(q, 31));                // q 2^31 >= 2^30 > 0: half-up == half-away
        if (qFixed == (1L << 31)) {
            qFixed /= 2;
            shift++;
        }
        if (shift < MIN_SHIFT) {
            return new QuantizedMultiplier(0, 0);
        }
        if (shift > MAX_SHIFT) {
            throw new IllegalArgumentException("FixedPoint.quantizeMultiplier: the real multiplier " + realMultiplier
                    + " needs a left shift of " + shift + " (> " + MAX_SHIFT + "), which overflows int32; "
                    + "requantization multipliers s_x*s_w/s_y should be far below 2^30: check the output scale");
        }
        return new QuantizedMultiplier((int) qFixed, shift);
    }

    /**
     * gemmlowp {@code SaturatingRoundingDoublingHighMul}: the high 32 bits of {@code 2ab}, rounded,
     * i.e. {@code floor(ab / 2^31 + 1/2)}; the one overflowing case {@code a = b = INT32_MIN}
     * saturates to {@code INT32_MAX}.
     */
    public static int saturatingRoundingDoublingHighMul(int a, int b) {
        if (a == Integer.MIN_VALUE && b == Integer.MIN_VALUE) {
            return Integer.MAX_VALUE;
        }
        long ab = (long) a * (long) b;
        long nudge = ab >= 0 ? (1L << 30) : (1L - (1L << 30));
        return (int) ((ab + nudge) / (1L << 31));                   // Java's / truncates toward zero, as C++ does
    }

    /**
     * gemmlowp {@code RoundingDivideByPOT}: {@code x / 2^exponent} rounded to nearest, ties away
     * from zero, using only shifts and masks.
     *
     * @param exponent in {@code [0, 31]}
     */
    public static int roundingDivideByPOT(int x, int exponent) {
        if (exponent < 0 || exponent > 31) {
            throw new IllegalArgumentException("FixedPoint.roundingDivideByPOT: exponent must be in [0, 31], got " + exponent);
        }
        int mask = (int) ((1L << exponent) - 1);
        int remainder = x & mask;
        int threshold = (mask >> 1) + (x < 0 ? 1 : 0);
        return (x >> exponent) + (remainder > threshold ? 1 : 0);
    }

    /**
     * TFLite {@code MultiplyByQuantizedMultiplier}: {@code RoundingDivideByPOT(SRDHM(x 2^left, M0), right)}
     * with {@code left = max(shift, 0)}, {@code right = max(-shift, 0)}.
     *
     * <p>{@code x 2^left} is an int32 product and wraps on overflow, as the compiled TFLite kernel
     * does; exporters keep {@code |x| 2^left < 2^31}.
     *
     * @param shift in {@code [-31, 30]}
     */
    public static int multiplyByQuantizedMultiplier(int x, int multiplier, int shift) {
        if (shift < MIN_SHIFT || shift > MAX_SHIFT) {
            throw new IllegalArgumentException("FixedPoint.multiplyByQuantizedMultiplier: shift must be in [" + MIN_SHIFT + ", "
                    + MAX_SHIFT + "], got " + shift);
        }
        int left = shift > 0 ? shift : 0;
        int right = shift > 0 ? 0 : -shift;
        return roundingDivideByPOT(saturatingRoundingDoublingHighMul(x * (1 << left), multiplier), right);
    }

    /**
     * How {@code acc * M0 2^(shift-31)} is rounded to an integer: TFLite has two variants of
     * {@code MultiplyByQuantizedMultiplier}, selected at build time by {@code TFLITE_SINGLE_ROUNDING}.
     */
    public enum Rounding {
        /**
         * The default TFLite/gemmlowp arithmetic ({@link #multiplyByQuantizedMultiplier(int, int, int)}):
         * a rounding doubling high multiply, then a rounding right shift. The first rounding happens
         * before the shift, so for small accumulators (a few units, as 2- and 3-bit layers produce) the
         * result can be up to 3/4 of an output step away from {@code acc M}.
         */
        DOUBLE,
        /**
         * TFLite's {@code TFLITE_SINGLE_ROUNDING} arithmetic ({@link #multiplyByQuantizedMultiplierSingleRounding}):
         * one 64-bit product and one rounding shift, {@code floor(acc M0 / 2^(31-shift) + 1/2)}, so the
         * result is always within half an output step of {@code acc M0 2^(shift-31)}.
         */
        SINGLE
    }

    /**
     * TFLite {@code MultiplyByQuantizedMultiplier} built with {@code TFLITE_SINGLE_ROUNDING}:
     * {@code (x M0 + 2^(30-shift)) >> (31-shift)} in 64 bits, i.e. rounded to nearest with ties
     * towards +infinity; saturated to int32 (TFLite only DCHECKs the range).
     *
     * @param shift in {@code [-31, 30]}
     */
    public static int multiplyByQuantizedMultiplierSingleRounding(int x, int multiplier, int shift) {
        if (shift < MIN_SHIFT || shift > MAX_SHIFT) {
            throw new IllegalArgumentException("FixedPoint.multiplyByQuantizedMultiplierSingleRounding: shift must be in [" + MIN_SHIFT
                    + ", " + MAX_SHIFT + "], got " + shift);
        }
        int totalShift = 31 - shift;                                 // 1..62
        long result = ((long) x * multiplier + (1L << (totalShift - 1))) >> totalShift;   // |x M0| < 2^62: no overflow
        return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, result));
    }

    /** {@code MultiplyByQuantizedMultiplier} with the given rounding. */
    public static int multiplyByQuantizedMultiplier(int x, int multiplier, int shift, Rounding rounding) {
        return rounding == Rounding.SINGLE ? multiplyByQuantizedMultiplierSingleRounding(x, multiplier, shift)
                : multiplyByQuantizedMultiplier(x, multiplier, shift);
    }

    /** {@link #multiplyByQuantizedMultiplier} with a precomputed {@link QuantizedMultiplier}. */
    public static int multiplyByQuantizedMultiplier(int x, QuantizedMultiplier m) {
        return multiplyByQuantizedMultiplier(x, m.multiplier(), m.shift());
    }
}
