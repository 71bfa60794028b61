package io.qat4j.runtime.optimized;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The int8 dot products of {@link OptimizedKernels} with the incubating Vector API
 * ({@code jdk.incubator.vector}, JDK 17): 16 int8 values are widened to 16-bit lanes, multiplied
 * there (every int8 product fits: |x w| <= 2^14), and the products widened to two 8-lane int32
 * vectors that accumulate; the tail runs scalar. Integer arithmetic, so the result equals the scalar
 * loop exactly. Only loaded when the module is present ({@link OptimizedKernels#vectorAvailable()}).
 */
final class VectorDot {

    private static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_256;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_256;
    private static final int STEP = BYTES.length();

    private VectorDot() {
    }

    private static ShortVector widen(byte[] a, int i) {
        return (ShortVector) ByteVector.fromArray(BYTES, a, i).convertShape(VectorOperators.B2S, SHORTS, 0);
    }

    private static IntVector accumulate(IntVector acc, ShortVector product) {
        return acc.add((IntVector) product.convertShape(VectorOperators.S2I, INTS, 0))
                .add((IntVector) product.convertShape(VectorOperators.S2I, INTS, 1));
    }

    static int dot(byte[] a, int ai, byte[] b, int bi, int len) {
        IntVector acc = IntVector.zero(INTS);
        int i = 0;
        for (; i + STEP <= len; i += STEP) {
            acc = accumulate(acc, widen(a, ai + i).mul(widen(b, bi + i)));
        }
        int s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            s += a[ai + i] * b[bi + i];
        }
        return s;
    }

    static void dot4(byte[] w, int wi, int k, byte[] patch, int pi, int[] out) {
        IntVector a0 = IntVector.zero(INTS);
        IntVector a1 = IntVector.zero(INTS);
        IntVector a2 = IntVector.zero(INTS);
        IntVector a3 = IntVector.zero(INTS);
        int i = 0;
        for (; i + STEP <= k; i += STEP) {
            ShortVector x = widen(patch, pi + i);
            a0 = accumulate(a0, x.mul(widen(w, wi + i)));
            a1 = accumulate(a1, x.mul(widen(w, wi + k + i)));
            a2 = accumulate(a2, x.mul(widen(w, wi + 2 * k + i)));
            a3 = accumulate(a3, x.mul(widen(w, wi + 3 * k + i)));
        }
        int s0 = a0.reduceLanes(VectorOperators.ADD);
        int s1 = a1.reduceLanes(VectorOperators.ADD);
        int s2 = a2.reduceLanes(VectorOperators.ADD);
        int s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < k; i++) {
            int v = patch[pi + i];
            s0 += w[wi + i] * v;
            s1 += w[wi + k + i] * v;
            s2 += w[wi + 2 * k + i] * v;
            s3 += w[wi + 3 * k + i] * v;
        }
        out[0] = s0;
        out[1] = s1;
        out[2] = s2;
        out[3] = s3;
    }
}
