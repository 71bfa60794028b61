package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import java.util.SplittableRandom;

import io.qat4j.runtime.optimized.OptimizedKernels;

/**
 * TFLite's fixed-point requantization written out as plain long arithmetic, independently of
 * {@link FixedPoint}, for the node tests' references; and the harness that runs one graph on the
 * reference kernels and on the optimized ones (Vector API on and off) and insists on the same bytes.
 */
final class TfliteMath {

    private TfliteMath() {
    }

    /**
     * {@code MultiplyByQuantizedMultiplier(x, m, shift)} as TFLite defines it. SINGLE: {@code floor((x m + 2^(30 - shift)) / 2^(31 - shift))},
     * saturated to int32. DOUBLE: {@code x 2^left} wrapped to int32 (the compiled kernel's int32 product), then
     * the high multiply {@code round(a m / 2^31)} with ties toward +infinity, truncated toward zero after the
     * nudge as C++ division does ({@code INT32_MIN^2} saturates), then a division by {@code 2^right} rounded half
     * away from zero.
     */
    static long mbqm(long x, int m, int shift, FixedPoint.Rounding rounding) {
        return switch (rounding) {
            case SINGLE -> {
                int total = 31 - shift;
                long v = Math.floorDiv(x * m + (1L << (total - 1)), 1L << total);
                yield Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v));
            }
            case DOUBLE -> {
                int left = Math.max(shift, 0);
                int right = Math.max(-shift, 0);
                long a = (int) (x << left);
                long high;
                if (a == Integer.MIN_VALUE && m == Integer.MIN_VALUE) {
                    high = Integer.MAX_VALUE;
                } else {
                    long ab = a * m;
                    long nudged = ab + (ab >= 0 ? 1L << 30 : 1 - (1L << 30));
                    high = nudged / (1L << 31);   // truncation toward zero, as C++
                }
                yield right == 0 ? high : Long.signum(high) * ((Math.abs(high) + (1L << (right - 1))) >> right);
            }
        };
    }

    /** {@code clamp(zeroPoint + mbqm(acc), min, max)}. */
    static int requantize(long acc, int m, int shift, int zeroPoint, int min, int max, FixedPoint.Rounding rounding) {
        return (int) Math.max(min, Math.min(max, zeroPoint + mbqm(acc, m, shift, rounding)));
    }

    /** Runs {@code g} on the reference kernels and on the optimized ones (Vector API off and on); all must agree; returns the bytes. */
    static byte[] runEverywhere(Int8Graph g, byte[] x, int n) {
        byte[] ref = new Int8Model(g, Int8Model.Kernels.REFERENCE).runQuantized(x, n);
        boolean vectorized = OptimizedKernels.vectorized();
        try {
            for (boolean vector : new boolean[] {false, true}) {
                OptimizedKernels.setVectorized(vector);
                assertArrayEquals(ref, new Int8Model(g, Int8Model.Kernels.OPTIMIZED).runQuantized(x, n),
                        "optimized kernels (vectorized " + OptimizedKernels.vectorized() + ") differ from the reference");
            }
        } finally {
            OptimizedKernels.setVectorized(vectorized);
        }
        return ref;
    }

    /** A one-node graph {@code in -> out}. */
    static Int8Graph single(Int8Graph.Tensor in, Int8Graph.Tensor out, Int8Graph.Node node, FixedPoint.Rounding rounding) {
        return new Int8Graph(List.of(in, out), List.of(node), 0, 1, rounding);
    }

    /** Random int8 codes, every {@code edgeEvery}-th one an extreme (-128 or 127). */
    static byte[] codes(SplittableRandom r, int n, int edgeEvery) {
        byte[] x = new byte[n];
        for (int i = 0; i < n; i++) {
            x[i] = i % edgeEvery == 0 ? (r.nextBoolean() ? Byte.MIN_VALUE : Byte.MAX_VALUE) : (byte) r.nextInt(-128, 128);
        }
        return x;
    }
}
