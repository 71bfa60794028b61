package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

import io.qat4j.ste.reference.QuantReference;

class QParamsTest {

    @Test
    void symmetricNarrowInt8ScaleIsAbsMaxOver127() {
        QParams qp = QParams.fromRange(QuantSpec.weightsPerTensor(8), new double[] {-0.5}, new double[] {1.27});
        assertEquals(1.27 / 127, qp.scale(0), 0.0);
        assertEquals(0, qp.zeroPoint(0));
    }

    @Test
    void affineRangeIsWidenedToContainZeroAndZeroIsExact() {
        QuantSpec spec = QuantSpec.activations(8, false);
        QParams qp = QParams.fromRange(spec, new double[] {-1.0}, new double[] {3.0});
        assertEquals(4.0 / 255, qp.scale(0), 1e-15);
        assertEquals(64, qp.zeroPoint(0));   // rint(255/4) = rint(63.75)
        QParams positive = QParams.fromRange(spec, new double[] {0.5}, new double[] {2.0});
        assertEquals(0, positive.zeroPoint(0), "range widened to [0, 2]");
        assertEquals(2.0 / 255, positive.scale(0), 1e-15);
    }

    @Test
    void fromRangeMatchesTheReferenceOnRandomRanges() {
        Random rnd = new Random(3);
        for (int trial = 0; trial < 2000; trial++) {
            int bits = 1 + rnd.nextInt(16);
            boolean signed = rnd.nextBoolean();
            QuantSpec spec = QuantSpec.builder().bits(bits).signed(signed)
                    .scheme(rnd.nextBoolean() ? QuantSpec.Scheme.AFFINE : QuantSpec.Scheme.SYMMETRIC)
                    .narrowRange(signed && bits > 1 && rnd.nextBoolean()).build();
            double a = rnd.nextGaussian() * Math.pow(10, rnd.nextInt(6) - 3);
            double b = rnd.nextGaussian() * Math.pow(10, rnd.nextInt(6) - 3);
            double lo = Math.min(a, b);
            double hi = Math.max(a, b);
            QParams qp = QParams.fromRange(spec, new double[] {lo}, new double[] {hi});
            double[] ref = QuantReference.qparams(spec, lo, hi, QParams.MIN_SCALE);
            assertEquals(ref[0], qp.scale(0), 0.0, spec + " [" + lo + "," + hi + "]");
            assertEquals((int) ref[1], qp.zeroPoint(0), spec + " [" + lo + "," + hi + "]");
            assertTrue(qp.zeroPoint(0) >= spec.qmin() && qp.zeroPoint(0) <= spec.qmax());
        }
    }

    @Test
    void degenerateRangesGetTheMinimumScale() {
        for (QuantSpec spec : new QuantSpec[] {QuantSpec.weightsPerTensor(8), QuantSpec.activations(4, false)}) {
            QParams qp = QParams.fromRange(spec, new double[] {0}, new double[] {0});
            assertEquals(QParams.MIN_SCALE, qp.scale(0), 0.0);
        }
    }

    @Test
    void badRangesAndScalesAreRejectedByName() {
        QuantSpec spec = QuantSpec.weightsPerTensor(8);
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                () -> QParams.fromRange(spec, new double[] {Double.NaN}, new double[] {1}));
        assertTrue(nan.getMessage().contains("group 0"), nan.getMessage());
        assertThrows(IllegalArgumentException.class, () -> QParams.fromRange(spec, new double[] {2}, new double[] {1}));
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> QParams.of(0.0, 0));
        assertTrue(zero.getMessage().contains("scale[0]"), zero.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new QParams(new double[] {1, 2}, new int[] {0}));
    }
}
