package io.qat4j.lsq;

import java.util.Arrays;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.ste.FlatArrays;
import io.qat4j.ste.QuantGroups;
import io.qat4j.ste.QuantSpec;

/**
 * LSQ+ (Bhalgat et al., "LSQ+: Improving low-bit quantization through learnable offsets and better
 * initialization", CVPR-W 2020): LSQ with a learned offset {@code beta} per group.
 *
 * <p>Forward: {@code v = clamp((x - beta)/s, -Qn, Qp)}, {@code x^ = round(v) s + beta}, with
 * {@code -Qn = qmin}, {@code Qp = qmax} of the spec (typically unsigned: Qn = 0, Qp = 2^b - 1).
 *
 * <p>Backward (straight-through on {@code round}), with {@code v = (x - beta)/s} unclamped:
 * <ul>
 *   <li>{@code dx^/dx = 1} inside {@code [-Qn, Qp]}, 0 outside;</li>
 *   <li>{@code dx^/ds = round(v) - v} inside, {@code -Qn} below, {@code Qp} above;</li>
 *   <li>{@code dx^/dbeta = 0} inside, 1 outside (inside, the STE's {@code -1} cancels the {@code +1});</li>
 *   <li>both parameter gradients are multiplied by the gradient scale {@code g}, as in LSQ.</li>
 * </ul>
 * Initialization from a range ({@link #initFromRange}): {@code s = (max - min)/(Qp + Qn)},
 * {@code beta = min + Qn s}, so that the clamp range is exactly {@code [min, max]}.
 *
 * <p>The arithmetic is {@link LsqKernels}' (one implementation, also run by the DL4J layers).
 */
public final class LsqPlusQuantizer {

    /** Input gradient and one step and one offset gradient per group. */
    public record Gradients(INDArray input, double[] step, double[] offset) {
    }

    /** Step and offset per group. */
    public record Params(double[] step, double[] offset) {
    }

    private final QuantSpec spec;

    /** @param spec any scheme (the zero point is replaced by the learned offset); rounding HALF_EVEN, HALF_UP (activations) or HALF_AWAY */
    public LsqPlusQuantizer(QuantSpec spec) {
        LearnedQuantizerChecks.requireDeterministicGrouping("LsqPlusQuantizer", spec);
        this.spec = spec;
    }

    public QuantSpec spec() {
        return spec;
    }

    /** Step and offset whose clamp range is {@code [min_g, max_g]} (widened to a positive width). */
    public Params initFromRange(double[] min, double[] max) {
        if (min.length != max.length) {
            throw new IllegalArgumentException("LsqPlusQuantizer.initFromRange: min and max lengths differ: " + min.length + " vs " + max.length);
        }
        int qn = -spec.qmin();
        int qp = spec.qmax();
        double[] s = new double[min.length];
        double[] b = new double[min.length];
        for (int g = 0; g < min.length; g++) {
            if (!Double.isFinite(min[g]) || !Double.isFinite(max[g]) || min[g] > max[g]) {
                throw new IllegalArgumentException("LsqPlusQuantizer.initFromRange: group " + g + " has range [" + min[g] + ", "
                        + max[g] + "]; it must be finite with min <= max");
            }
            s[g] = Math.max((max[g] - min[g]) / (qp + qn), LsqQuantizer.MIN_STEP);
            b[g] = min[g] + qn * s[g];
        }
        return new Params(s, b);
    }

    /** {@code round(clamp((x - beta)/s, -Qn, Qp)) s + beta} in {@code x}'s data type. */
    public INDArray forward(INDArray x, double[] step, double[] offset) {
        QuantGroups groups = groupsFor(x, step, offset);
        double[] s = LearnedQuantizerChecks.effective("LsqPlusQuantizer: step", step, LsqQuantizer.MIN_STEP);
        return FlatArrays.write(LsqKernels.forward(FlatArrays.read(x), groups, s, offset, spec.qmin(), spec.qmax(), spec.rounding()),
                x.shape(), x.dataType());
    }

    /** Gradients for the input, the steps and the offsets; {@code gradScale} multiplies both parameter gradients. */
    public Gradients backward(INDArray x, INDArray gradOut, double[] step, double[] offset, double gradScale) {
        QuantGroups groups = groupsFor(x, step, offset);
        double[] s = LearnedQuantizerChecks.effective("LsqPlusQuantizer: step", step, LsqQuantizer.MIN_STEP);
        LearnedQuantizerChecks.requireSameShape("LsqPlusQuantizer", x, gradOut);
        double[] g = FlatArrays.read(gradOut);
        double[] stepGrad = new double[s.length];
        double[] offsetGrad = new double[s.length];
        LsqKernels.backward(FlatArrays.read(x), g, groups, s, offset, spec.qmin(), spec.qmax(), spec.rounding(), stepGrad, offsetGrad,
                gradScale);
        return new Gradients(FlatArrays.write(g, gradOut.shape(), gradOut.dataType()), stepGrad, offsetGrad);
    }

    private QuantGroups groupsFor(INDArray x, double[] step, double[] offset) {
        QuantGroups groups = QuantGroups.of(spec, x.shape());
        if (step.length != groups.groups() || offset.length != groups.groups()) {
            throw new IllegalArgumentException("LsqPlusQuantizer: " + step.length + " steps and " + offset.length + " offsets given, but "
                    + spec.granularity() + " quantization of shape " + Arrays.toString(x.shape()) + " needs " + groups.groups());
        }
        return groups;
    }
}
