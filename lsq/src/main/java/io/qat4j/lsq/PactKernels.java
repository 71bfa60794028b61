package io.qat4j.lsq;

import io.qat4j.ste.ChunkedLoop;
import io.qat4j.ste.Rounding;
import io.qat4j.ste.RoundingOps;

/**
 * PACT (Choi et al., 2018) on flat {@code double[]} tensors: the one implementation that
 * {@link PactQuantizer} and the DL4J layers run; its plain reference is {@code LearnedReference}
 * in this module's tests.
 *
 * <p>Unsigned: {@code y = clamp(x, 0, alpha)} with {@code L = 2^b - 1} levels; signed:
 * {@code y = clamp(x, -alpha, alpha)} with {@code L = 2^(b-1) - 1} levels each side ({@link #levels}).
 * Forward {@code y^ = round(y k) / k}, {@code k = L / alpha}; NaN stays NaN.
 * Backward (STE on round): {@code dy^/dx = 1} for {@code lo <= x < alpha} ({@code lo = 0} unsigned,
 * {@code -alpha < x} signed), else 0 (zeroed, and for NaN); {@code dy^/dalpha = 1} for
 * {@code x >= alpha}, {@code -1} for {@code x <= -alpha} when signed, else 0; plus PACT's L2 decay
 * {@code lambda alpha} ({@link #alphaGradient}).
 */
public final class PactKernels {

    private PactKernels() {
    }

    /** Levels on each side of 0: {@code 2^b - 1} unsigned, {@code 2^(b-1) - 1} signed. */
    public static int levels(int bits, boolean signed) {
        return signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    }

    /** {@code round(clamp(x, lo, alpha) k) / k} per element with {@code k = levels / alpha}. */
    public static double[] forward(double[] x, double alpha, int levels, boolean signed, Rounding rounding) {
        double k = levels / alpha;
        double lo = signed ? -alpha : 0;
        double[] out = new double[x.length];
        ChunkedLoop.forEach(x.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                out[i] = RoundingOps.round(rounding, RoundingOps.clamp(x[i], lo, alpha) * k, 0) / k;
            }
        });
        return out;
    }

    /**
     * Backward in place on {@code grad} (dL/dy^ in, dL/dx out); returns the clipping gradient
     * {@code sum dL/dy^ dy^/dalpha} without the decay (summed in element order).
     */
    public static double backward(double[] x, double[] grad, double alpha, boolean signed) {
        double alphaGrad = 0;
        for (int i = 0; i < x.length; i++) {
            if (x[i] >= alpha) {
                alphaGrad += grad[i];
                grad[i] = 0;
            } else if (signed && x[i] <= -alpha) {
                alphaGrad -= grad[i];
                grad[i] = 0;
            } else if (!signed && x[i] < 0 || Double.isNaN(x[i])) {
                grad[i] = 0;
            }
        }
        return alphaGrad;
    }

    /** The alpha gradient with PACT's L2 decay: {@code clipGradient + lambda alpha}. */
    public static double alphaGradient(double clipGradient, double decay, double alpha) {
        return clipGradient + decay * alpha;
    }
}
