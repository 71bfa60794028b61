package io.qat4j.lsq;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import io.qat4j.ste.Rounding;
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
                    + "use HALF_EVEN (default) or HALF_AWAY");
        }
    }

    /** A {@code [n, 1]} float64 column of {@code max(values, floor)}. */
    static INDArray column(double[] values, double floor) {
        double[] c = new double[values.length];
        for (int i = 0; i < c.length; i++) {
            if (Double.isNaN(values[i])) {
                throw new IllegalArgumentException("learned quantizer parameter " + i + " is NaN; the training diverged");
            }
            c[i] = Math.max(values[i], floor);
        }
        return Nd4j.createFromArray(c).reshape(c.length, 1);
    }

    /** A {@code [n, 1]} float64 column of the values as given. */
    static INDArray column(double[] values) {
        return Nd4j.createFromArray(values.clone()).reshape(values.length, 1);
    }

    static INDArray clamp(INDArray v, double lo, double hi) {
        return Transforms.min(Transforms.max(v, lo, true), hi, false);
    }

    static Regions regions(INDArray v, double lo, double hi) {
        INDArray below = v.lt(lo).castTo(DataType.DOUBLE);
        INDArray above = v.gt(hi).castTo(DataType.DOUBLE);
        INDArray inside = Nd4j.onesLike(below).subi(below).subi(above);
        return new Regions(below, inside, above);
    }
}
