package io.qat4j.ste.reference;

import java.math.BigDecimal;
import java.math.RoundingMode;

import io.qat4j.ste.Granularity;
import io.qat4j.ste.QuantSpec;

/**
 * Plain {@code double[]} reference implementations of the ste ops, written from DESIGN.md's
 * formulas element by element, with no ND4J. Tensors are flat C-order arrays plus a shape.
 * Shared with other modules' tests through this module's test-jar.
 *
 * <p>Only the raw fields of {@link QuantSpec} (bits, signed, scheme, narrowRange, granularity, axis,
 * groupSize, rounding) are read; ranges, groups and rounding are recomputed here independently.
 */
public final class QuantReference {

    private QuantReference() {
    }

    public static int qmin(QuantSpec spec) {
        if (!spec.signed()) {
            return 0;
        }
        long half = Math.round(Math.pow(2, spec.bits() - 1));
        return (int) (spec.narrowRange() ? -(half - 1) : -half);
    }

    public static int qmax(QuantSpec spec) {
        return (int) (spec.signed() ? Math.round(Math.pow(2, spec.bits() - 1)) - 1 : Math.round(Math.pow(2, spec.bits())) - 1);
    }

    public static double roundHalfEven(double v) {
        return Double.isFinite(v) ? new BigDecimal(v).setScale(0, RoundingMode.HALF_EVEN).doubleValue() : v;
    }

    public static double roundHalfAway(double v) {
        return Double.isFinite(v) ? new BigDecimal(v).setScale(0, RoundingMode.HALF_UP).doubleValue() : v;
    }

    /** Ties toward +infinity: {@code floor(v + 1/2)} in exact decimal arithmetic. */
    public static double roundHalfUp(double v) {
        return Double.isFinite(v) ? new BigDecimal(v).add(new BigDecimal("0.5")).setScale(0, RoundingMode.FLOOR).doubleValue() : v;
    }

    /** {@code floor(v) + [u < frac(v)]}. */
    public static double roundStochastic(double v, double u) {
        double f = Math.floor(v);
        return f + (u < v - f ? 1 : 0);
    }

    public static long size(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** Number of qparams groups of a tensor of this shape. */
    public static int groupCount(Granularity g, int axis, int groupSize, long[] shape) {
        return switch (g) {
            case PER_TENSOR -> 1;
            case PER_CHANNEL -> (int) shape[axis];
            case PER_GROUP -> (int) (size(shape) / groupSize);
        };
    }

    /** Group of flat C-order index i. */
    public static int groupOf(long i, Granularity g, int axis, int groupSize, long[] shape) {
        if (g == Granularity.PER_TENSOR) {
            return 0;
        }
        long inner = 1;
        for (int d = axis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        long c = shape[axis];
        long channel = (i / inner) % c;
        if (g == Granularity.PER_CHANNEL) {
            return (int) channel;
        }
        long perChannel = size(shape) / c;
        long outer = i / (inner * c);
        long position = outer * inner + i % inner;   // index within the channel, C order of the other dims
        return (int) (channel * (perChannel / groupSize) + position / groupSize);
    }

    public static int groupOf(long i, QuantSpec spec, long[] shape) {
        return groupOf(i, spec.granularity(), spec.axis(), spec.groupSize(), shape);
    }

    private static double round(QuantSpec spec, double v, double[] noise, int i) {
        return switch (spec.rounding()) {
            case HALF_EVEN -> roundHalfEven(v);
            case HALF_AWAY -> roundHalfAway(v);
            case HALF_UP -> roundHalfUp(v);
            case STOCHASTIC -> roundStochastic(v, noise[i]);
        };
    }

    /** {@code clamp(round(x/s) + z, qmin, qmax)}; {@code noise} (one u per element) only for stochastic rounding. */
    public static int[] quantize(double[] x, long[] shape, QuantSpec spec, double[] s, int[] z, double[] noise) {
        int[] q = new int[x.length];
        int lo = qmin(spec);
        int hi = qmax(spec);
        for (int i = 0; i < x.length; i++) {
            int g = groupOf(i, spec, shape);
            double r = round(spec, x[i] / s[g], noise, i) + z[g];
            q[i] = (int) Math.max(lo, Math.min(hi, r));
        }
        return q;
    }

    public static double[] dequantize(int[] q, long[] shape, QuantSpec spec, double[] s, int[] z) {
        double[] x = new double[q.length];
        for (int i = 0; i < q.length; i++) {
            int g = groupOf(i, spec, shape);
            x[i] = s[g] * ((double) q[i] - z[g]);
        }
        return x;
    }

    /**
     * {@code s (clamp(round(x/s) + z, qmin, qmax) - z)}; non-finite inputs by definition: NaN stays NaN,
     * {@code +inf} gives {@code s (qmax - z)}, {@code -inf} gives {@code s (qmin - z)}.
     */
    public static double[] fakeQuant(double[] x, long[] shape, QuantSpec spec, double[] s, int[] z, double[] noise) {
        double[] finite = x.clone();
        for (int i = 0; i < finite.length; i++) {
            if (!Double.isFinite(finite[i])) {
                finite[i] = 0;
            }
        }
        double[] out = dequantize(quantize(finite, shape, spec, s, z, noise), shape, spec, s, z);
        for (int i = 0; i < x.length; i++) {
            int g = groupOf(i, spec, shape);
            if (Double.isNaN(x[i])) {
                out[i] = Double.NaN;
            } else if (x[i] == Double.POSITIVE_INFINITY) {
                out[i] = s[g] * ((double) qmax(spec) - z[g]);
            } else if (x[i] == Double.NEGATIVE_INFINITY) {
                out[i] = s[g] * ((double) qmin(spec) - z[g]);
            }
        }
        return out;
    }

    /** Clipped STE: {@code g} where {@code qmin <= x/s + z <= qmax}, else 0. */
    public static double[] steBackward(double[] x, double[] gradOut, long[] shape, QuantSpec spec, double[] s, int[] z) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int k = groupOf(i, spec, shape);
            double v = x[i] / s[k] + z[k];
            g[i] = v >= qmin(spec) && v <= qmax(spec) ? gradOut[i] : 0.0;
        }
        return g;
    }

    /** {min[], max[]} per group. */
    public static double[][] minMax(double[] x, long[] shape, Granularity gr, int axis, int groupSize) {
        int n = groupCount(gr, axis, groupSize, shape);
        double[] min = new double[n];
        double[] max = new double[n];
        java.util.Arrays.fill(min, Double.POSITIVE_INFINITY);
        java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
        for (int i = 0; i < x.length; i++) {
            int g = groupOf(i, gr, axis, groupSize, shape);
            min[g] = Math.min(min[g], x[i]);
            max[g] = Math.max(max[g], x[i]);
        }
        return new double[][] {min, max};
    }

    /**
     * Scale and zero point of one group (DESIGN.md / PyTorch observers). Returns {scale, zeroPoint}.
     * {@code minScale} is the floor applied to degenerate ranges.
     */
    public static double[] qparams(QuantSpec spec, double min, double max, double minScale) {
        int lo = qmin(spec);
        int hi = qmax(spec);
        if (spec.scheme() == QuantSpec.Scheme.SYMMETRIC) {
            double amax = spec.signed() ? Math.max(-min, max) : max;
            amax = Math.max(amax, 0);
            double half = spec.signed() ? (hi - lo) / 2.0 : hi;
            return new double[] {Math.max(amax / half, minScale), 0};
        }
        double l = Math.min(min, 0);
        double h = Math.max(max, 0);
        double s = Math.max((h - l) / (hi - lo), minScale);
        double z = Math.max(lo, Math.min(hi, lo - Math.rint(l / s)));
        return new double[] {s, z};
    }

    /** Per-group mean of |w|. */
    public static double[] meanAbs(double[] w, long[] shape, Granularity gr, int axis) {
        int n = groupCount(gr, axis, 0, shape);
        double[] sum = new double[n];
        long[] count = new long[n];
        for (int i = 0; i < w.length; i++) {
            int g = groupOf(i, gr, axis, 0, shape);
            sum[g] += Math.abs(w[i]);
            count[g]++;
        }
        for (int g = 0; g < n; g++) {
            sum[g] /= count[g];
        }
        return sum;
    }

    /** {@code alpha_g sign(w)}, sign(0) = +1; alpha = 1 unless {@code meanAbsScale}. */
    public static double[] binary(double[] w, long[] shape, boolean meanAbsScale, Granularity gr, int axis) {
        double[] alpha = meanAbs(w, shape, gr, axis);
        double[] out = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            double a = meanAbsScale ? alpha[groupOf(i, gr, axis, 0, shape)] : 1.0;
            out[i] = (w[i] >= 0 ? 1.0 : -1.0) * a;
        }
        return out;
    }

    /** Hard-tanh STE: {@code g [|w| <= 1]}. */
    public static double[] binaryBackward(double[] w, double[] gradOut) {
        double[] g = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            g[i] = Math.abs(w[i]) <= 1.0 ? gradOut[i] : 0.0;
        }
        return g;
    }

    /** TWN alphas per group: mean of |w| over |w| > ratio * mean|w| (0 if none). */
    public static double[] ternaryAlpha(double[] w, long[] shape, double ratio, Granularity gr, int axis) {
        double[] delta = meanAbs(w, shape, gr, axis);
        int n = delta.length;
        double[] sum = new double[n];
        long[] count = new long[n];
        for (int g = 0; g < n; g++) {
            delta[g] *= ratio;
        }
        for (int i = 0; i < w.length; i++) {
            int g = groupOf(i, gr, axis, 0, shape);
            if (Math.abs(w[i]) > delta[g]) {
                sum[g] += Math.abs(w[i]);
                count[g]++;
            }
        }
        for (int g = 0; g < n; g++) {
            sum[g] = count[g] == 0 ? 0 : sum[g] / count[g];
        }
        return sum;
    }

    /** TWN codes in {-1, 0, 1}. */
    public static int[] ternaryCodes(double[] w, long[] shape, double ratio, Granularity gr, int axis) {
        double[] delta = meanAbs(w, shape, gr, axis);
        int[] t = new int[w.length];
        for (int i = 0; i < w.length; i++) {
            int g = groupOf(i, gr, axis, 0, shape);
            t[i] = Math.abs(w[i]) > ratio * delta[g] ? (int) Math.signum(w[i]) : 0;
        }
        return t;
    }
}
