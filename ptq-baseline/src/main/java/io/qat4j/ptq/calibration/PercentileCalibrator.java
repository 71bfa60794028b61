package io.qat4j.ptq.calibration;

/**
 * Clips at the p-th percentile of {@code |x|} (NVIDIA's integer-quantization study: 99.9 to
 * 99.999), read by {@link ActivationStatistics#absPercentile}: within one uniform bin width and
 * within 0.098% (relative) of the exact sample percentile, whatever the order of the batches, even
 * when the percentile is far below {@code max|x|}.
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
        return stats.clipped(stats.absPercentile(percentile));
    }

    @Override
    public String name() {
        return "percentile-" + percentile;
    }
}
