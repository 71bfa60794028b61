package io.qat4j.ptq.calibration;

/**
 * Streaming histogram of {@code |x|} with relative-width buckets: HdrHistogram's log-linear layout,
 * used as a relative-error quantile sketch in the sense of DDSketch (Masson, Rim, Lee, VLDB 2019).
 * Every octave {@code [2^k, 2^(k+1))} is split into {@code 2^SUB_BITS} equal buckets, so a bucket
 * is at most {@code 2^-SUB_BITS} (0.098%) of any value in it, at every scale.
 *
 * <p>A value's bucket is its float64 exponent and top {@code SUB_BITS} mantissa bits, read from its
 * IEEE-754 bits: exact, monotone, no logarithm per value, and every bucket edge is a dyadic number,
 * so edges nest with those of {@link DyadicHistogram}. (DDSketch's {@code ceil(log_gamma |x|)} index
 * gives the same guarantee at the cost of a logarithm per value.)
 *
 * <p>Only the {@code OCTAVES} octaves ending with the octave of {@code max|x|} are kept; zeros,
 * subnormals and anything below that window are one count, the <em>low</em> bucket
 * {@code [0, 2^bottom)}. When {@code max|x|} moves to a higher octave the octaves leaving the window
 * fold into the low bucket, so, as for {@link DyadicHistogram}, the state depends only on the
 * multiset of values seen, never on batch order. Memory: at most {@code OCTAVES * 2^SUB_BITS}
 * longs, allocated per octave on first use.
 */
final class LogLinearHistogram {

    /** Mantissa bits per bucket: 2^10 buckets per octave, relative bucket width <= 2^-10. */
    static final int SUB_BITS = 10;
    /**
     * Octaves kept, ending with the octave of max|x|: values down to about {@code 2^-48 max|x|}
     * (4e-15 of it) keep their own buckets, far below any step a 16-bit quantizer of that range has.
     */
    static final int OCTAVES = 48;

    private static final int MANTISSA_BITS = 52;
    private static final int SHIFT = MANTISSA_BITS - SUB_BITS;
    private static final int SUB_MASK = (1 << SUB_BITS) - 1;

    private final long[][] octaves = new long[OCTAVES][];
    /** Biased float64 exponent of the lowest kept octave (>= 1: subnormals are always low). */
    private int bottom = 1;
    /** Bucket key (exponent and top mantissa bits) of the lowest kept bucket. */
    private long baseKey = (long) bottom << SUB_BITS;
    private long low;

    /** Moves the window up so that {@code absMax}'s octave is its top; call before {@link #add}. */
    void cover(double absMax) {
        int top = (int) (Double.doubleToRawLongBits(absMax) >>> MANTISSA_BITS);
        int newBottom = Math.max(1, top - OCTAVES + 1);
        int shift = newBottom - bottom;
        if (shift <= 0) {
            return;
        }
        for (int i = 0; i < OCTAVES; i++) {
            if (i < shift && octaves[i] != null) {
                for (long c : octaves[i]) {
                    low += c;
                }
            }
            octaves[i] = i + shift < OCTAVES ? octaves[i + shift] : null;
        }
        bottom = newBottom;
        baseKey = (long) bottom << SUB_BITS;
    }

    /** Counts one {@code |x|}: non-negative, finite, at most the largest {@link #cover} argument so far. */
    void add(double abs) {
        long rel = (Double.doubleToRawLongBits(abs) >>> SHIFT) - baseKey;
        if (rel < 0) {
            low++;
            return;
        }
        int o = (int) (rel >>> SUB_BITS);
        long[] octave = octaves[o];
        if (octave == null) {
            octave = new long[1 << SUB_BITS];
            octaves[o] = octave;
        }
        octave[(int) rel & SUB_MASK]++;
    }

    /**
     * The value at fractional rank {@code target} (1-based, as a count) of the values counted here,
     * by linear interpolation inside the first bucket whose cumulative count reaches it: within the
     * bucket of the exact order statistic, so relatively within {@code 2^-SUB_BITS}, or in
     * {@code [0, 2^bottom)} when the rank falls in the low bucket. The upper end of the data when
     * {@code target} exceeds the count.
     */
    double valueAtRank(double target) {
        double floor = edge(baseKey);
        if (low >= target) {
            return floor * (target / low);
        }
        long cumulative = low;
        double last = floor;
        for (int o = 0; o < OCTAVES; o++) {
            long[] octave = octaves[o];
            if (octave == null) {
                continue;
            }
            for (int s = 0; s <= SUB_MASK; s++) {
                long c = octave[s];
                if (c == 0) {
                    continue;
                }
                long key = baseKey + ((long) o << SUB_BITS) + s;
                last = Math.min(edge(key + 1), Double.MAX_VALUE);   // the top bucket of float64 ends at infinity
                if (cumulative + c >= target) {
                    double lower = edge(key);
                    return lower + (target - cumulative) / c * (last - lower);
                }
                cumulative += c;
            }
        }
        return last;
    }

    /** Lower edge of the bucket with this key: the double whose exponent and top mantissa bits it is. */
    private static double edge(long key) {
        return Double.longBitsToDouble(key << SHIFT);
    }
}
