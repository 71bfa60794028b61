package io.qat4j.ptq.calibration;

/**
 * A calibrated activation range {@code [min, max]}.
 *
 * @param min lower end, finite
 * @param max upper end, finite, {@code >= min}
 */
public record Range(double min, double max) {
    public Range {
        if (!Double.isFinite(min) || !Double.isFinite(max) || min > max) {
            throw new IllegalArgumentException("calibrated range needs finite min <= max, got [" + min + ", " + max + "]");
        }
    }

    /** {@code max(|min|, |max|)}. */
    public double absMax() {
        return Math.max(Math.abs(min), Math.abs(max));
    }
}
