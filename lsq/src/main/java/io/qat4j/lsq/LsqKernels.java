package io.qat4j.lsq;

import io.qat4j.ste.ChunkedLoop;
import io.qat4j.ste.QuantGroups;
import io.qat4j.ste.Rounding;
import io.qat4j.ste.RoundingOps;
import io.qat4j.ste.UniformKernels;

/**
 * LSQ and LSQ+ on flat C-order {@code double[]} tensors: the one implementation that
 * {@link LsqQuantizer}, {@link LsqPlusQuantizer} and the DL4J layers run. Its plain reference is
 * {@code LearnedReference} in this module's tests, compared element by element.
 *
 * <p>With {@code v = (x - beta)/s} (unclamped; {@code beta = 0} for LSQ), {@code -Qn = qmin},
 * {@code Qp = qmax}:
 * <ul>
 *   <li>forward {@code x^ = round(clamp(v, -Qn, Qp)) s + beta} ({@link #forward}: the uniform
 *       fake-quant of {@link UniformKernels#fakeQuant} with offset beta and no zero point);</li>
 *   <li>{@code dx^/dx = 1} for {@code -Qn <= v <= Qp}, else 0 (zeroed outside, and for NaN);</li>
 *   <li>{@code dx^/ds = round(v) - v} inside, {@code -Qn} below, {@code Qp} above (Esser et al.,
 *       ICLR 2020);</li>
 *   <li>{@code dx^/dbeta = 0} inside, 1 outside (Bhalgat et al., 2020: inside, the STE's {@code -1}
 *       cancels the {@code +1});</li>
 *   <li>both parameter gradients are summed per group and multiplied by the gradient scale
 *       {@code g = 1/sqrt(N Qp)} ({@link LsqQuantizer#gradScale}); a NaN input adds nothing.</li>
 * </ul>
 * Initialization: {@code s = max(2 mean|x| / sqrt(Qp), MIN_STEP)} per group ({@link #initialSteps}).
 */
public final class LsqKernels {

    private LsqKernels() {
    }

    /** {@code round(clamp((x - beta)/s, -Qn, Qp)) s + beta} per element; {@code offset} null for LSQ. */
    public static double[] forward(double[] x, QuantGroups groups, double[] step, double[] offset, int qmin, int qmax,
                                   Rounding rounding) {
        return UniformKernels.fakeQuant(x, groups, step, offset, null, qmin, qmax, rounding, null);
    }

    /**
     * Backward in place on {@code grad} (dL/dx^ in, dL/dx out), adding the step gradient and, when
     * {@code offsetGrad} is not null, the offset gradient, each times {@code gradScale}, to
     * {@code stepGrad[k]}/{@code offsetGrad[k]} of each group. Partial sums are kept per
     * {@link ChunkedLoop} chunk and added in chunk order, so the result does not depend on thread timing.
     *
     * @param offset null for LSQ (beta = 0)
     */
    public static void backward(double[] x, double[] grad, QuantGroups groups, double[] step, double[] offset, int qmin, int qmax,
                                Rounding rounding, double[] stepGrad, double[] offsetGrad, double gradScale) {
        int n = groups.groups();
        int chunks = ChunkedLoop.chunks(x.length);
        double[][] stepPart = new double[chunks][n];
        double[][] offsetPart = new double[chunks][n];
        ChunkedLoop.forEach(x.length, (from, to) -> {
            double[] sp = stepPart[ChunkedLoop.chunkOf(from)];
            double[] op = offsetPart[ChunkedLoop.chunkOf(from)];
            for (int i = from; i < to; i++) {
                int k = groups.groupOf(i);
                double v = (x[i] - (offset == null ? 0 : offset[k])) / step[k];
                double gi = grad[i];
                if (Double.isNaN(v)) {
                    grad[i] = 0;   // no gradient for a NaN input; the forward output is NaN already
                } else if (v < qmin) {
                    grad[i] = 0;
                    sp[k] += gi * qmin;
                    op[k] += gi;
                } else if (v > qmax) {
                    grad[i] = 0;
                    sp[k] += gi * qmax;
                    op[k] += gi;
                } else {
                    sp[k] += gi * (RoundingOps.round(rounding, v, 0) - v);
                }
            }
        });
        for (int c = 0; c < chunks; c++) {
            for (int k = 0; k < n; k++) {
                stepGrad[k] += stepPart[c][k];
                if (offsetGrad != null) {
                    offsetGrad[k] += offsetPart[c][k];
                }
            }
        }
        for (int k = 0; k < n; k++) {
            stepGrad[k] *= gradScale;
            if (offsetGrad != null) {
                offsetGrad[k] *= gradScale;
            }
        }
    }

    /**
     * LSQ's initial steps {@code max(2 mean|x_g| / sqrt(Qp), MIN_STEP)}, one per group; the mean is
     * over the group's finite elements (0 if it has none), so an infinity or NaN cannot decide a step.
     */
    public static double[] initialSteps(double[] x, QuantGroups groups, int qp) {
        int n = groups.groups();
        double[] sum = new double[n];
        long[] count = new long[n];
        for (int i = 0; i < x.length; i++) {
            if (Double.isFinite(x[i])) {
                int k = groups.groupOf(i);
                sum[k] += Math.abs(x[i]);
                count[k]++;
            }
        }
        double[] s = new double[n];
        for (int k = 0; k < n; k++) {
            double init = count[k] == 0 ? 0 : 2 * (sum[k] / count[k]) / Math.sqrt(qp);
            s[k] = Math.max(init, LsqQuantizer.MIN_STEP);
        }
        return s;
    }
}
