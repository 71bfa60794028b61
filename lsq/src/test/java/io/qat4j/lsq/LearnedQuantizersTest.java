package io.qat4j.lsq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.Rounding;

class LearnedQuantizersTest {

    private static final long[] SHAPE = {4, 3, 3};

    private static double[] gaussian(int n, Random rnd, double sigma) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextGaussian() * sigma;
        }
        return x;
    }

    private static INDArray arr(double[] x, long... shape) {
        return Nd4j.createFromArray(x).reshape('c', shape);
    }

    private static double[] doubles(INDArray a) {
        return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    }

    @Test
    void lsqForwardAndGradientsMatchReferencePerTensorAndPerChannel() {
        Random rnd = new Random(1);
        for (int bits = 2; bits <= 8; bits++) {
            for (QuantSpec spec : new QuantSpec[] {QuantSpec.weightsPerTensor(bits), QuantSpec.weightsPerChannel(bits, 0),
                    QuantSpec.builder().bits(bits).signed(false).build()}) {
                double[] x = gaussian(36, rnd, 1.0);
                double[] g = gaussian(36, rnd, 1.0);
                LsqQuantizer q = new LsqQuantizer(spec);
                double[] step = q.initStep(arr(x, SHAPE));
                double scale = q.weightGradScale(SHAPE);
                double[][] ref = LearnedReference.lsqPlus(x, g, SHAPE, spec, step, new double[step.length], scale);
                assertArrayEquals(ref[0], doubles(q.forward(arr(x, SHAPE), step)), 1e-12, spec.toString());
                LsqQuantizer.Gradients grads = q.backward(arr(x, SHAPE), arr(g, SHAPE), step, scale);
                assertArrayEquals(ref[1], doubles(grads.input()), 0.0);
                assertArrayEquals(ref[2], grads.step(), 1e-10);
            }
        }
    }

    @Test
    void lsqInitIsTwiceMeanAbsOverSqrtQp() {
        double[] x = {1, -2, 3, -4};
        LsqQuantizer q = new LsqQuantizer(QuantSpec.weightsPerTensor(4));   // Qp = 7
        assertEquals(2 * 2.5 / Math.sqrt(7), q.initStep(arr(x, 4))[0], 1e-15);
        assertEquals(1.0 / Math.sqrt(100 * 7), LsqQuantizer.gradScale(100, 7), 1e-15);
    }

    @Test
    void stepGradientAtAndBeyondBothClampEdges() {
        // 4-bit narrow: Qn = Qp = 7, s = 0.5 -> clamp range [-3.5, 3.5]
        LsqQuantizer q = new LsqQuantizer(QuantSpec.weightsPerTensor(4));
        double[] step = {0.5};
        double[] x = {-10, -3.6, -3.5, -1.2, 0.0, 0.3, 3.5, 3.6, 10};
        double[] expected = {-7, -7, 0, -2 - (-2.4), 0, 1 - 0.6, 0, 7, 7};
        for (int i = 0; i < x.length; i++) {
            double[] one = new double[x.length];
            one[i] = 1;
            double ds = q.backward(arr(x, x.length), arr(one, x.length), step, 1.0).step()[0];
            assertEquals(expected[i], ds, 1e-12, "x=" + x[i]);
        }
        double[] dx = doubles(q.backward(arr(x, x.length), Nd4j.ones(DataType.DOUBLE, x.length), step, 1.0).input());
        assertArrayEquals(new double[] {0, 0, 1, 1, 1, 1, 1, 0, 0}, dx, 0.0);
    }

    @Test
    void stepGradientAgreesWithFiniteDifferencesOnTheNonRoundedPart() {
        // Outside the clamp range x^ = -Qn s or Qp s is linear in s: the FD slope is the gradient.
        // Inside, with no rounding boundary crossed, FD of x^ = round(x/s) s gives round(x/s); the STE adds -x/s.
        LsqQuantizer q = new LsqQuantizer(QuantSpec.weightsPerTensor(3));   // Qn = Qp = 3
        double s = 0.4;
        double h = 1e-6;
        for (double x : new double[] {-5.0, -1.3, -0.17, 0.61, 0.9, 5.0}) {
            double up = doubles(q.forward(arr(new double[] {x}, 1), new double[] {s + h}))[0];
            double down = doubles(q.forward(arr(new double[] {x}, 1), new double[] {s - h}))[0];
            double fd = (up - down) / (2 * h);
            double grad = q.backward(arr(new double[] {x}, 1), Nd4j.ones(DataType.DOUBLE, 1), new double[] {s}, 1.0).step()[0];
            boolean inside = Math.abs(x / s) <= 3;
            assertEquals(inside ? fd - x / s : fd, grad, 1e-6, "x=" + x);
        }
    }

    @Test
    void lsqPlusMatchesReferenceAndOffsetGradientIsOneOutside() {
        Random rnd = new Random(2);
        QuantSpec spec = QuantSpec.builder().bits(4).signed(false).scheme(QuantSpec.Scheme.AFFINE).build();
        LsqPlusQuantizer q = new LsqPlusQuantizer(spec);
        double[] x = gaussian(36, rnd, 1.5);
        double[] g = gaussian(36, rnd, 1.0);
        LsqPlusQuantizer.Params p = q.initFromRange(new double[] {-1.0}, new double[] {2.0});
        assertEquals(3.0 / 15, p.step()[0], 1e-15);
        assertEquals(-1.0, p.offset()[0], 1e-15);
        double[][] ref = LearnedReference.lsqPlus(x, g, SHAPE, spec, p.step(), p.offset(), 0.25);
        assertArrayEquals(ref[0], doubles(q.forward(arr(x, SHAPE), p.step(), p.offset())), 1e-12);
        LsqPlusQuantizer.Gradients grads = q.backward(arr(x, SHAPE), arr(g, SHAPE), p.step(), p.offset(), 0.25);
        assertArrayEquals(ref[1], doubles(grads.input()), 0.0);
        assertArrayEquals(ref[2], grads.step(), 1e-10);
        assertArrayEquals(ref[3], grads.offset(), 1e-10);

        double[] edge = {-2.0, -1.0, 0.5, 2.0, 3.0};
        double[] db = new double[edge.length];
        for (int i = 0; i < edge.length; i++) {
            double[] one = new double[edge.length];
            one[i] = 1;
            db[i] = q.backward(arr(edge, 5), arr(one, 5), p.step(), p.offset(), 1.0).offset()[0];
        }
        assertArrayEquals(new double[] {1, 0, 0, 0, 1}, db, 1e-12);
    }

    @Test
    void pactMatchesReferenceAndAlphaGradientCountsClippedInputsPlusDecay() {
        Random rnd = new Random(3);
        double[] x = gaussian(50, rnd, 3.0);
        double[] g = gaussian(50, rnd, 1.0);
        for (int bits = 1; bits <= 8; bits++) {
            PactQuantizer q = new PactQuantizer(bits, 1e-3, Rounding.HALF_EVEN);
            double[][] ref = LearnedReference.pact(x, g, bits, 2.5, 1e-3);
            assertArrayEquals(ref[0], doubles(q.forward(arr(x, 50), 2.5)), 1e-12);
            PactQuantizer.Gradients grads = q.backward(arr(x, 50), arr(g, 50), 2.5);
            assertArrayEquals(ref[1], doubles(grads.input()), 0.0);
            assertEquals(ref[2][0], grads.alpha(), 1e-10);
        }
        PactQuantizer q = new PactQuantizer(2, 0.0, Rounding.HALF_EVEN);
        // alpha = 3, 2 bits: levels at 0, 1, 2, 3; x = alpha exactly is clipped (alpha gradient), just below passes
        double[] edge = {-1, 0, 2.99, 3, 4};
        assertArrayEquals(new double[] {0, 0, 3, 3, 3}, doubles(q.forward(arr(edge, 5), 3.0)), 1e-12);
        PactQuantizer.Gradients grads = q.backward(arr(edge, 5), Nd4j.ones(DataType.DOUBLE, 5), 3.0);
        assertArrayEquals(new double[] {0, 1, 1, 0, 0}, doubles(grads.input()), 0.0);
        assertEquals(2.0, grads.alpha(), 0.0);
    }

    @Test
    void misconfigurationsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new LsqQuantizer(QuantSpec.activations(4, false)));
        assertThrows(IllegalArgumentException.class,
                () -> new LsqQuantizer(QuantSpec.weightsPerTensor(4).toBuilder().rounding(Rounding.STOCHASTIC).build()));
        assertThrows(IllegalArgumentException.class, () -> new PactQuantizer(0, 0, Rounding.HALF_EVEN));
        assertThrows(IllegalArgumentException.class, () -> new PactQuantizer(4, -1, Rounding.HALF_EVEN));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LsqQuantizer(QuantSpec.weightsPerChannel(4, 0)).forward(Nd4j.ones(3, 2), new double[] {1}));
        assertTrue(e.getMessage().contains("needs 3"), e.getMessage());
    }
}
