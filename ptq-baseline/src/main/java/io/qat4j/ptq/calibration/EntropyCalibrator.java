package io.qat4j.ptq.calibration;

/**
 * TensorRT's entropy calibration (Migacz, "8-bit Inference with TensorRT", 2017; NVIDIA's
 * integer-quantization study): over the uniform {@code |x|} histogram
 * ({@link ActivationStatistics#histogram()}: power-of-two bin width, bins up to the one holding
 * {@code max|x|}, 2049 to 4096 of them by default, where TensorRT stretches 2048 over
 * {@code [0, max|x|]}), for every candidate threshold bin {@code i} from {@code nq} to the last bin:
 * <ol>
 *   <li>reference P = the first {@code i} bins, with all counts beyond folded into bin {@code i-1}
 *       (clipping moves outliers onto the threshold);</li>
 *   <li>candidate Q = the first {@code i} bins merged into {@code nq} quantization bins
 *       ({@code i / nq} bins each, the last one takes the remainder) and expanded back evenly over
 *       the bins that were non-zero in P;</li>
 *   <li>both smoothed (empty bins get {@code eps = 1e-4} of mass taken evenly from the others) and
 *       normalized; score {@code KL(P || Q)}.</li>
 * </ol>
 * The threshold is the upper edge of the bin with the smallest KL. {@code nq} is the number of
 * quantization levels covering {@code [0, t]}: {@code 2^(b-1)} for signed data (TensorRT's 128 at
 * 8 bits), {@code 2^b} for non-negative data. The histogram's bin width is a power of two fixed by
 * {@code max|x|} alone, so the result does not depend on the order of the calibration batches.
 * It reads the uniform bins only (not the finer log-linear ones near zero): the method is defined
 * on a fixed number of equal bins, and its cost grows with the square of their number.
 */
public final class EntropyCalibrator implements Calibrator {

    static final double EPS = 1e-4;

    @Override
    public Range range(ActivationStatistics stats, int bits) {
        Calibrator.checkBits(bits);
        int nq = Calibrator.positiveLevels(stats.signed(), bits) + 1;
        return stats.clipped(threshold(stats.histogram(), stats.binWidth(), nq));
    }

    /** Threshold (upper bin edge) minimizing the KL divergence; the full range when there are fewer bins than levels. */
    static double threshold(long[] hist, double width, int nq) {
        int bins = hist.length;
        if (nq >= bins) {
            return bins * width;
        }
        long[] suffix = new long[bins + 1];
        for (int i = bins - 1; i >= 0; i--) {
            suffix[i] = suffix[i + 1] + hist[i];
        }
        double bestKl = Double.POSITIVE_INFINITY;
        int best = bins;
        double[] p = new double[bins];
        double[] q = new double[bins];
        for (int i = nq; i <= bins; i++) {
            for (int j = 0; j < i; j++) {
                p[j] = hist[j];
            }
            p[i - 1] += suffix[i];
            int merged = i / nq;
            java.util.Arrays.fill(q, 0, i, 0);
            for (int k = 0; k < nq; k++) {
                int start = k * merged;
                int stop = k == nq - 1 ? i : start + merged;
                double sum = 0;
                int nonZero = 0;
                for (int j = start; j < stop; j++) {
                    sum += hist[j];
                    nonZero += p[j] != 0 ? 1 : 0;
                }
                if (nonZero > 0) {
                    for (int j = start; j < stop; j++) {
                        q[j] = p[j] != 0 ? sum / nonZero : 0;
                    }
                }
            }
            double kl = klDivergence(p, q, i);
            if (kl < bestKl) {
                bestKl = kl;
                best = i;
            }
        }
        return best * width;
    }

    /** KL(P || Q) of the first n entries after normalizing and smoothing both; infinite when Q cannot be smoothed. */
    static double klDivergence(double[] pCounts, double[] qCounts, int n) {
        double[] p = smoothed(pCounts, n);
        double[] q = smoothed(qCounts, n);
        if (p == null || q == null) {
            return Double.POSITIVE_INFINITY;
        }
        double kl = 0;
        for (int j = 0; j < n; j++) {
            if (p[j] > 0) {
                kl += p[j] * Math.log(p[j] / q[j]);
            }
        }
        return kl;
    }

    /** Normalized copy with {@code EPS} moved onto every empty bin; null when all bins are empty or smoothing would go negative. */
    static double[] smoothed(double[] counts, int n) {
        double total = 0;
        int zeros = 0;
        for (int j = 0; j < n; j++) {
            total += counts[j];
            zeros += counts[j] == 0 ? 1 : 0;
        }
        int nonZeros = n - zeros;
        if (total == 0 || nonZeros == 0) {
            return null;
        }
        double take = EPS * zeros / nonZeros;
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double v = counts[j] / total;
            out[j] = v == 0 ? EPS : v - take;
            if (out[j] <= 0) {
                return null;
            }
        }
        return out;
    }

    @Override
    public String name() {
        return "entropy";
    }
}
