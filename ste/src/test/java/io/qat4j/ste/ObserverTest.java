package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.reference.QuantReference;

class ObserverTest {

    private static double[] gaussian(int n, Random rnd, double shift) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextGaussian() + shift;
        }
        return x;
    }

    @Test
    void minMaxObserverTracksPerChannelExtremesOverBatchesOfVaryingSize() {
        Random rnd = new Random(11);
        QuantSpec spec = QuantSpec.builder().bits(8).signed(false).scheme(QuantSpec.Scheme.AFFINE).perChannel(1).build();
        MinMaxObserver observer = new MinMaxObserver(spec);
        double[] min = {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY};
        double[] max = {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY};
        for (int batch = 1; batch <= 4; batch++) {
            long[] shape = {batch, 3, 2, 2};
            double[] x = gaussian(batch * 12, rnd, batch);
            observer.observe(Nd4j.createFromArray(x).reshape('c', shape));
            double[][] mm = QuantReference.minMax(x, shape, Granularity.PER_CHANNEL, 1, 0);
            for (int c = 0; c < 3; c++) {
                min[c] = Math.min(min[c], mm[0][c]);
                max[c] = Math.max(max[c], mm[1][c]);
            }
        }
        assertArrayEquals(min, observer.min(), 0.0);
        assertArrayEquals(max, observer.max(), 0.0);
        assertEquals(QParams.fromRange(spec, min, max), observer.qparams());
    }

    @Test
    void movingAverageObserverFollowsTheEmaFormula() {
        QuantSpec spec = QuantSpec.activations(8, false);
        MovingAverageMinMaxObserver observer = new MovingAverageMinMaxObserver(spec, 0.1);
        observer.observe(Nd4j.createFromArray(-1.0, 4.0));
        assertArrayEquals(new double[] {-1.0}, observer.min(), 0.0);
        observer.observe(Nd4j.createFromArray(-3.0, 2.0));
        assertEquals(-1.0 + 0.1 * (-3.0 + 1.0), observer.min()[0], 1e-15);
        assertEquals(4.0 + 0.1 * (2.0 - 4.0), observer.max()[0], 1e-15);
        observer.reset();
        assertTrue(!observer.hasObserved());
    }

    @Test
    void observersRefuseNaNAndMissingData() {
        MinMaxObserver observer = new MinMaxObserver(QuantSpec.activations(8, true));
        IllegalStateException none = assertThrows(IllegalStateException.class, observer::qparams);
        assertTrue(none.getMessage().contains("observe"), none.getMessage());
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                () -> observer.observe(Nd4j.createFromArray(1.0, Double.NaN)));
        assertTrue(nan.getMessage().contains("NaN"), nan.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MovingAverageMinMaxObserver(QuantSpec.activations(8, true), 0));
    }

    @Test
    void groupCountMustStayTheSame() {
        MinMaxObserver observer = new MinMaxObserver(QuantSpec.weightsPerChannel(8, 0));
        observer.observe(Nd4j.ones(3, 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> observer.observe(Nd4j.ones(4, 2)));
        assertTrue(e.getMessage().contains("earlier ones had 3"), e.getMessage());
    }
}
