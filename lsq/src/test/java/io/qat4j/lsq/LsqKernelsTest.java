package io.qat4j.lsq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

import io.qat4j.ste.QuantGroups;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.Rounding;
import io.qat4j.ste.reference.QuantReference;

/**
 * {@link LsqKernels} and {@link PactKernels} (the loops training runs) against the plain
 * {@link LearnedReference}, element by element, forward and backward: the step gradient inside the
 * range, at and beyond both clamp edges, the LSQ+ offset gradient, PACT's alpha gradient with its
 * decay, and the gradient scale {@code 1/sqrt(N Qp)} with N as chosen for weights and activations.
 */
class LsqKernelsTest {

    private static final long[] SHAPE = {4, 3, 2, 3};
    private static final Rounding[] DETERMINISTIC = {Rounding.HALF_EVEN, Rounding.HALF_UP, Rounding.HALF_AWAY};

    private static QuantSpec[] specs(int bits, Rounding rounding) {
        return new QuantSpec[] {
            QuantSpec.builder().bits(bits).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).narrowRange(true).rounding(rounding).build(),
            QuantSpec.builder().bits(bits).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).narrowRange(true).rounding(rounding)
                    .perChannel(0).build(),
            QuantSpec.builder().bits(bits).signed(false).scheme(QuantSpec.Scheme.SYMMETRIC).rounding(rounding).perChannel(1).build(),
            QuantSpec.builder().bits(bits).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).rounding(rounding).perGroup(3, 3).build(),
        };
    }

    /** Random values plus, for each group, ties, both clamp edges, beyond them, zeros and non-finite values. */
    private static double[] inputs(QuantSpec spec, double[] s, double[] beta, Random rnd) {
        int n = (int) QuantReference.size(SHAPE);
        int lo = spec.qmin();
        int hi = spec.qmax();
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            int k = QuantReference.groupOf(i, spec, SHAPE);
            x[i] = beta[k] + s[k] * switch (i % 11) {
                case 0 -> rnd.nextInt(hi - lo) + lo + 0.5;   // a tie
                case 1 -> lo;
                case 2 -> hi;
                case 3 -> lo - 0.75;
                case 4 -> hi + 2.25;
                case 5 -> 0.0;
                case 6 -> i % 22 == 6 ? Double.NaN : Double.POSITIVE_INFINITY;
                case 7 -> Double.NEGATIVE_INFINITY;
                default -> (rnd.nextDouble() * 1.4 - 0.2) * (hi - lo) + lo;
            };
        }
        return x;
    }

    @Test
    void lsqAndLsqPlusForwardAndGradientsMatchReferenceElementByElement() {
        Random rnd = new Random(11);
        for (Rounding rounding : DETERMINISTIC) {
            for (int bits = 2; bits <= 8; bits += 3) {
                for (QuantSpec spec : specs(bits, rounding)) {
                    for (boolean plus : new boolean[] {false, true}) {
                        QuantGroups groups = QuantGroups.of(spec, SHAPE);
                        int k = groups.groups();
                        double[] s = new double[k];
                        double[] beta = new double[k];
                        for (int g = 0; g < k; g++) {
                            s[g] = 0.02 + rnd.nextDouble() * 0.5;
                            beta[g] = plus ? rnd.nextGaussian() * 0.3 : 0;
                        }
                        double[] x = inputs(spec, s, beta, rnd);
                        double[] gradOut = new double[x.length];
                        for (int i = 0; i < x.length; i++) {
                            gradOut[i] = rnd.nextGaussian();
                        }
                        double scale = LsqQuantizer.gradScale(groups.groupLength(), spec.qmax());
                        double[][] ref = LearnedReference.lsqPlus(x, gradOut, SHAPE, spec, s, beta, scale, rounding);
                        String what = spec + (plus ? " LSQ+" : " LSQ");

                        assertArrayEquals(ref[0], LsqKernels.forward(x, groups, s, plus ? beta : null, spec.qmin(), spec.qmax(), rounding),
                                0.0, what);
                        double[] dx = gradOut.clone();
                        double[] ds = new double[k];
                        double[] db = plus ? new double[k] : null;
                        LsqKernels.backward(x, dx, groups, s, plus ? beta : null, spec.qmin(), spec.qmax(), rounding, ds, db, scale);
                        assertArrayEquals(ref[1], dx, 0.0, what);
                        assertArrayEquals(ref[2], ds, 1e-12, what);
                        if (plus) {
                            assertArrayEquals(ref[3], db, 1e-12, what);
                        }
                    }
                }
            }
        }
    }

    @Test
    void stepGradientIsRoundMinusVInsideAndQnQpAtAndBeyondTheClampEdges() {
        // 4-bit signed [-8, 7], s = 0.5: v = x/s
        QuantGroups groups = QuantGroups.perTensor(new long[] {8});
        double[] v = {1.3, -2.5, 2.5, -8, 7, -8.25, 7.5, 0};
        double[] x = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            x[i] = v[i] * 0.5;
        }
        // inside round(v) - v (ties up: round(-2.5) = -2), 0 on both edges, -Qn below, Qp above
        double[] expected = {1 - 1.3, 0.5, 0.5, 0, 0, -8, 7, 0};
        for (int i = 0; i < v.length; i++) {
            double[] grad = new double[v.length];
            grad[i] = 1;
            double[] ds = new double[1];
            LsqKernels.backward(x, grad, groups, new double[] {0.5}, null, -8, 7, Rounding.HALF_UP, ds, null, 1);
            assertEquals(expected[i], ds[0], 1e-15, "v = " + v[i]);
            assertEquals(i == 5 || i == 6 ? 0.0 : 1.0, grad[i], 0.0, "input gradient at v = " + v[i]);
        }
    }

    @Test
    void offsetGradientIsOneOutsideTheRangeAndZeroInside() {
        QuantGroups groups = QuantGroups.perTensor(new long[] {5});
        double beta = -0.3;
        double s = 0.25;   // unsigned 2-bit [0, 3]: range [beta, beta + 3 s]
        double[] x = {beta - 0.01, beta, beta + 0.4, beta + 3 * s, beta + 3 * s + 0.01};
        double[] grad = {2, 3, 5, 7, 11};
        double[] ds = new double[1];
        double[] db = new double[1];
        LsqKernels.backward(x, grad, groups, new double[] {s}, new double[] {beta}, 0, 3, Rounding.HALF_EVEN, ds, db, 0.5);
        assertEquals((2 + 11) * 0.5, db[0], 1e-15);
        assertArrayEquals(new double[] {0, 3, 5, 7, 0}, grad, 0.0);
    }

    @Test
    void gradientScaleUsesElementsPerGroupForWeightsAndFeaturesPerSampleForActivations() {
        QuantSpec perTensor = QuantSpec.weightsPerTensor(4);
        QuantSpec perChannel = QuantSpec.weightsPerChannel(4, 0);
        long[] weights = {16, 8, 3, 3};
        assertEquals(1 / Math.sqrt(16 * 8 * 3 * 3 * 7.0), new LsqQuantizer(perTensor).weightGradScale(weights), 1e-18);
        assertEquals(1 / Math.sqrt(8 * 3 * 3 * 7.0), new LsqQuantizer(perChannel).weightGradScale(weights), 1e-18);
        long[] activations = {32, 8, 5, 5};
        assertEquals(1 / Math.sqrt(8 * 5 * 5 * 255.0), LsqQuantizer.activationGradScale(activations, 255), 1e-18);

        // and the backward multiplies both parameter gradients by it, per group
        Random rnd = new Random(5);
        QuantGroups groups = QuantGroups.of(perChannel, weights);
        double[] x = new double[16 * 8 * 9];
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextGaussian();
            g[i] = rnd.nextGaussian();
        }
        double[] s = LsqKernels.initialSteps(x, groups, perChannel.qmax());
        double scale = new LsqQuantizer(perChannel).weightGradScale(weights);
        double[][] ref = LearnedReference.lsqPlus(x, g, weights, perChannel, s, new double[16], scale, Rounding.HALF_EVEN);
        double[] ds = new double[16];
        LsqKernels.backward(x, g.clone(), groups, s, null, perChannel.qmin(), perChannel.qmax(), Rounding.HALF_EVEN, ds, null, scale);
        assertArrayEquals(ref[2], ds, 1e-12);
    }

    @Test
    void initialStepIsTwiceMeanAbsOverSqrtQpOverFiniteValues() {
        long[] shape = {2, 3};
        double[] x = {1, -2, 3, -4, 0, Double.NaN};
        QuantGroups groups = QuantGroups.of(QuantSpec.weightsPerChannel(4, 0), shape);
        double[] steps = LsqKernels.initialSteps(x, groups, 7);
        assertEquals(2 * 2.0 / Math.sqrt(7), steps[0], 1e-15);
        assertEquals(2 * 2.0 / Math.sqrt(7), steps[1], 1e-15);   // (4 + 0) / 2: NaN left out
        double[] ref = QuantReference.meanAbs(new double[] {1, -2, 3, -4, 0, 8}, shape, io.qat4j.ste.Granularity.PER_TENSOR, 0);
        assertEquals(Math.max(2 * ref[0] / Math.sqrt(7), LsqQuantizer.MIN_STEP),
                LsqKernels.initialSteps(new double[] {1, -2, 3, -4, 0, 8}, QuantGroups.perTensor(shape), 7)[0], 1e-15);
        assertEquals(LsqQuantizer.MIN_STEP, LsqKernels.initialSteps(new double[6], groups, 7)[0], 0.0);
    }

    @Test
    void pactForwardAndGradientsMatchReferenceSignedAndUnsigned() {
        Random rnd = new Random(13);
        for (Rounding rounding : DETERMINISTIC) {
            for (boolean signed : new boolean[] {false, true}) {
                for (int bits = 2; bits <= 8; bits += 2) {
                    double alpha = 0.5 + rnd.nextDouble() * 3;
                    int levels = PactKernels.levels(bits, signed);
                    assertEquals(signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1, levels);
                    double[] x = new double[200];
                    double[] g = new double[x.length];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = switch (i % 10) {
                            case 0 -> alpha;
                            case 1 -> -alpha;
                            case 2 -> 0.0;
                            case 3 -> (rnd.nextInt(levels) + 0.5) * alpha / levels;   // a tie
                            case 4 -> i % 20 == 4 ? Double.NaN : Double.POSITIVE_INFINITY;
                            case 5 -> Double.NEGATIVE_INFINITY;
                            default -> rnd.nextGaussian() * alpha;
                        };
                        g[i] = rnd.nextGaussian();
                    }
                    double decay = 5e-4;
                    double[][] ref = LearnedReference.pact(x, g, bits, alpha, decay, signed, rounding);
                    String what = (signed ? "signed" : "unsigned") + " " + bits + " bits " + rounding;
                    assertArrayEquals(ref[0], PactKernels.forward(x, alpha, levels, signed, rounding), 0.0, what);
                    double[] dx = g.clone();
                    double clip = PactKernels.backward(x, dx, alpha, signed);
                    assertArrayEquals(ref[1], dx, 0.0, what);
                    assertEquals(ref[2][0], PactKernels.alphaGradient(clip, decay, alpha), 1e-12, what);
                }
            }
        }
    }

    @Test
    void pactAlphaGradientCountsClippedElementsAndAddsTheDecay() {
        double alpha = 2;
        double[] x = {2.0, 3.0, 1.999, -2.0, -5.0, 0.0, -0.5};
        double[] g = {1, 2, 4, 8, 16, 32, 64};
        double[] unsigned = g.clone();
        assertEquals(3.0, PactKernels.backward(x, unsigned, alpha, false), 0.0);
        assertArrayEquals(new double[] {0, 0, 4, 0, 0, 32, 0}, unsigned, 0.0);
        double[] signed = g.clone();
        assertEquals(3.0 - 24.0, PactKernels.backward(x, signed, alpha, true), 0.0);
        assertArrayEquals(new double[] {0, 0, 4, 0, 0, 32, 64}, signed, 0.0);
        assertEquals(3.0 + 1e-3 * alpha, PactKernels.alphaGradient(3.0, 1e-3, alpha), 0.0);
        assertTrue(Double.isNaN(PactKernels.forward(new double[] {Double.NaN}, alpha, 3, false, Rounding.HALF_UP)[0]));
    }
}
