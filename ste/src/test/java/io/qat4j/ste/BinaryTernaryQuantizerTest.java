package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.reference.QuantReference;

class BinaryTernaryQuantizerTest {

    private static final long[] SHAPE = {5, 3, 2, 2};

    private static double[] weights(Random rnd) {
        double[] w = new double[60];
        for (int i = 0; i < w.length; i++) {
            w[i] = rnd.nextInt(8) == 0 ? 0.0 : rnd.nextGaussian() * 0.8;
        }
        for (int i = 12; i < 24; i++) {
            w[i] = 0.0;   // channel 1 all zeros
        }
        return w;
    }

    private static double[] doubles(INDArray a) {
        return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    }

    @Test
    void binaryForwardMatchesReferenceForEachScalingAndGranularity() {
        Random rnd = new Random(5);
        for (BinaryQuantizer.Scaling scaling : BinaryQuantizer.Scaling.values()) {
            for (Granularity g : new Granularity[] {Granularity.PER_TENSOR, Granularity.PER_CHANNEL}) {
                double[] w = weights(rnd);
                INDArray wa = Nd4j.createFromArray(w).reshape('c', SHAPE);
                BinaryQuantizer q = new BinaryQuantizer(scaling, g, 0);
                double[] ref = QuantReference.binary(w, SHAPE, scaling == BinaryQuantizer.Scaling.MEAN_ABS, g, 0);
                assertArrayEquals(ref, doubles(q.forward(wa)), 1e-12, scaling + " " + g);
                for (int code : q.codes(wa).dup().data().asInt()) {
                    assertEquals(1, Math.abs(code));
                }
            }
        }
    }

    @Test
    void binaryBackwardIsTheHardTanhSte() {
        double[] w = {-1.5, -1.0, -0.3, 0.0, 0.99, 1.0, 1.0000001, 3};
        double[] g = {1, 2, 3, 4, 5, 6, 7, 8};
        BinaryQuantizer q = new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, Granularity.PER_TENSOR, -1);
        double[] got = doubles(q.backward(Nd4j.createFromArray(w), Nd4j.createFromArray(g)));
        assertArrayEquals(QuantReference.binaryBackward(w, g), got, 0.0);
        assertArrayEquals(new double[] {0, 2, 3, 4, 5, 6, 0, 0}, got, 0.0);
    }

    @Test
    void ternaryMatchesTwnReferenceAndZeroChannelGetsAlphaZero() {
        Random rnd = new Random(6);
        for (Granularity g : new Granularity[] {Granularity.PER_TENSOR, Granularity.PER_CHANNEL}) {
            double[] w = weights(rnd);
            INDArray wa = Nd4j.createFromArray(w).reshape('c', SHAPE);
            TernaryQuantizer q = new TernaryQuantizer(g, 0);
            int[] codes = QuantReference.ternaryCodes(w, SHAPE, 0.7, g, 0);
            double[] alpha = QuantReference.ternaryAlpha(w, SHAPE, 0.7, g, 0);
            assertArrayEquals(codes, q.codes(wa).dup().data().asInt(), g.toString());
            assertArrayEquals(alpha, q.scales(wa), 1e-12);
            double[] out = doubles(q.forward(wa));
            for (int i = 0; i < w.length; i++) {
                int group = QuantReference.groupOf(i, g, 0, 0, SHAPE);
                assertEquals(alpha[group] * codes[i], out[i], 1e-12);
            }
            if (g == Granularity.PER_CHANNEL) {
                assertEquals(0.0, alpha[1], 0.0);
            }
        }
    }

    @Test
    void ternaryThresholdIsSeventyPercentOfMeanAbs() {
        // mean|w| = 1 -> delta = 0.7: 0.69 -> 0, 0.71 -> 1; alpha = mean(0.71, 2.3, 1.0) over |w| > delta
        double[] w = {0.69, -0.71 + 0.0, 2.3, -1.0, 0.3};
        double mean = (0.69 + 0.71 + 2.3 + 1.0 + 0.3) / 5;
        assertEquals(1.0, mean, 1e-12);
        TernaryQuantizer q = new TernaryQuantizer(Granularity.PER_TENSOR, -1);
        assertArrayEquals(new int[] {0, -1, 1, -1, 0}, q.codes(Nd4j.createFromArray(w)).data().asInt());
        assertEquals((0.71 + 2.3 + 1.0) / 3, q.scales(Nd4j.createFromArray(w))[0], 1e-12);
    }

    @Test
    void ternaryBackwardPassesGradientsThroughUnchanged() {
        INDArray g = Nd4j.createFromArray(1.0, -2.0, 3.0);
        TernaryQuantizer q = new TernaryQuantizer(Granularity.PER_TENSOR, -1);
        assertArrayEquals(new double[] {1, -2, 3}, doubles(q.backward(Nd4j.createFromArray(5.0, 0.0, -7.0), g)), 0.0);
    }

    @Test
    void invalidConfigurationsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new TernaryQuantizer(0.0, Granularity.PER_TENSOR, -1));
        assertThrows(IllegalArgumentException.class, () -> new TernaryQuantizer(Granularity.PER_GROUP, 0));
        assertThrows(IllegalArgumentException.class, () -> new BinaryQuantizer(BinaryQuantizer.Scaling.NONE, Granularity.PER_CHANNEL, -1));
    }
}
