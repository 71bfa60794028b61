package io.qat4j.ptq.calibration;

/**
 * Chooses the clip threshold {@code t} minimizing the expected squared quantization error
 * {@code E||x - Q_t(x)||^2}, estimated from the {@code |x|} histogram with each bin's count at its
 * centre: {@code Q_t} has step {@code t / L} ({@code L} = {@link Calibrator#positiveLevels}),
 * rounds inside {@code [0, t]} and clips above. Candidates are every bin edge, so the result is
 * within one bin width of the best threshold for the histogrammed data. The uniform histogram's
 * bins are fixed by {@code max|x|} alone, so the result does not depend on batch order. It does not
 * read the finer log-linear buckets: for candidates with a step {@code t / L} above twice the bin
 * width, bin 0 rounds to 0 both at its centre and wherever its values really are, so the centre
 * estimate only adds the same constant to all those candidates' errors (issue 14's example, 40
 * million values in bin 0: the threshold's true error is within 0.8% of the brute-force optimum).
 */
public final class MseCalibrator implements Calibrator {

    @Override
    public Range range(ActivationStatistics stats, int bits) {
        int levels = Calibrator.positiveLevels(stats.signed(), bits);
        return stats.clipped(threshold(stats.histogram(), stats.binWidth(), levels));
    }

    static double threshold(long[] hist, double width, int levels) {
        if (width == 0) {
            return 0;
        }
        int last = hist.length;
        while (last > 1 && hist[last - 1] == 0) {
            last--;
        }
        double bestError = Double.POSITIVE_INFINITY;
        double best = last * width;
        for (int i = 1; i <= last; i++) {
            double t = i * width;
            double err = error(hist, width, t, levels, bestError);
            if (err < bestError) {
                bestError = err;
                best = t;
            }
        }
        return best;
    }

    /** Histogram estimate of the squared error at threshold t (stops early once above {@code stopAbove}). */
    static double error(long[] hist, double width, double t, int levels, double stopAbove) {
        double step = t / levels;
        double err = 0;
        for (int j = 0; j < hist.length; j++) {
            if (hist[j] == 0) {
                continue;
            }
            double c = (j + 0.5) * width;
            double d = c >= t ? c - t : c - step * Math.rint(c / step);
            err += hist[j] * d * d;
            if (err > stopAbove) {
                return err;
            }
        }
        return err;
    }

    @Override
    public String name() {
        return "mse";
    }
}
