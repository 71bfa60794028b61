package io.qat4j.ptq.calibration;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Everything the activation calibrators need, gathered in one streaming pass over calibration
 * batches: global min/max, a moving average of per-batch min/max, mean and variance, and two
 * histograms of {@code |x|}:
 * <ul>
 *   <li>a uniform one ({@link DyadicHistogram}, {@code 2 bins} bins of a power-of-two width
 *       {@code w} with {@code max|x|/(2 bins) < w <= max|x|/bins}) for the entropy and MSE
 *       calibrators: {@code bins + 1} to {@code 2 bins} bins cover {@code [0, max|x|]}, so the
 *       resolution is never coarser than {@code bins} bins stretched over exactly that range
 *       (TensorRT's 2048). Keeping only {@code bins} bins would leave as few as {@code bins/2 + 1}
 *       there, e.g. 1025 for inputs in {@code [0, 1]};</li>
 *   <li>a log-linear one ({@link LogLinearHistogram}: buckets at most 0.098% of their values wide, at
 *       every scale) that {@link #absPercentile} reads where it is finer than the uniform bins.</li>
 * </ul>
 * Both grow by exact merges, so everything except the moving average (which is defined by batch
 * order) is the same whatever the order and sizes of the batches (mean and variance up to
 * rounding): a narrow first batch followed by a wide one calibrates like the reverse, and like one
 * batch holding both. Memory is independent
 * of the number of samples, so any {@code DataSetIterator} can be streamed through it.
 */
public final class ActivationStatistics {

    /** Default minimum number of uniform bins over {@code [0, max|x|]}: TensorRT's 2048. */
    public static final int DEFAULT_BINS = 2048;

    private final int bins;
    private final double averagingConstant;
    private final DyadicHistogram histogram;
    private final LogLinearHistogram logHistogram = new LogLinearHistogram();
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
     * @param bins              at least this many uniform histogram bins cover {@code [0, max|x|]} (at most
     *                          twice as many), >= 16 and even (default 2048)
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
        this.histogram = new DyadicHistogram(2 * bins);
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
        double sum = 0;
        for (double v : values) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("calibration: the activations hold NaN or Inf; check the model and the input data");
            }
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
            sum += v;
        }
        double absMax = Math.max(Math.abs(lo), Math.abs(hi));
        histogram.cover(absMax);
        logHistogram.cover(absMax);
        int n = values.length;
        double batchMean = sum / n;
        double batchM2 = 0;
        for (double v : values) {
            double a = Math.abs(v);
            histogram.add(a);
            logHistogram.add(a);
            double d = v - batchMean;
            batchM2 += d * d;
        }
        // Chan, Golub, LeVeque's pairwise update: no division per value, unlike Welford's.
        long total = count + n;
        double delta = batchMean - mean;
        mean += delta * n / total;
        m2 += batchM2 + delta * delta * ((double) count * n / total);
        count = total;
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

    /**
     * Upper edge of the uniform histogram, {@code histogram().length * binWidth()}: the edge of the
     * bin holding {@link #absMax()}, so {@code absMax() < histogramRange() <= absMax() + binWidth()}.
     */
    public double histogramRange() {
        return histogram.counts().length * histogram.width();
    }

    /** At least this many uniform bins cover {@code [0, max|x|]}. */
    public int bins() {
        return bins;
    }

    /** Bin width of the uniform |x| histogram, a power of two in {@code (absMax/(2 bins), absMax/bins]} (0 when every value was 0). */
    public double binWidth() {
        return histogram.width();
    }

    /**
     * A copy of the uniform |x| histogram: bin {@code j} counts {@code j w <= |x| < (j+1) w}
     * ({@code w} = {@link #binWidth()}), from bin 0 up to the bin holding {@link #absMax()}
     * ({@code bins + 1} to {@code 2 bins} bins; one bin when every value was 0).
     */
    public long[] histogram() {
        return histogram.counts();
    }

    /**
     * The p-th percentile of |x|, interpolated linearly inside the finest bin that holds it: a
     * uniform bin or a log-linear bucket, whichever is narrower there. It lies in the same bin as
     * the exact sample percentile (the {@code ceil(p/100 n)}-th smallest |x|), so it is within
     * {@link #binWidth()} and within a relative {@code 2^-10} (0.098%) of it. (Below about
     * {@code max|x| 2^-48} the log-linear buckets end; a percentile that small comes out between 0
     * and that floor.)
     *
     * @param p in (0, 100]
     */
    public double absPercentile(double p) {
        requireData();
        if (!(p > 0 && p <= 100)) {
            throw new IllegalArgumentException("absPercentile: p must be in (0, 100], got " + p);
        }
        double width = histogram.width();
        if (width == 0) {
            return 0;
        }
        double target = p / 100.0 * count;
        // Both grids are dyadic: below 2^SUB_BITS w the log-linear buckets are narrower than w and
        // nest inside the uniform bins; from there up the uniform bins are the narrower ones.
        long[] h = histogram.counts();
        int split = Math.min(h.length, 1 << LogLinearHistogram.SUB_BITS);
        long cumulative = 0;
        for (int j = 0; j < split; j++) {
            cumulative += h[j];
        }
        if (cumulative >= target) {
            return logHistogram.valueAtRank(target);
        }
        for (int j = split; j < h.length; j++) {
            if (cumulative + h[j] >= target && h[j] > 0) {
                return (j + (target - cumulative) / h[j]) * width;
            }
            cumulative += h[j];
        }
        return h.length * width;
    }

    /** The range {@code [0, t]} for non-negative data or {@code [-t, t]} for signed data. */
    Range clipped(double t) {
        double c = Math.min(t, absMax());
        return signed() ? new Range(-c, c) : new Range(0, c);
    }
}
