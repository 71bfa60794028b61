package io.qat4j.ptq.calibration;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Everything the activation calibrators need, gathered in one streaming pass over calibration
 * batches: global min/max, a moving average of per-batch min/max, mean and variance, and a
 * histogram of {@code |x|}.
 *
 * <p>The histogram has a fixed number of bins over {@code [0, R]}. The first batch sets {@code R}
 * to its largest {@code |x|}; when a later value exceeds {@code R}, {@code R} doubles (as often as
 * needed) and adjacent bin pairs merge, so bin edges stay aligned and no count is ever moved to a
 * wrong bin (only resolution is lost). Memory is independent of the number of samples, so any
 * {@code DataSetIterator} can be streamed through it.
 */
public final class ActivationStatistics {

    /** Histogram bins, TensorRT's 2048 by default. */
    public static final int DEFAULT_BINS = 2048;

    private final int bins;
    private final double averagingConstant;
    private final long[] histogram;
    private double range;
    private long count;
    private long batches;
    private double min = Double.POSITIVE_INFINITY;
    private double max = Double.NEGATIVE_INFINITY;
    private double movingMin;
    private double movingMax;
    private double mean;
    private double m2;

    public ActivationStatistics() {
        this(DEFAULT_BINS, 0.01);
    }

    /**
     * @param bins              histogram bins over {@code [0, max|x|]}, >= 16 and even (default 2048)
     * @param averagingConstant moving-average constant c in (0, 1] for the moving min/max (default 0.01)
     */
    public ActivationStatistics(int bins, double averagingConstant) {
        if (bins < 16 || bins % 2 != 0) {
            throw new IllegalArgumentException("ActivationStatistics: bins must be an even number >= 16 (default 2048), got " + bins);
        }
        if (!(averagingConstant > 0 && averagingConstant <= 1)) {
            throw new IllegalArgumentException("ActivationStatistics: averagingConstant must be in (0, 1] (default 0.01), got "
                    + averagingConstant);
        }
        this.bins = bins;
        this.averagingConstant = averagingConstant;
        this.histogram = new long[bins];
    }

    /** Adds one batch (any shape). NaN or Inf is an error. */
    public void observe(INDArray batch) {
        observe(batch.castTo(DataType.DOUBLE).dup('c').data().asDouble());
    }

    /** Adds one batch of values. NaN or Inf is an error. */
    public void observe(double[] values) {
        if (values.length == 0) {
            return;
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("calibration: the activations hold NaN or Inf; check the model and the input data");
            }
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        double absMax = Math.max(Math.abs(lo), Math.abs(hi));
        if (range == 0) {
            range = absMax;   // stays 0 while everything seen is exactly 0 (all counts then go to bin 0)
        }
        while (absMax > range) {
            grow();
        }
        double width = range / bins;
        for (double v : values) {
            double a = Math.abs(v);
            int b = width == 0 ? 0 : (int) Math.min(bins - 1, Math.floor(a / width));
            histogram[b]++;
            count++;
            double d = v - mean;
            mean += d / count;
            m2 += d * (v - mean);
        }
        if (batches == 0) {
            movingMin = lo;
            movingMax = hi;
        } else {
            movingMin += averagingConstant * (lo - movingMin);
            movingMax += averagingConstant * (hi - movingMax);
        }
        min = Math.min(min, lo);
        max = Math.max(max, hi);
        batches++;
    }

    /** Doubles the histogram range, merging adjacent bin pairs into the lower half. */
    private void grow() {
        for (int i = 0; i < bins / 2; i++) {
            histogram[i] = histogram[2 * i] + histogram[2 * i + 1];
        }
        java.util.Arrays.fill(histogram, bins / 2, bins, 0);
        range *= 2;
    }

    private void requireData() {
        if (count == 0) {
            throw new IllegalStateException("calibration: no activations observed; give the calibration at least one batch");
        }
    }

    public long count() {
        return count;
    }

    public long batches() {
        return batches;
    }

    public double min() {
        requireData();
        return min;
    }

    public double max() {
        requireData();
        return max;
    }

    public double movingMin() {
        requireData();
        return movingMin;
    }

    public double movingMax() {
        requireData();
        return movingMax;
    }

    public double mean() {
        requireData();
        return mean;
    }

    /** Population standard deviation. */
    public double std() {
        requireData();
        return Math.sqrt(m2 / count);
    }

    /** True when some value was negative: ranges are then symmetric {@code [-t, t]}, else {@code [0, t]}. */
    public boolean signed() {
        requireData();
        return min < 0;
    }

    /** Largest |x| seen. */
    public double absMax() {
        requireData();
        return Math.max(Math.abs(min), Math.abs(max));
    }

    /** Upper edge of the histogram (>= {@link #absMax()}). */
    public double histogramRange() {
        return range;
    }

    public int bins() {
        return bins;
    }

    /** Bin width of the |x| histogram (0 when every value was 0). */
    public double binWidth() {
        return range / bins;
    }

    /** A copy of the |x| histogram counts. */
    public long[] histogram() {
        return histogram.clone();
    }

    /** The range {@code [0, t]} for non-negative data or {@code [-t, t]} for signed data. */
    Range clipped(double t) {
        double c = Math.min(t, absMax());
        return signed() ? new Range(-c, c) : new Range(0, c);
    }
}
