package io.qat4j.ptq.calibration;

/** The observed {@code [min, max]} (zero included), the same for every width; never clips. */
public final class MinMaxCalibrator implements Calibrator {

    @Override
    public Range range(ActivationStatistics stats, int bits) {
        Calibrator.checkBits(bits);
        return new Range(Math.min(0, stats.min()), Math.max(0, stats.max()));
    }

    @Override
    public String name() {
        return "minmax";
    }
}
