package io.qat4j.ste;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Exact rounding to integers in each {@link Rounding} mode, whatever ND4J's own {@code round} does:
 * the scalar kernel {@link #round(Rounding, double, double)} and its element-wise INDArray form.
 *
 * <p>Non-finite values: {@code +inf} and {@code -inf} stay infinite (a quantizer's clamp then maps
 * them to qmax and qmin) and NaN stays NaN in every mode, so a NaN entering a fake-quant op comes
 * out as NaN instead of as a code (issue 14 #3).
 */
public final class RoundingOps {

    private RoundingOps() {
    }

    /**
     * Rounds {@code v} in {@code mode}; {@code noise} ({@code u ~ U[0,1)}, same shape) is used only
     * by {@link Rounding#STOCHASTIC} and may be null otherwise. Returns a new float64 array of
     * {@code v}'s shape.
     */
    public static INDArray round(Rounding mode, INDArray v, INDArray noise) {
        if (mode == Rounding.STOCHASTIC && noise == null) {
            throw new IllegalArgumentException("RoundingOps: stochastic rounding needs a noise array");
        }
        double[] x = v.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] u = noise == null ? null : noise.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        for (int i = 0; i < x.length; i++) {
            x[i] = round(mode, x[i], u == null ? 0 : u[i]);
        }
        return Nd4j.createFromArray(x).reshape('c', v.shape());
    }

    /**
     * One value rounded in {@code mode} ({@code u}, in [0, 1), is read only by STOCHASTIC). Exact:
     * with {@code r = floor(v)} and {@code f = v - r} (exact in float64), HALF_EVEN is
     * {@code r + [f > 1/2] + [f == 1/2][r odd]}, HALF_UP {@code r + [f >= 1/2]}, HALF_AWAY the
     * HALF_UP of {@code |v|} with {@code v}'s sign, STOCHASTIC {@code r + [u < f]}.
     * ({@code floor(v + 0.5)} would misround 0.49999999999999994.) Infinities and NaN are returned
     * unchanged.
     */
    public static double round(Rounding mode, double v, double u) {
        if (!Double.isFinite(v)) {
            return v;
        }
        double r = Math.floor(v);
        double f = v - r;
        return switch (mode) {
            case HALF_EVEN -> Math.rint(v);
            case HALF_UP -> f >= 0.5 ? r + 1 : r;
            case HALF_AWAY -> {
                double a = Math.abs(v);
                double ra = Math.floor(a);
                double up = a - ra >= 0.5 ? ra + 1 : ra;
                yield v < 0 ? -up : up;
            }
            case STOCHASTIC -> u < f ? r + 1 : r;
        };
    }

    /** {@code min(max(v, lo), hi)} that keeps NaN as NaN ({@link Math#max} and {@link Math#min} propagate it). */
    public static double clamp(double v, double lo, double hi) {
        return Math.min(hi, Math.max(lo, v));
    }

    /** Element-wise {@link #clamp(double, double, double)}: a new float64 array of {@code v}'s shape, NaN kept. */
    public static INDArray clamp(INDArray v, double lo, double hi) {
        double[] x = v.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        for (int i = 0; i < x.length; i++) {
            x[i] = clamp(x[i], lo, hi);
        }
        return Nd4j.createFromArray(x).reshape('c', v.shape());
    }

    /** Ties to even (see {@link #round(Rounding, double, double)}). */
    public static INDArray roundHalfEven(INDArray v) {
        return round(Rounding.HALF_EVEN, v, null);
    }

    /** Ties away from zero (see {@link #round(Rounding, double, double)}). */
    public static INDArray roundHalfAway(INDArray v) {
        return round(Rounding.HALF_AWAY, v, null);
    }

    /** Ties toward +infinity (see {@link #round(Rounding, double, double)}). */
    public static INDArray roundHalfUp(INDArray v) {
        return round(Rounding.HALF_UP, v, null);
    }

    /** {@code floor(v) + [u < v - floor(v)]}. */
    public static INDArray roundStochastic(INDArray v, INDArray u) {
        return round(Rounding.STOCHASTIC, v, u);
    }
}
