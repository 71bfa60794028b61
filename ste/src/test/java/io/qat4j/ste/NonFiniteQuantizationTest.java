package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.reference.QuantReference;

/** Issue 14 #3: +inf gives qmax, -inf gives qmin, NaN stays NaN (or is a clear error), in ops and references alike. */
class NonFiniteQuantizationTest {

    private static double[] doubles(INDArray a) {
        return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    }

    @Test
    void fakeQuantMapsPlusInfinityToQmaxMinusInfinityToQminAndKeepsNaN() {
        // the case: [1, +inf, NaN, -inf], scale 0.1, 8-bit signed gave [1, -12.8, -12.8, -12.8]
        double[] x = {1, Double.POSITIVE_INFINITY, Double.NaN, Double.NEGATIVE_INFINITY};
        for (Rounding r : Rounding.values()) {
            QuantSpec spec = QuantSpec.builder().bits(8).signed(true).rounding(r).build();
            double[] got = doubles(new UniformQuantizer(spec).fakeQuant(Nd4j.createFromArray(x), QParams.of(0.1, 0)));
            assertEquals(1.0, got[0], 1e-12, r.toString());
            assertEquals(12.7, got[1], 1e-12, r.toString());
            assertTrue(Double.isNaN(got[2]), r + ": NaN must stay NaN, got " + got[2]);
            assertEquals(-12.8, got[3], 1e-12, r.toString());
            double[] ref = QuantReference.fakeQuant(x, new long[] {4}, spec, new double[] {0.1}, new int[] {0}, new double[] {0.5, 0.5, 0.5, 0.5});
            assertArrayEquals(ref, got, 1e-12, r.toString());
        }
    }

    @Test
    void perChannelAffineActivationsTreatInfinitiesAsSaturationAndGiveThemNoGradient() {
        // a constructed case of the same kind: per-channel, non-zero zero points, unsigned
        QuantSpec spec = QuantSpec.builder().bits(4).signed(false).scheme(QuantSpec.Scheme.AFFINE).perChannel(0)
                .rounding(Rounding.HALF_UP).build();
        double[] x = {Double.NEGATIVE_INFINITY, 0.26, Double.NaN, Double.POSITIVE_INFINITY, -0.2, 0.05};
        QParams qp = new QParams(new double[] {0.1, 0.05}, new int[] {3, 5});
        INDArray xa = Nd4j.createFromArray(x).reshape(2, 3);
        double[] got = doubles(new UniformQuantizer(spec).fakeQuant(xa, qp));
        double[] ref = QuantReference.fakeQuant(x, new long[] {2, 3}, spec, qp.scales(), qp.zeroPoints(), null);
        assertArrayEquals(ref, got, 1e-12);
        assertEquals(0.1 * (0 - 3), got[0], 1e-12);          // -inf -> qmin 0
        assertEquals(0.05 * (15 - 5), got[3], 1e-12);        // +inf -> qmax 15
        assertTrue(Double.isNaN(got[2]));
        double[] g = doubles(new UniformQuantizer(spec).backward(xa, Nd4j.ones(DataType.DOUBLE, 2, 3), qp));
        assertArrayEquals(new double[] {0, 1, 0, 0, 1, 1}, g, 0.0);
    }

    @Test
    void quantizeGivesTheClampCodesForInfinitiesAndRefusesNaNNamingTheElement() {
        QuantSpec spec = QuantSpec.activations(8, true);
        INDArray codes = new UniformQuantizer(spec).quantize(Nd4j.createFromArray(Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY),
                QParams.of(0.1, 0));
        assertArrayEquals(new int[] {127, -128}, codes.toIntVector());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new UniformQuantizer(spec).quantize(Nd4j.createFromArray(0.3, Double.NaN), QParams.of(0.1, 0)));
        assertTrue(e.getMessage().contains("element 1"), e.getMessage());
    }

    @Test
    void roundingKernelKeepsInfinitiesAndNaNInEveryMode() {
        for (Rounding r : Rounding.values()) {
            assertEquals(Double.POSITIVE_INFINITY, RoundingOps.round(r, Double.POSITIVE_INFINITY, 0.3));
            assertEquals(Double.NEGATIVE_INFINITY, RoundingOps.round(r, Double.NEGATIVE_INFINITY, 0.3));
            assertTrue(Double.isNaN(RoundingOps.round(r, Double.NaN, 0.3)));
        }
        assertTrue(Double.isNaN(RoundingOps.clamp(Double.NaN, -1, 1)));
    }

    @Test
    void binaryAndTernaryRefuseNonFiniteWeightsNamingTheElement() {
        INDArray w = Nd4j.createFromArray(0.3, -0.2, Double.NaN, 0.1).reshape(2, 2);
        IllegalArgumentException b = assertThrows(IllegalArgumentException.class,
                () -> new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, Granularity.PER_CHANNEL, 0).forward(w));
        assertTrue(b.getMessage().contains("element 2") && b.getMessage().contains("NaN"), b.getMessage());
        INDArray inf = Nd4j.createFromArray(0.3, Double.POSITIVE_INFINITY, 0.2, 0.1).reshape(2, 2);
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class,
                () -> new TernaryQuantizer(Granularity.PER_TENSOR, -1).codes(inf));
        assertTrue(t.getMessage().contains("element 1") && t.getMessage().contains("Infinity"), t.getMessage());
    }
}
