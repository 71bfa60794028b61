package io.qat4j.ste;

/**
 * The uniform quantizer's arithmetic on flat C-order {@code double[]} tensors: the one
 * implementation that {@link UniformQuantizer}, lsq's learned quantizers and the DL4J layers run.
 * Its plain reference is {@code io.qat4j.ste.reference.QuantReference} (test-jar); the tests compare
 * the two element by element.
 *
 * <p>For element {@code i} of group {@code k = groups.groupOf(i)}, with scale {@code s_k}, real
 * offset {@code beta_k} (LSQ+'s learned offset; 0 when {@code offset} is null) and integer zero
 * point {@code z_k} (0 when {@code zeroPoint} is null):
 * <ul>
 *   <li>code {@code q = clamp(round((x - beta)/s, u) + z, qmin, qmax)} ({@link #quantize}), rounding
 *       as {@link RoundingOps#round(Rounding, double, double)} with {@code u = noise[i]} for
 *       STOCHASTIC;</li>
 *   <li>fake-quant {@code x^ = (q - z) s + beta} ({@link #fakeQuant}); {@code +inf} gives
 *       {@code (qmax - z) s + beta}, {@code -inf} {@code (qmin - z) s + beta}, NaN stays NaN;</li>
 *   <li>clipped STE ({@link #steBackward}): {@code dx^/dx = 1} where
 *       {@code qmin <= (x - beta)/s + z <= qmax}; outside, and for NaN inputs, the gradient is
 *       zeroed, not passed through (Bengio et al. 2013; Jacob et al. 2018).</li>
 * </ul>
 * All arithmetic is float64 in this order; results are new arrays except the in-place backward.
 * Tensors of more than {@link ChunkedLoop#CHUNK} elements run in parallel chunks.
 */
public final class UniformKernels {

    private UniformKernels() {
    }

    /**
     * The code of one element, {@code clamp(round((x - b)/s, u) + z, qmin, qmax)}: the one place the
     * uniform quantizer's rounding and clamp are written.
     */
    public static double code(double x, double s, double b, int z, int qmin, int qmax, Rounding rounding, double u) {
        return RoundingOps.clamp(RoundingOps.round(rounding, (x - b) / s, u) + z, qmin, qmax);
    }

    /**
     * Integer codes as float64 (NaN stays NaN; a caller that needs integers decides what NaN means).
     *
     * @param noise one {@code u ~ U[0,1)} per element for STOCHASTIC rounding, else null
     */
    public static double[] quantize(double[] x, QuantGroups groups, double[] scale, int[] zeroPoint, int qmin, int qmax,
                                    Rounding rounding, double[] noise) {
        double[] out = new double[x.length];
        ChunkedLoop.forEach(x.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                int k = groups.groupOf(i);
                out[i] = code(x[i], scale[k], 0, zeroPoint == null ? 0 : zeroPoint[k], qmin, qmax, rounding,
                        noise == null ? 0 : noise[i]);
            }
        });
        return out;
    }

    /** {@code (q - z) s} per element. */
    public static double[] dequantize(double[] q, QuantGroups groups, double[] scale, int[] zeroPoint) {
        double[] out = new double[q.length];
        ChunkedLoop.forEach(q.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                int k = groups.groupOf(i);
                out[i] = (q[i] - (zeroPoint == null ? 0 : zeroPoint[k])) * scale[k];
            }
        });
        return out;
    }

    /**
     * {@code (clamp(round((x - beta)/s, u) + z, qmin, qmax) - z) s + beta} per element.
     *
     * @param offset    real offset beta per group, or null for 0
     * @param zeroPoint integer zero point per group, or null for 0
     * @param noise     one {@code u ~ U[0,1)} per element for STOCHASTIC rounding, else null
     */
    public static double[] fakeQuant(double[] x, QuantGroups groups, double[] scale, double[] offset, int[] zeroPoint, int qmin,
                                     int qmax, Rounding rounding, double[] noise) {
        double[] out = new double[x.length];
        ChunkedLoop.forEach(x.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                int k = groups.groupOf(i);
                double b = offset == null ? 0 : offset[k];
                int z = zeroPoint == null ? 0 : zeroPoint[k];
                out[i] = (code(x[i], scale[k], b, z, qmin, qmax, rounding, noise == null ? 0 : noise[i]) - z) * scale[k] + b;
            }
        });
        return out;
    }

    /**
     * Clipped STE in place on {@code grad} (dL/dx^ in, dL/dx out): kept where
     * {@code qmin <= (x - beta)/s + z <= qmax}, set to 0 elsewhere and where that value is NaN.
     */
    public static void steBackward(double[] x, double[] grad, QuantGroups groups, double[] scale, double[] offset, int[] zeroPoint,
                                   int qmin, int qmax) {
        ChunkedLoop.forEach(x.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                int k = groups.groupOf(i);
                double u = (x[i] - (offset == null ? 0 : offset[k])) / scale[k] + (zeroPoint == null ? 0 : zeroPoint[k]);
                if (!(u >= qmin && u <= qmax)) {
                    grad[i] = 0;
                }
            }
        });
    }
}
