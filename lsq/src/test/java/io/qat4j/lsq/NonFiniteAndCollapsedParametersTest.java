package io.qat4j.lsq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.Rounding;

/** Issue 14 #2 and #3 in the learned quantizers: non-finite inputs, and steps or alphas at or below zero. */
class NonFiniteAndCollapsedParametersTest {

    private static final double[] X = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.05};

    private static double[] doubles(INDArray a) {
        return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    }

    @Test
    void lsqKeepsNaNAndSaturatesInfinities() {
        // the case: LsqQuantizer.forward(NaN) gave -0.0127
        QuantSpec spec = QuantSpec.builder().bits(8).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).build();
        double[] y = doubles(new LsqQuantizer(spec).forward(Nd4j.createFromArray(X), new double[] {0.0001}));
        assertTrue(Double.isNaN(y[0]), "NaN must stay NaN, got " + y[0]);
        assertEquals(127 * 0.0001, y[1], 1e-15);
        assertEquals(-128 * 0.0001, y[2], 1e-15);
        assertEquals(0.05 > 127 * 0.0001 ? 127 * 0.0001 : 0.05, y[3], 1e-15);
    }

    @Test
    void lsqPlusAndPactKeepNaNAndSaturateInfinities() {
        QuantSpec spec = QuantSpec.builder().bits(4).signed(false).scheme(QuantSpec.Scheme.AFFINE).rounding(Rounding.HALF_UP).build();
        double[] y = doubles(new LsqPlusQuantizer(spec).forward(Nd4j.createFromArray(X), new double[] {0.01}, new double[] {-0.02}));
        assertTrue(Double.isNaN(y[0]));
        assertEquals(15 * 0.01 - 0.02, y[1], 1e-12);
        assertEquals(-0.02, y[2], 1e-12);
        double[] p = doubles(new PactQuantizer(4, 0, Rounding.HALF_UP).forward(Nd4j.createFromArray(X), 0.6));
        assertTrue(Double.isNaN(p[0]));
        assertEquals(0.6, p[1], 1e-12);
        assertEquals(0.0, p[2], 0.0);
        assertEquals(0.04, p[3], 1e-12);   // 0.05 * 25 = 1.25 -> 1 -> 1/25
    }

    @Test
    void stepsAtOrBelowZeroAreErrorsNamingTheGroupNotSilentlyFloored() {
        QuantSpec spec = QuantSpec.builder().bits(8).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).perChannel(0).build();
        INDArray w = Nd4j.createFromArray(0.1, -0.2, 0.3, 0.05).reshape(2, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LsqQuantizer(spec).forward(w, new double[] {0.01, -0.01}));
        assertTrue(e.getMessage().contains("step 1") && e.getMessage().contains("-0.01"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LsqQuantizer(spec).backward(w, w, new double[] {0.0, 0.01}, 1));
        assertThrows(IllegalArgumentException.class,
                () -> new LsqPlusQuantizer(spec).forward(w, new double[] {0.01, Double.NaN}, new double[] {0, 0}));
        IllegalArgumentException a = assertThrows(IllegalArgumentException.class,
                () -> new PactQuantizer(4, 0, Rounding.HALF_EVEN).forward(w, -0.5));
        assertTrue(a.getMessage().contains("alpha"), a.getMessage());
    }
}
