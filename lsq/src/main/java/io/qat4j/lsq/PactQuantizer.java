package io.qat4j.lsq;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.ste.FlatArrays;
import io.qat4j.ste.Rounding;

/**
 * PACT (Choi et al., "PACT: Parameterized Clipping Activation for Quantized Neural Networks", 2018):
 * an activation with a learned clipping level {@code alpha}, quantized to b unsigned bits.
 *
 * <p>Forward: {@code y = clamp(x, 0, alpha)}, {@code y^ = round(y k) / k} with {@code k = (2^b - 1)/alpha}.
 *
 * <p>Backward (straight-through on {@code round}):
 * {@code dy^/dx = 1} for {@code 0 <= x < alpha}, 0 elsewhere;
 * {@code dy^/dalpha = 1} for {@code x >= alpha}, 0 elsewhere; plus the L2 decay term
 * {@code lambda alpha} that PACT uses to pull alpha down ({@link #alphaDecay()}).
 * Positive alpha below {@link #MIN_ALPHA} is used as {@link #MIN_ALPHA}; alpha NaN, infinite or {@code <= 0}
 * is an {@link IllegalArgumentException} (a collapsed clipping level). {@code +inf} inputs give alpha,
 * {@code -inf} gives 0, NaN stays NaN.
 *
 * <p>The arithmetic is {@link PactKernels}' (one implementation, also run by the DL4J layers, which
 * use its signed form as well).
 */
public final class PactQuantizer {

    /** Smallest clipping level the forward uses. */
    public static final double MIN_ALPHA = 1e-6;
    /** PACT's initial clipping level for ReLU activations. */
    public static final double DEFAULT_INIT_ALPHA = 10.0;

    /** Input gradient and the alpha gradient (decay included). */
    public record Gradients(INDArray input, double alpha) {
    }

    private final int bits;
    private final double alphaDecay;
    private final Rounding rounding;

    /**
     * @param bits       activation bits, 1..16
     * @param alphaDecay L2 coefficient lambda on alpha (PACT: 2e-4 ... 5e-4 ; 0 disables), >= 0
     * @param rounding   HALF_EVEN, HALF_UP (what qat4j's activations use) or HALF_AWAY
     */
    public PactQuantizer(int bits, double alphaDecay, Rounding rounding) {
        io.qat4j.ste.BitWidths.checkInputBits("PactQuantizer: bits", bits, io.qat4j.ste.BitWidths.Target.SIMULATION);
        if (!(alphaDecay >= 0) || Double.isInfinite(alphaDecay)) {
            throw new IllegalArgumentException("PactQuantizer: alphaDecay must be finite and >= 0 (e.g. 0.0002), got " + alphaDecay);
        }
        if (rounding == null || rounding == Rounding.STOCHASTIC) {
            throw new IllegalArgumentException("PactQuantizer: rounding must be HALF_EVEN, HALF_UP or HALF_AWAY, got " + rounding);
        }
        this.bits = bits;
        this.alphaDecay = alphaDecay;
        this.rounding = rounding;
    }

    public int bits() {
        return bits;
    }

    public double alphaDecay() {
        return alphaDecay;
    }

    /** Number of positive levels, {@code 2^b - 1}. */
    public int levels() {
        return PactKernels.levels(bits, false);
    }

    /** {@code round(clamp(x, 0, alpha) k) / k} in {@code x}'s data type. */
    public INDArray forward(INDArray x, double alpha) {
        return FlatArrays.write(PactKernels.forward(FlatArrays.read(x), effectiveAlpha(alpha), levels(), false, rounding), x.shape(),
                x.dataType());
    }

    /** Gradients for the input and alpha (the decay term uses {@code alpha} as given). */
    public Gradients backward(INDArray x, INDArray gradOut, double alpha) {
        double a = effectiveAlpha(alpha);
        LearnedQuantizerChecks.requireSameShape("PactQuantizer", x, gradOut);
        double[] g = FlatArrays.read(gradOut);
        double clip = PactKernels.backward(FlatArrays.read(x), g, a, false);
        return new Gradients(FlatArrays.write(g, gradOut.shape(), gradOut.dataType()), PactKernels.alphaGradient(clip, alphaDecay, alpha));
    }

    private static double effectiveAlpha(double alpha) {
        LearnedQuantizerChecks.requirePositive("PactQuantizer: alpha", 0, alpha);
        return Math.max(alpha, MIN_ALPHA);
    }
}
