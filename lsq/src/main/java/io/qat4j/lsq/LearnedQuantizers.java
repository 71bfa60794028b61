package io.qat4j.lsq;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.Rounding;
import io.qat4j.ste.RoundingOps;
import io.qat4j.ste.QuantSpec;

/** Pieces shared by the learned quantizers (package-private). */
final class LearnedQuantizers {

    /** 0/1 float64 masks of {@code v < lo}, {@code lo <= v <= hi}, {@code v > hi}. */
    record Regions(INDArray below, INDArray inside, INDArray above) {
    }

    private LearnedQuantizers() {
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
     * A {@code [n, 1]} float64 column of {@code max(values, floor)} for learned steps or clipping
     * levels.
     *
     * @throws IllegalArgumentException if a value is NaN, infinite or {@code <= 0}: a step the optimizer
     *         drove through zero has collapsed, and silently using a tiny floor instead would zero the
     *         layer (issue 14 #2)
     */
    static INDArray column(String what, double[] values, double floor) {
        double[] c = new double[values.length];
        for (int i = 0; i < c.length; i++) {
            requirePositive(what, i, values[i]);
            c[i] = Math.max(values[i], floor);
        }
        return Nd4j.createFromArray(c).reshape(c.length, 1);
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

    /** A {@code [n, 1]} float64 column of the values as given. */
    static INDArray column(double[] values) {
        return Nd4j.createFromArray(values.clone()).reshape(values.length, 1);
    }

    /** Element-wise clamp that keeps NaN as NaN (ND4J's max/min would turn it into a bound). */
    static INDArray clamp(INDArray v, double lo, double hi) {
        return RoundingOps.clamp(v, lo, hi);
    }

    static Regions regions(INDArray v, double lo, double hi) {
        INDArray below = v.lt(lo).castTo(DataType.DOUBLE);
        INDArray above = v.gt(hi).castTo(DataType.DOUBLE);
        INDArray inside = Nd4j.onesLike(below).subi(below).subi(above);
        return new Regions(below, inside, above);
    }
}
