package io.qat4j.ptq.calibration;

import java.util.Arrays;

/**
 * Streaming histogram of {@code |x|} with {@code n} uniform bins whose width is a power of two: bin
 * {@code j} holds {@code j w <= |x| < (j + 1) w} with {@code w = 2^e}, and {@code e} is the smallest
 * exponent with {@code max|x| < n w}. So {@code max|x|/n < w <= 2 max|x|/n}, and bins 0 to the
 * one holding {@code max|x|} are {@code n/2 + 1} to {@code n} of them.
 *
 * <p>Why dyadic: {@code floor(|x| 2^-e)} is exact in float64, and
 * {@code floor(floor(|x| 2^-e) / 2) = floor(|x| 2^-(e+1))}, so when a larger value arrives and
 * {@code e} grows, merging bin pairs gives exactly the counts a single pass at the new width would
 * have given. The state depends only on the multiset of values seen, never on batch order or
 * batch sizes. (A histogram whose range is set by the first batch, then doubled, keeps a bin
 * width of {@code firstMax 2^k / n}: a narrow first batch followed by a wide one, or the reverse,
 * gives different widths and different calibrations. A range of {@code 2^ceil(log2 max|x|)} split
 * into {@code n} bins would be dyadic too for a power-of-two {@code n}, but puts a value equal to
 * that power of two on the upper edge, where clamping it into the last bin breaks the merge rule;
 * the strict {@code max|x| < n w} never clamps.)
 *
 * <p>While every value seen is exactly 0 there is no width yet and all counts sit in bin 0.
 * Memory is {@code n} longs, independent of the number of values.
 */
final class DyadicHistogram {

    /** Lowest width exponent: {@code 2^-MIN_EXPONENT} stays finite, so the inverse width is exact. */
    private static final int MIN_EXPONENT = -1022;

    private final int bins;
    private final long[] counts;
    private boolean hasWidth;
    private int exponent;
    private double inverseWidth;

    /** @param bins number of bins, even (pairs merge), >= 2 */
    DyadicHistogram(int bins) {
        if (bins < 2 || bins % 2 != 0) {
            throw new IllegalArgumentException("DyadicHistogram: bins must be even and >= 2, got " + bins);
        }
        this.bins = bins;
        this.counts = new long[bins];
    }

    /** Widens the bins (merging pairs) until {@code absMax} falls inside the histogram; call before {@link #add}. */
    void cover(double absMax) {
        if (!(absMax > 0)) {
            return;
        }
        int needed = exponentFor(absMax);
        if (!hasWidth) {
            hasWidth = true;
            exponent = needed;   // counts so far are zeros, in bin 0 at any width
        }
        while (exponent < needed) {
            for (int i = 0; i < bins / 2; i++) {
                counts[i] = counts[2 * i] + counts[2 * i + 1];
            }
            Arrays.fill(counts, bins / 2, bins, 0);
            exponent++;
        }
        inverseWidth = Math.scalb(1.0, -exponent);
    }

    /** Smallest {@code e >= MIN_EXPONENT} with {@code absMax < bins 2^e}. */
    private int exponentFor(double absMax) {
        double span = bins;
        int e = Math.max(MIN_EXPONENT, Math.getExponent(absMax) - Math.getExponent(span));
        while (!(absMax < Math.scalb(span, e))) {
            e++;
        }
        while (e > MIN_EXPONENT && absMax < Math.scalb(span, e - 1)) {
            e--;
        }
        return e;
    }

    /** Counts one {@code |x|}, at most the largest {@link #cover} argument so far. */
    void add(double abs) {
        counts[(int) (abs * inverseWidth)]++;
    }

    /** Bin width {@code 2^e}; 0 while every value seen was 0. */
    double width() {
        return hasWidth ? Math.scalb(1.0, exponent) : 0;
    }

    /** Counts of bins 0 up to the highest non-empty one (the bin holding max|x|). */
    long[] counts() {
        int n = counts.length;
        while (n > 1 && counts[n - 1] == 0) {
            n--;
        }
        return Arrays.copyOf(counts, n);
    }
}
