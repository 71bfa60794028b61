package io.qat4j.ptq.calibration;

/** The activation calibrators by name (as in YAML recipes and plans). */
public enum CalibrationMethod {
    /** {@link MinMaxCalibrator}. */
    MINMAX,
    /** {@link MovingAverageCalibrator}. */
    MOVING_AVERAGE,
    /** {@link PercentileCalibrator}. */
    PERCENTILE,
    /** {@link EntropyCalibrator}. */
    ENTROPY,
    /** {@link MseCalibrator}. */
    MSE,
    /** {@link AciqCalibrator}. */
    ACIQ;

    /** The calibrator; {@code percentile} is used by PERCENTILE only. */
    public Calibrator create(double percentile) {
        return switch (this) {
            case MINMAX -> new MinMaxCalibrator();
            case MOVING_AVERAGE -> new MovingAverageCalibrator();
            case PERCENTILE -> new PercentileCalibrator(percentile);
            case ENTROPY -> new EntropyCalibrator();
            case MSE -> new MseCalibrator();
            case ACIQ -> new AciqCalibrator();
        };
    }
}
