package io.qat4j.ste;

import java.util.Arrays;

/**
 * Scales and zero points of a quantizer: one entry per quantization group (one for per-tensor,
 * one per channel, one per group; see {@link QuantGroups} for the order). Immutable.
 *
 * <p>{@link #fromRange} follows PyTorch's observers and TFLite's conventions:
 * <ul>
 *   <li>symmetric: {@code s = max(|min|, |max|) / ((qmax - qmin) / 2)} for signed ranges (so the
 *       narrow int8 range gives {@code amax/127}), {@code s = max(max, 0) / qmax} for unsigned; {@code z = 0};</li>
 *   <li>affine: the range is first widened to contain 0 (zero must be exactly representable so
 *       that zero padding and ReLU are exact), {@code s = (max - min) / (qmax - qmin)},
 *       {@code z = clamp(qmin - rint(min / s), qmin, qmax)};</li>
 *   <li>a scale below {@link #MIN_SCALE} (an all-zero channel, a constant tensor) becomes
 *       {@link #MIN_SCALE}, so the scale stays finite and positive and zeros still map to {@code z}.</li>
 * </ul>
 */
public final class QParams {

    /** Smallest scale {@link #fromRange} produces: float32 machine epsilon, as in PyTorch observers. */
    public static final double MIN_SCALE = Math.ulp(1.0f);

    private final double[] scale;
    private final int[] zeroPoint;

    /**
     * @param scale     one positive, finite scale per group
     * @param zeroPoint one zero point per group (same length as {@code scale})
     */
    public QParams(double[] scale, int[] zeroPoint) {
        if (scale == null || zeroPoint == null || scale.length == 0 || scale.length != zeroPoint.length) {
            throw new IllegalArgumentException("QParams: scale and zeroPoint must be non-empty and of equal length, got "
                    + (scale == null ? "null" : scale.length) + " and " + (zeroPoint == null ? "null" : zeroPoint.length));
        }
        for (int i = 0; i < scale.length; i++) {
            if (!(scale[i] > 0) || Double.isInfinite(scale[i])) {
                throw new IllegalArgumentException("QParams: scale[" + i + "] must be positive and finite, got " + scale[i]);
            }
        }
        this.scale = scale.clone();
        this.zeroPoint = zeroPoint.clone();
    }

    /** Per-tensor qparams. */
    public static QParams of(double scale, int zeroPoint) {
        return new QParams(new double[] {scale}, new int[] {zeroPoint});
    }

    /**
     * Qparams covering {@code [min[g], max[g]]} for each group g under {@code spec}.
     *
     * @throws IllegalArgumentException if a bound is NaN or infinite, or {@code min > max}
     */
    public static QParams fromRange(QuantSpec spec, double[] min, double[] max) {
        if (min.length != max.length || min.length == 0) {
            throw new IllegalArgumentException("QParams.fromRange: min and max must be non-empty and of equal length, got "
                    + min.length + " and " + max.length);
        }
        int qmin = spec.qmin();
        int qmax = spec.qmax();
        double[] s = new double[min.length];
        int[] z = new int[min.length];
        for (int g = 0; g < min.length; g++) {
            double lo = min[g];
            double hi = max[g];
            if (!Double.isFinite(lo) || !Double.isFinite(hi) || lo > hi) {
                throw new IllegalArgumentException("QParams.fromRange: group " + g + " has range [" + lo + ", " + hi
                        + "]; the range must be finite with min <= max (NaN/Inf in the data, or an observer that saw no data?)");
            }
            switch (spec.scheme()) {
                case SYMMETRIC -> {
                    double amax = spec.signed() ? Math.max(Math.abs(lo), Math.abs(hi)) : Math.max(hi, 0.0);
                    double denom = spec.signed() ? (qmax - qmin) / 2.0 : qmax;
                    s[g] = Math.max(amax / denom, MIN_SCALE);
                    z[g] = 0;
                }
                case AFFINE -> {
                    double l = Math.min(lo, 0.0);
                    double h = Math.max(hi, 0.0);
                    s[g] = Math.max((h - l) / (qmax - qmin), MIN_SCALE);
                    double zp = qmin - Math.rint(l / s[g]);
                    z[g] = (int) Math.max(qmin, Math.min(qmax, zp));
                }
            }
        }
        return new QParams(s, z);
    }

    public int size() {
        return scale.length;
    }

    public double scale(int group) {
        return scale[group];
    }

    public int zeroPoint(int group) {
        return zeroPoint[group];
    }

    /** A copy of the scales. */
    public double[] scales() {
        return scale.clone();
    }

    /** A copy of the zero points. */
    public int[] zeroPoints() {
        return zeroPoint.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QParams q && Arrays.equals(scale, q.scale) && Arrays.equals(zeroPoint, q.zeroPoint);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(scale) + Arrays.hashCode(zeroPoint);
    }

    @Override
    public String toString() {
        return "QParams{scale=" + Arrays.toString(scale) + ", zeroPoint=" + Arrays.toString(zeroPoint) + "}";
    }
}
