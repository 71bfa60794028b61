package io.qat4j.ptq.calibration;

/**
 * Clips at the p-th percentile of {@code |x|} (NVIDIA's integer-quantization study: 99.9 to
 * 99.999), read from the histogram with linear interpolation inside the bin, so the threshold is
 * within one bin width of the exact sample percentile.
 */
public final class PercentileCalibrator implements Calibrator {

    /** Default percentile. */
    public static final double DEFAULT_PERCENTILE = 99.99;

    private final double percentile;

    public PercentileCalibrator() {
        this(DEFAULT_PERCENTILE);
    }

    /** @param percentile in (0, 100], e.g. 99.99 */
    public PercentileCalibrator(double percentile) {
        if (!(percentile > 0 && percentile <= 100)) {
            throw new IllegalArgumentException("percentile calibrator: percentile must be in (0, 100] (e.g. 99.99), got " + percentile);
        }
        this.percentile = percentile;
    }

    public double percentile() {
        return percentile;
    }

    @Override
    public Range range(ActivationStatistics stats, int bits) {
        Calibrator.checkBits(bits);
        return stats.clipped(threshold(stats.histogram(), stats.binWidth(), stats.count(), percentile));
    }

    /** The p-th percentile of the histogrammed values. */
    static double threshold(long[] hist, double width, long count, double percentile) {
        double target = percentile / 100.0 * count;
        long cumulative = 0;
        for (int i = 0; i < hist.length; i++) {
            if (cumulative + hist[i] >= target && hist[i] > 0) {
                double inside = (target - cumulative) / hist[i];
                return (i + inside) * width;
            }
            cumulative += hist[i];
        }
        return hist.length * width;
    }

    @Override
    public String name() {
        return "percentile-" + percentile;
    }
}
