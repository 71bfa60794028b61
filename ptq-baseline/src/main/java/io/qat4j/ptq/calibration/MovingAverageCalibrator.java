package io.qat4j.ptq.calibration;

/**
 * Exponential moving average of per-batch min and max ({@code m += c (batch - m)}, the first batch
 * sets it; c from {@link ActivationStatistics}, default 0.01), zero included: TensorFlow's and
 * PyTorch's QAT observer used for calibration. Unlike min-max, one outlier batch moves it by only c.
 */
public final class MovingAverageCalibrator implements Calibrator {

    @Override
    public Range range(ActivationStatistics stats, int bits) {
        Calibrator.checkBits(bits);
        return new Range(Math.min(0, stats.movingMin()), Math.max(0, stats.movingMax()));
    }

    @Override
    public String name() {
        return "moving-average";
    }
}
