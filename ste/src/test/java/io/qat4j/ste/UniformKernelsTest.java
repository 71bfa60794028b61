package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import io.qat4j.ste.reference.QuantReference;

/**
 * {@link UniformKernels} (the loops training runs) against the plain {@link QuantReference}, element
 * by element, forward and backward, on random inputs and on ties, both clamp edges, zeros, NaN and
 * infinities, for every granularity and rounding.
 */
class UniformKernelsTest {

    private static final long[] SHAPE = {3, 4, 2, 4};

    private static List<QuantSpec> specs(Rounding rounding) {
        List<QuantSpec> specs = new ArrayList<>();
        for (int bits : new int[] {2, 4, 8}) {
            specs.add(QuantSpec.builder().bits(bits).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).narrowRange(true)
                    .rounding(rounding).build());
            specs.add(QuantSpec.builder().bits(bits).signed(false).scheme(QuantSpec.Scheme.AFFINE).rounding(rounding).perChannel(1).build());
            specs.add(QuantSpec.builder().bits(bits).signed(true).scheme(QuantSpec.Scheme.AFFINE).rounding(rounding).perChannel(3).build());
            specs.add(QuantSpec.builder().bits(bits).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).rounding(rounding).perGroup(0, 8)
                    .build());
        }
        return specs;
    }

    /** Random values, then per element of group k a tie, both clamp edges, beyond them, zeros and non-finite values. */
    private static double[] inputs(QuantSpec spec, double[] s, int[] z, Random rnd) {
        int n = (int) QuantReference.size(SHAPE);
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            int k = QuantReference.groupOf(i, spec, SHAPE);
            int lo = QuantReference.qmin(spec);
            int hi = QuantReference.qmax(spec);
            x[i] = switch (i % 12) {
                case 0 -> (rnd.nextInt(hi - lo) + lo - z[k] + 0.5) * s[k];   // a tie
                case 1 -> (lo - z[k]) * s[k];                                 // at the lower edge
                case 2 -> (hi - z[k]) * s[k];                                 // at the upper edge
                case 3 -> (lo - z[k] - 1.5) * s[k];                           // beyond the lower edge
                case 4 -> (hi - z[k] + 0.7) * s[k];                           // beyond the upper edge
                case 5 -> 0.0;
                case 6 -> -0.0;
                case 7 -> i % 24 == 7 ? Double.NaN : Double.POSITIVE_INFINITY;
                case 8 -> Double.NEGATIVE_INFINITY;
                default -> rnd.nextGaussian() * (hi - lo) * s[k] / 3;
            };
        }
        return x;
    }

    @Test
    void fakeQuantQuantizeAndSteBackwardMatchReferenceElementByElement() {
        Random rnd = new Random(7);
        for (Rounding rounding : Rounding.values()) {
            for (QuantSpec spec : specs(rounding)) {
                QuantGroups groups = QuantGroups.of(spec, SHAPE);
                int k = groups.groups();
                double[] s = new double[k];
                int[] z = new int[k];
                for (int g = 0; g < k; g++) {
                    s[g] = 0.01 + rnd.nextDouble();
                    z[g] = spec.scheme() == QuantSpec.Scheme.AFFINE ? spec.qmin() + rnd.nextInt(spec.qmax() - spec.qmin() + 1) : 0;
                }
                double[] x = inputs(spec, s, z, rnd);
                double[] grad = new double[x.length];
                double[] noise = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    grad[i] = rnd.nextGaussian();
                    noise[i] = rnd.nextDouble();
                }
                String what = spec.toString();
                double[] expected = QuantReference.fakeQuant(x, SHAPE, spec, s, z, noise);
                assertArrayEquals(expected, UniformKernels.fakeQuant(x, groups, s, null, z, spec.qmin(), spec.qmax(), rounding, noise), 0.0,
                        what);

                double[] finite = x.clone();
                for (int i = 0; i < finite.length; i++) {
                    if (Double.isNaN(finite[i])) {
                        finite[i] = 0;
                    }
                }
                int[] codes = QuantReference.quantize(finite, SHAPE, spec, s, z, noise);
                double[] kernelCodes = UniformKernels.quantize(finite, groups, s, z, spec.qmin(), spec.qmax(), rounding, noise);
                for (int i = 0; i < codes.length; i++) {
                    assertEquals(codes[i], kernelCodes[i], 0.0, what + " code " + i);
                }
                assertArrayEquals(QuantReference.dequantize(codes, SHAPE, spec, s, z),
                        UniformKernels.dequantize(kernelCodes, groups, s, z), 0.0, what);

                double[] dx = grad.clone();
                UniformKernels.steBackward(x, dx, groups, s, null, z, spec.qmin(), spec.qmax());
                assertArrayEquals(QuantReference.steBackward(x, grad, SHAPE, spec, s, z), dx, 0.0, what);
            }
        }
    }

    @Test
    void steBackwardKeepsTheGradientAtBothClampEdgesAndZeroesItBeyondAndForNaN() {
        QuantSpec spec = QuantSpec.builder().bits(4).signed(true).scheme(QuantSpec.Scheme.SYMMETRIC).build();   // [-8, 7]
        long[] shape = {6};
        double[] x = {-8 * 0.5, 7 * 0.5, -8.01 * 0.5, 7.01 * 0.5, Double.NaN, 0.0};
        double[] g = {1, 2, 3, 4, 5, 6};
        UniformKernels.steBackward(x, g, QuantGroups.perTensor(shape), new double[] {0.5}, null, null, -8, 7);
        assertArrayEquals(new double[] {1, 2, 0, 0, 0, 6}, g, 0.0);
        assertArrayEquals(QuantReference.steBackward(x, new double[] {1, 2, 3, 4, 5, 6}, shape, spec, new double[] {0.5}, new int[1]), g,
                0.0);
    }

    @Test
    void groupOfMatchesTheReferenceForEveryGranularity() {
        for (QuantSpec spec : specs(Rounding.HALF_EVEN)) {
            QuantGroups groups = QuantGroups.of(spec, SHAPE);
            for (int i = 0; i < QuantReference.size(SHAPE); i++) {
                assertEquals(QuantReference.groupOf(i, spec, SHAPE), groups.groupOf(i), spec + " element " + i);
            }
        }
    }

    @Test
    void largeTensorsGiveTheSameResultInParallelChunks() {
        long[] shape = {5, 3, ChunkedLoop.CHUNK / 4 + 7};   // several chunks
        QuantSpec spec = QuantSpec.builder().bits(3).signed(false).scheme(QuantSpec.Scheme.AFFINE).perChannel(1).build();
        QuantGroups groups = QuantGroups.of(spec, shape);
        Random rnd = new Random(3);
        double[] x = new double[(int) QuantReference.size(shape)];
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextGaussian();
            g[i] = rnd.nextGaussian();
        }
        double[] s = {0.1, 0.2, 0.3};
        int[] z = {1, 3, 5};
        assertArrayEquals(QuantReference.fakeQuant(x, shape, spec, s, z, null),
                UniformKernels.fakeQuant(x, groups, s, null, z, spec.qmin(), spec.qmax(), spec.rounding(), null), 0.0);
        double[] dx = g.clone();
        UniformKernels.steBackward(x, dx, groups, s, null, z, spec.qmin(), spec.qmax());
        assertArrayEquals(QuantReference.steBackward(x, g, shape, spec, s, z), dx, 0.0);
    }
}
