package io.qat4j.lsq;

import java.util.Arrays;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.ste.FlatArrays;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantGroups;
import io.qat4j.ste.QuantSpec;

/**
 * Learned Step Size Quantization (Esser et al., "Learned Step Size Quantization", ICLR 2020).
 *
 * <p>Forward: {@code v = clamp(x/s, -Qn, Qp)}, {@code x^ = round(v) s}, with {@code -Qn = qmin},
 * {@code Qp = qmax} of the (symmetric) {@link QuantSpec}; one step {@code s} per quantization group
 * (per-tensor, per-channel or per-group).
 *
 * <p>Backward (straight-through on {@code round}):
 * <ul>
 *   <li>{@code dx^/dx = 1} where {@code -Qn <= x/s <= Qp}, 0 outside (gradients outside the clamp
 *       range are zeroed);</li>
 *   <li>{@code dx^/ds = round(x/s) - x/s} inside, {@code -Qn} below, {@code Qp} above;</li>
 *   <li>the step gradient {@code sum_i dL/dx^_i dx^_i/ds} is multiplied by the gradient scale
 *       {@code g = 1/sqrt(N Qp)} ({@link #gradScale}); N = weights per group for weights,
 *       features per sample for activations.</li>
 * </ul>
 * Initialization: {@code s = 2 mean|x| / sqrt(Qp)} ({@link #initStep}) or from a calibrated range
 * ({@link #stepFromRange}). Positive steps below {@link #MIN_STEP} are used as {@link #MIN_STEP}; a step
 * that is NaN, infinite or {@code <= 0} is an {@link IllegalArgumentException} naming it (a collapsed step).
 * Non-finite inputs: {@code +inf} gives {@code Qp s}, {@code -inf} {@code -Qn s}, NaN stays NaN.
 *
 * <p>The arithmetic is {@link LsqKernels}' (one implementation, also run by the DL4J layers); this
 * class validates the spec and steps and copies INDArrays to and from it.
 */
public final class LsqQuantizer {

    /** Smallest positive step the forward uses (steps at or below zero are errors, not floored). */
    public static final double MIN_STEP = 1e-8;

    /** Input gradient and one step gradient per group. */
    public record Gradients(INDArray input, double[] step) {
    }

    private final QuantSpec spec;

    /** @param spec symmetric spec (any granularity); rounding HALF_EVEN, HALF_UP (activations) or HALF_AWAY */
    public LsqQuantizer(QuantSpec spec) {
        LearnedQuantizerChecks.requireDeterministicGrouping("LsqQuantizer", spec);
        if (spec.scheme() != QuantSpec.Scheme.SYMMETRIC) {
            throw new IllegalArgumentException("LsqQuantizer: LSQ has no zero point, so the spec must be SYMMETRIC; "
                    + "use LsqPlusQuantizer for a learned offset");
        }
        if (spec.qmax() < 1) {
            throw new IllegalArgumentException("LsqQuantizer: the spec's range must have Qp >= 1, got qmax " + spec.qmax());
        }
        this.spec = spec;
    }

    public QuantSpec spec() {
        return spec;
    }

    /** {@code 1/sqrt(n Qp)}: LSQ's step-gradient scale for n elements sharing one step. */
    public static double gradScale(long n, int qp) {
        if (n < 1 || qp < 1) {
            throw new IllegalArgumentException("LsqQuantizer.gradScale: n and Qp must be >= 1, got n=" + n + ", Qp=" + qp);
        }
        return 1.0 / Math.sqrt((double) n * qp);
    }

    /** LSQ's gradient scale for weights: N = elements per quantization group of {@code shape}. */
    public double weightGradScale(long[] shape) {
        return gradScale(QuantGroups.of(spec, shape).groupLength(), spec.qmax());
    }

    /**
     * LSQ's gradient scale for activations of {@code shape} (batch first): N = features per sample,
     * {@code size / shape[0]} (the whole size for a batch of 0 or a scalar).
     */
    public static double activationGradScale(long[] shape, int qp) {
        long size = 1;
        for (long d : shape) {
            size *= d;
        }
        long batch = shape.length == 0 ? 1 : Math.max(1, shape[0]);
        return gradScale(size / batch, qp);
    }

    /** {@code max(2 mean|x_g| / sqrt(Qp), MIN_STEP)} per group (LSQ's initialization; {@link LsqKernels#initialSteps}). */
    public double[] initStep(INDArray x) {
        return LsqKernels.initialSteps(FlatArrays.read(x), QuantGroups.of(spec, x.shape()), spec.qmax());
    }

    /** Steps from a calibrated range per group: the symmetric scales {@link QParams#fromRange} gives. */
    public double[] stepFromRange(double[] min, double[] max) {
        return QParams.fromRange(spec, min, max).scales();
    }

    /** {@code round(clamp(x/s, -Qn, Qp)) s} in {@code x}'s data type. */
    public INDArray forward(INDArray x, double[] step) {
        QuantGroups groups = groupsFor(x, step);
        double[] s = LearnedQuantizerChecks.effective("LsqQuantizer: step", step, MIN_STEP);
        return FlatArrays.write(LsqKernels.forward(FlatArrays.read(x), groups, s, null, spec.qmin(), spec.qmax(), spec.rounding()),
                x.shape(), x.dataType());
    }

    /**
     * Gradients for the input and the steps.
     *
     * @param gradScale the factor g applied to the step gradient ({@link #gradScale}); 1 disables scaling
     */
    public Gradients backward(INDArray x, INDArray gradOut, double[] step, double gradScale) {
        QuantGroups groups = groupsFor(x, step);
        double[] s = LearnedQuantizerChecks.effective("LsqQuantizer: step", step, MIN_STEP);
        LearnedQuantizerChecks.requireSameShape("LsqQuantizer", x, gradOut);
        double[] g = FlatArrays.read(gradOut);
        double[] stepGrad = new double[s.length];
        LsqKernels.backward(FlatArrays.read(x), g, groups, s, null, spec.qmin(), spec.qmax(), spec.rounding(), stepGrad, null, gradScale);
        return new Gradients(FlatArrays.write(g, gradOut.shape(), gradOut.dataType()), stepGrad);
    }

    private QuantGroups groupsFor(INDArray x, double[] step) {
        QuantGroups groups = QuantGroups.of(spec, x.shape());
        if (step.length != groups.groups()) {
            throw new IllegalArgumentException("LsqQuantizer: " + step.length + " steps given, but " + spec.granularity()
                    + " quantization of shape " + Arrays.toString(x.shape()) + " needs " + groups.groups());
        }
        return groups;
    }
}
