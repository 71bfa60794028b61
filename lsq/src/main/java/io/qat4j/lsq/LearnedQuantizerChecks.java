package io.qat4j.lsq;

import java.util.Arrays;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.Rounding;

/**
 * The argument checks of the learned quantizers (LSQ, LSQ+, PACT): a deterministic rounding mode,
 * gradient and input of one shape, and learned steps or clipping levels that are finite and
 * positive (then floored, {@link #effective}), each failing with what to change.
 */
final class LearnedQuantizerChecks {

    private LearnedQuantizerChecks() {
    }

    static void requireDeterministicGrouping(String who, QuantSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException(who + ": spec must not be null");
        }
        if (spec.rounding() == Rounding.STOCHASTIC) {
            throw new IllegalArgumentException(who + ": stochastic rounding is not supported for learned quantizers; "
                    + "use HALF_EVEN (default), HALF_UP or HALF_AWAY");
        }
    }

    /**
     * {@code max(values, floor)} for learned steps or clipping levels.
     *
     * @throws IllegalArgumentException if a value is NaN, infinite or {@code <= 0}: a step the optimizer
     *         drove through zero has collapsed, and silently using a tiny floor instead would zero the
     *         layer (issue 14 #2)
     */
    static double[] effective(String what, double[] values, double floor) {
        double[] c = new double[values.length];
        for (int i = 0; i < c.length; i++) {
            requirePositive(what, i, values[i]);
            c[i] = Math.max(values[i], floor);
        }
        return c;
    }

    /** Throws unless the gradient has the input's shape. */
    static void requireSameShape(String who, INDArray x, INDArray gradOut) {
        if (!Arrays.equals(x.shape(), gradOut.shape())) {
            throw new IllegalArgumentException(who + ": gradient shape " + Arrays.toString(gradOut.shape()) + " differs from input shape "
                    + Arrays.toString(x.shape()));
        }
    }

    /** Throws unless {@code value} is finite and > 0, naming the parameter and what to do. */
    static void requirePositive(String what, int index, double value) {
        if (Double.isNaN(value)) {
            throw new IllegalArgumentException(what + " " + index + " is NaN; the training diverged (lower the learning rate)");
        }
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(what + " " + index + " is " + value + "; it must be finite and > 0. A learned step or "
                    + "clipping level at or below zero has collapsed: lower the learning rate of the quantizer parameters, "
                    + "or re-initialize them from data");
        }
    }
}
