package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.reference.QuantReference;

class UniformQuantizerTest {

    private static final long[][] SHAPES = {{7}, {3, 5}, {4, 3, 2}, {2, 3, 4, 5}, {6, 1, 3, 3}};

    /** Random specs over every bit width, sign, scheme, range, granularity and rounding mode. */
    private static List<QuantSpec> specsFor(long[] shape, Random rnd) {
        List<QuantSpec> specs = new ArrayList<>();
        for (int bits = 1; bits <= 16; bits++) {
            for (QuantSpec.Scheme scheme : QuantSpec.Scheme.values()) {
                for (boolean signed : new boolean[] {true, false}) {
                    boolean narrow = signed && bits >= 2 && rnd.nextBoolean();
                    Rounding rounding = Rounding.values()[rnd.nextInt(Rounding.values().length)];
                    QuantSpec.Builder b = QuantSpec.builder().bits(bits).scheme(scheme).signed(signed).narrowRange(narrow)
                            .rounding(rounding).seed(rnd.nextLong());
                    int axis = rnd.nextInt(shape.length);
                    switch (rnd.nextInt(3)) {
                        case 0 -> b.perTensor();
                        case 1 -> b.perChannel(axis);
                        default -> {
                            long perChannel = QuantReference.size(shape) / shape[axis];
                            int group = 1;
                            for (int d = (int) perChannel; d >= 1; d--) {
                                if (perChannel % d == 0 && rnd.nextInt(3) == 0) {
                                    group = d;
                                    break;
                                }
                            }
                            b.perGroup(axis, group);
                        }
                    }
                    specs.add(b.build());
                }
            }
        }
        return specs;
    }

    private static double[] randomData(int n, Random rnd) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = switch (rnd.nextInt(5)) {
                case 0 -> 0.0;
                case 1 -> rnd.nextGaussian() * 10;
                default -> rnd.nextGaussian();
            };
        }
        return x;
    }

    private static QParams randomQParams(QuantSpec spec, long[] shape, double[] x) {
        int groups = QuantReference.groupCount(spec.granularity(), spec.axis(), spec.groupSize(), shape);
        double[][] mm = QuantReference.minMax(x, shape, spec.granularity(), spec.axis(), spec.groupSize());
        double[] s = new double[groups];
        int[] z = new int[groups];
        for (int g = 0; g < groups; g++) {
            // shrink the range a little so that some values fall outside the clamp range
            double[] p = QuantReference.qparams(spec, mm[0][g] * 0.8, mm[1][g] * 0.8, QParams.MIN_SCALE);
            s[g] = p[0];
            z[g] = (int) p[1];
        }
        return new QParams(s, z);
    }

    private static double[] noiseFor(QuantSpec spec, int n) {
        SplittableRandom r = new SplittableRandom(spec.seed());
        double[] u = new double[n];
        for (int i = 0; i < n; i++) {
            u[i] = r.nextDouble();
        }
        return u;
    }

    private static int[] ints(INDArray a) {
        return a.dup('c').data().asInt();
    }

    private static double[] doubles(INDArray a) {
        return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    }

    @Test
    void quantizeFakeQuantAndBackwardMatchReferenceOnRandomSpecsAndShapes() {
        Random rnd = new Random(42);
        int checked = 0;
        for (long[] shape : SHAPES) {
            for (QuantSpec spec : specsFor(shape, rnd)) {
                double[] x = randomData((int) QuantReference.size(shape), rnd);
                double[] g = randomData(x.length, rnd);
                QParams qp = randomQParams(spec, shape, x);
                double[] s = qp.scales();
                int[] z = qp.zeroPoints();
                double[] noise = noiseFor(spec, x.length);
                INDArray xa = Nd4j.createFromArray(x).reshape('c', shape);

                int[] expectedQ = QuantReference.quantize(x, shape, spec, s, z, noise);
                assertArrayEquals(expectedQ, ints(new UniformQuantizer(spec).quantize(xa, qp)), spec + " " + java.util.Arrays.toString(shape));

                double[] expectedFq = QuantReference.fakeQuant(x, shape, spec, s, z, noise);
                assertArrayEquals(expectedFq, doubles(new UniformQuantizer(spec).fakeQuant(xa, qp)), 0.0, spec.toString());

                double[] expectedDq = QuantReference.dequantize(expectedQ, shape, spec, s, z);
                INDArray qa = Nd4j.createFromArray(expectedQ).reshape('c', shape);
                assertArrayEquals(expectedDq, doubles(new UniformQuantizer(spec).dequantize(qa, qp, DataType.DOUBLE)), 0.0);

                double[] expectedGrad = QuantReference.steBackward(x, g, shape, spec, s, z);
                INDArray ga = Nd4j.createFromArray(g).reshape('c', shape);
                assertArrayEquals(expectedGrad, doubles(new UniformQuantizer(spec).backward(xa, ga, qp)), 0.0, spec.toString());
                checked++;
            }
        }
        assertEquals(SHAPES.length * 16 * 4, checked);
    }

    @Test
    void float32InputGivesTheReferenceRoundedToFloat() {
        Random rnd = new Random(7);
        long[] shape = {4, 3, 3, 3};
        QuantSpec spec = QuantSpec.weightsPerChannel(4, 0);
        float[] xf = new float[108];
        double[] x = new double[108];
        for (int i = 0; i < x.length; i++) {
            xf[i] = (float) rnd.nextGaussian();
            x[i] = xf[i];
        }
        QParams qp = randomQParams(spec, shape, x);
        INDArray out = new UniformQuantizer(spec).fakeQuant(Nd4j.createFromArray(xf).reshape('c', shape), qp);
        assertEquals(DataType.FLOAT, out.dataType());
        double[] ref = QuantReference.fakeQuant(x, shape, spec, qp.scales(), qp.zeroPoints(), null);
        float[] got = out.dup('c').data().asFloat();
        for (int i = 0; i < ref.length; i++) {
            assertEquals((float) ref[i], got[i], 0.0f);
        }
    }

    @Test
    void tiesRoundHalfToEvenByDefaultAndAwayFromZeroOnRequest() {
        double[] x = {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.49999999999999994, 3.5000000000000004};
        INDArray xa = Nd4j.createFromArray(x);
        QuantSpec even = QuantSpec.builder().bits(8).build();
        QuantSpec away = even.toBuilder().rounding(Rounding.HALF_AWAY).build();
        QParams unit = QParams.of(1.0, 0);
        assertArrayEquals(new int[] {0, 2, 2, 0, -2, -2, 0, 0, 4}, ints(new UniformQuantizer(even).quantize(xa, unit)));
        assertArrayEquals(new int[] {1, 2, 3, -1, -2, -3, 0, 0, 4}, ints(new UniformQuantizer(away).quantize(xa, unit)));
    }

    @Test
    void tiesAfterTheZeroPointShiftRoundBeforeAddingZ() {
        // half-even: x/s = 0.5 rounds to 0 and then z = 3 is added: code 3, not round(3.5) = 4
        QuantSpec even = QuantSpec.activations(8, false).toBuilder().rounding(Rounding.HALF_EVEN).build();
        INDArray q = new UniformQuantizer(even).quantize(Nd4j.createFromArray(0.5, 1.5), QParams.of(1.0, 3));
        assertArrayEquals(new int[] {3, 5}, ints(q));
    }

    @Test
    void activationSpecsRoundTiesUpAsTheIntegerRequantizationDoes() {
        // activations round ties toward +inf, as TFLite's single-rounding requantization (x M0 + 2^(30-shift)) >> (31-shift)
        QuantSpec spec = QuantSpec.activations(8, true);
        assertEquals(Rounding.HALF_UP, spec.rounding());
        double[] x = {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.49999999999999994, 18.5};
        assertArrayEquals(new int[] {1, 2, 3, 0, -1, -2, 0, 0, 19},
                ints(new UniformQuantizer(spec).quantize(Nd4j.createFromArray(x), QParams.of(1.0, 0))));
    }

    @Test
    void clampEdgesSaturateCodesAndZeroTheGradientStrictlyOutside() {
        QuantSpec spec = QuantSpec.weightsPerTensor(4);   // codes -7..7
        QParams qp = QParams.of(0.5, 0);
        double[] x = {3.5, 3.6, 3.75, 4.0, 100, -3.5, -3.6, -100, 0.0};
        INDArray xa = Nd4j.createFromArray(x);
        UniformQuantizer quantizer = new UniformQuantizer(spec);
        assertArrayEquals(new int[] {7, 7, 7, 7, 7, -7, -7, -7, 0}, ints(quantizer.quantize(xa, qp)));
        assertArrayEquals(new double[] {3.5, 3.5, 3.5, 3.5, 3.5, -3.5, -3.5, -3.5, 0}, doubles(quantizer.fakeQuant(xa, qp)), 0.0);
        INDArray ones = Nd4j.ones(DataType.DOUBLE, x.length);
        // x/s = 7 exactly is inside (gradient 1); 7.2 and beyond are outside (0)
        assertArrayEquals(new double[] {1, 0, 0, 0, 0, 1, 0, 0, 1}, doubles(quantizer.backward(xa, ones, qp)), 0.0);
    }

    @Test
    void zerosQuantizeToTheZeroPointAndBackExactly() {
        QuantSpec spec = QuantSpec.activations(8, false);
        QParams qp = QParams.fromRange(spec, new double[] {-1.3}, new double[] {2.9});
        INDArray zeros = Nd4j.zeros(DataType.FLOAT, 2, 3);
        UniformQuantizer quantizer = new UniformQuantizer(spec);
        for (int code : ints(quantizer.quantize(zeros, qp))) {
            assertEquals(qp.zeroPoint(0), code);
        }
        for (double v : doubles(quantizer.fakeQuant(zeros, qp))) {
            assertEquals(0.0, v, 0.0);
        }
    }

    @Test
    void allZeroChannelKeepsAFiniteScaleAndOutputsZeros() {
        long[] shape = {3, 4};
        double[] w = {0.5, -0.25, 1.0, 0.75, 0, 0, 0, 0, -2, 1, 0.5, 0.1};
        QuantSpec spec = QuantSpec.weightsPerChannel(8, 0);
        MinMaxObserver observer = new MinMaxObserver(spec);
        INDArray wa = Nd4j.createFromArray(w).reshape('c', shape);
        observer.observe(wa);
        QParams qp = observer.qparams();
        assertEquals(QParams.MIN_SCALE, qp.scale(1), 0.0);
        assertTrue(Double.isFinite(qp.scale(1)));
        double[] fq = doubles(new UniformQuantizer(spec).fakeQuant(wa, qp));
        double[] ref = QuantReference.fakeQuant(w, shape, spec, qp.scales(), qp.zeroPoints(), null);
        assertArrayEquals(ref, fq, 0.0);
        for (int i = 4; i < 8; i++) {
            assertEquals(0.0, fq[i], 0.0);
        }
        assertEquals(1.0, fq[2], 0.0);   // max|w| of channel 0 is exactly representable
    }

    @Test
    void everyBitWidthFrom1To16UsesExactlyItsCodeRange() {
        for (int bits = 1; bits <= 16; bits++) {
            QuantSpec spec = QuantSpec.builder().bits(bits).signed(false).scheme(QuantSpec.Scheme.AFFINE).build();
            int levels = 1 << bits;
            double[] x = new double[levels + 2];
            for (int i = 0; i < x.length; i++) {
                x[i] = i - 1;   // -1 .. levels: one below and one above the range
            }
            QParams qp = QParams.of(1.0, 0);
            int[] q = ints(new UniformQuantizer(spec).quantize(Nd4j.createFromArray(x), qp));
            assertEquals(0, q[0], "bits " + bits);
            assertEquals(levels - 1, q[q.length - 1], "bits " + bits);
            for (int i = 1; i <= levels; i++) {
                assertEquals(i - 1, q[i], "bits " + bits);
            }
        }
    }

    @Test
    void stochasticRoundingIsSeededAndUnbiased() {
        QuantSpec spec = QuantSpec.builder().bits(8).rounding(Rounding.STOCHASTIC).seed(1234).build();
        INDArray x = Nd4j.valueArrayOf(new long[] {20000}, 0.3, DataType.DOUBLE);
        QParams qp = QParams.of(1.0, 0);
        INDArray a = new UniformQuantizer(spec).quantize(x, qp);
        INDArray b = new UniformQuantizer(spec).quantize(x, qp);
        assertArrayEquals(ints(a), ints(b), "same seed, same codes");
        UniformQuantizer stream = new UniformQuantizer(spec);
        stream.quantize(x, qp);
        INDArray second = stream.quantize(x, qp);
        assertTrue(!java.util.Arrays.equals(ints(a), ints(second)), "the stream advances between calls");
        double mean = a.castTo(DataType.DOUBLE).meanNumber().doubleValue();
        // binomial(20000, 0.3): standard error 0.0032; 5 sigma
        assertEquals(0.3, mean, 0.016);
    }

    @Test
    void qparamCountMustMatchTheGrouping() {
        QuantSpec spec = QuantSpec.weightsPerChannel(8, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new UniformQuantizer(spec).fakeQuant(Nd4j.ones(4, 2), QParams.of(1.0, 0)));
        assertTrue(e.getMessage().contains("needs 4"), e.getMessage());
    }

    @Test
    void groupSizeThatDoesNotDivideTheChannelIsRejectedWithTheDivisor() {
        QuantSpec spec = QuantSpec.builder().bits(4).perGroup(0, 3).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new UniformQuantizer(spec).fakeQuant(Nd4j.ones(2, 4), new QParams(new double[] {1, 1}, new int[] {0, 0})));
        assertTrue(e.getMessage().contains("divides 4"), e.getMessage());
    }
}
