package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.qat4j.runtime.optimized.OptimizedKernels;
import io.qat4j.runtime.reference.ReferenceKernels;

/**
 * Channel concatenation (TFLite's int8 concatenation) against a plain reference: each input's block copied
 * when it has the output's scale and zero point, else {@code clamp(z_o + MBQM(x - z_i, M_i), -128, 127)}
 * written out in long arithmetic; inputs with equal and with different quantization, maps and vectors.
 */
class ConcatTest {

    private static byte[] expected(Int8Graph.Concat c, Int8Graph.Tensor[] ins, Int8Graph.Tensor out, byte[][] xs, int n,
                                   FixedPoint.Rounding rounding) {
        List<Byte> y = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < ins.length; i++) {
                int size = (int) ins[i].elements();
                boolean same = ins[i].scale() == out.scale() && ins[i].zeroPoint() == out.zeroPoint();
                for (int j = 0; j < size; j++) {
                    int q = xs[i][b * size + j];
                    y.add((byte) (same ? q : TfliteMath.requantize(q - ins[i].zeroPoint(), c.multiplier()[i], c.shift()[i], out.zeroPoint(),
                            -128, 127, rounding)));
                }
            }
        }
        byte[] a = new byte[y.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = y.get(i);
        }
        return a;
    }

    @Test
    void theIdentityMultiplierRequantizesEveryDifferenceToItself() {
        for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
            assertEquals(new FixedPoint.QuantizedMultiplier(Int8Graph.Concat.IDENTITY_MULTIPLIER, Int8Graph.Concat.IDENTITY_SHIFT),
                    FixedPoint.quantizeMultiplier(1.0));
            for (int d = -255; d <= 255; d++) {
                assertEquals(d, FixedPoint.multiplyByQuantizedMultiplier(d, Int8Graph.Concat.IDENTITY_MULTIPLIER, Int8Graph.Concat.IDENTITY_SHIFT,
                        rounding), rounding + " " + d);
            }
        }
    }

    @Test
    void randomInputsMatchThePlainReferenceOnBothKernelSets() {
        SplittableRandom r = new SplittableRandom(71);
        for (int trial = 0; trial < 200; trial++) {
            boolean maps = trial % 3 != 0;
            int count = 2 + r.nextInt(4);
            int h = 1 + r.nextInt(5);
            int w = 1 + r.nextInt(5);
            Int8Graph.Tensor out0 = new Int8Graph.Tensor(new int[] {1}, 0.02 + r.nextDouble() * 0.1, r.nextInt(-128, 128));
            Int8Graph.Tensor[] ins = new Int8Graph.Tensor[count];
            int channels = 0;
            for (int i = 0; i < count; i++) {
                int ch = 1 + r.nextInt(4);
                channels += ch;
                int[] dims = maps ? new int[] {ch, h, w} : new int[] {ch * h};
                // one input in three at the output's quantization (copied), one with only the zero point different
                ins[i] = switch (r.nextInt(3)) {
                    case 0 -> new Int8Graph.Tensor(dims, out0.scale(), out0.zeroPoint());
                    case 1 -> new Int8Graph.Tensor(dims, out0.scale(), r.nextInt(-128, 128));
                    default -> new Int8Graph.Tensor(dims, 0.005 + r.nextDouble() * 0.3, r.nextInt(-128, 128));
                };
            }
            Int8Graph.Tensor out = new Int8Graph.Tensor(maps ? new int[] {channels, h, w} : new int[] {channels * h}, out0.scale(),
                    out0.zeroPoint());
            int[] ids = new int[count];
            for (int i = 0; i < count; i++) {
                ids[i] = i;
            }
            Int8Graph.Concat c = Int8Graph.Concat.of(ids, count, List.of(ins), out);
            int n = 1 + r.nextInt(3);
            byte[][] xs = new byte[count][];
            for (int i = 0; i < count; i++) {
                xs[i] = TfliteMath.codes(r, (int) (n * ins[i].elements()), 6);
            }
            FixedPoint.Rounding rounding = FixedPoint.Rounding.values()[trial % 2];
            byte[] want = expected(c, ins, out, xs, n, rounding);
            byte[] ref = ReferenceKernels.concat(c, ins, out, xs, new byte[want.length], n, rounding);
            assertArrayEquals(want, ref, "reference, trial " + trial);
            assertArrayEquals(want, OptimizedKernels.concat(c, ins, out, xs, new byte[want.length], n, rounding), "optimized, trial " + trial);
        }
    }

    @Test
    void aGraphConcatenatesItsInputWithRequantizedCopiesOfItself() throws ModelFormatException {
        // input [2, 3, 4]; B = input requantized to another scale; concat(input, B, input) at the input's quantization
        SplittableRandom r = new SplittableRandom(72);
        Int8Graph.Tensor a = new Int8Graph.Tensor(new int[] {2, 3, 4}, 0.05, -7);
        Int8Graph.Tensor b = new Int8Graph.Tensor(new int[] {2, 3, 4}, 0.11, 20);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {6, 3, 4}, 0.05, -7);
        for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
            Int8Graph g = new Int8Graph(List.of(a, b, out), List.of(Int8Graph.Requantize.of(0, 1, a, b, -128, 127),
                    Int8Graph.Concat.of(new int[] {0, 1, 0}, 2, List.of(a, b, a), out)), 0, 2, rounding);
            assertEquals(g, ModelFile.fromBytes(ModelFile.toBytes(g)));
            int n = 3;
            byte[] x = TfliteMath.codes(r, n * 24, 5);
            byte[] y = TfliteMath.runEverywhere(g, x, n);
            Int8Graph.Requantize q = (Int8Graph.Requantize) g.nodes().get(0);
            Int8Graph.Concat c = (Int8Graph.Concat) g.nodes().get(1);
            for (int s = 0; s < n; s++) {
                for (int j = 0; j < 24; j++) {
                    int xv = x[s * 24 + j];
                    int bv = TfliteMath.requantize(xv - a.zeroPoint(), q.multiplier(), q.shift(), b.zeroPoint(), -128, 127, rounding);
                    assertEquals(xv, y[s * 72 + j], "first copy");
                    assertEquals(TfliteMath.requantize(bv - b.zeroPoint(), c.multiplier()[1], c.shift()[1], out.zeroPoint(), -128, 127, rounding),
                            y[s * 72 + 24 + j], "requantized input");
                    assertEquals(xv, y[s * 72 + 48 + j], "second copy");
                }
            }
        }
    }

    @Test
    void malformedConcatenationsAreRefusedNamingTheNode() {
        Int8Graph.Tensor a = new Int8Graph.Tensor(new int[] {2, 3, 4}, 0.05, -7);
        Int8Graph.Tensor b = new Int8Graph.Tensor(new int[] {1, 3, 5}, 0.05, -7);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {3, 3, 4}, 0.05, -7);
        refused(List.of(a, b, out), Int8Graph.Concat.of(new int[] {0, 1}, 2, List.of(a, b), out),
                "node 0 (Concat): input 1 (tensor 1) [1, 3, 5] and output [3, 3, 4] must have the same rank and agree in every dimension");
        Int8Graph.Tensor c = new Int8Graph.Tensor(new int[] {2, 3, 4}, 0.1, 0);
        refused(List.of(a, c, out), Int8Graph.Concat.of(new int[] {0, 1}, 2, List.of(a, c), out),
                "node 0 (Concat): the inputs have 4 channels in all, the output [3, 3, 4] has 3");
        refused(List.of(a, c, new Int8Graph.Tensor(new int[] {2, 3, 4}, 0.05, -7)), Int8Graph.Concat.of(new int[] {0}, 2, List.of(a), a),
                "node 0 (Concat): 1 input; a concatenation takes two or more");
        Int8Graph.Tensor out4 = new Int8Graph.Tensor(new int[] {4, 3, 4}, 0.05, -7);
        FixedPoint.QuantizedMultiplier half = FixedPoint.quantizeMultiplier(0.5);
        refused(List.of(a, c, out4), new Int8Graph.Concat(new int[] {0, 1}, 2, new int[] {half.multiplier(), half.multiplier()},
                new int[] {half.shift(), half.shift()}), "node 0 (Concat): input 0 has the output's scale and zero point, so it is copied");
        refused(List.of(a, c, out4), new Int8Graph.Concat(new int[] {0, 1}, 2, new int[] {1 << 30}, new int[] {1}),
                "node 0 (Concat) multipliers: 1 values, expected 2");
    }

    private static void refused(List<Int8Graph.Tensor> t, Int8Graph.Concat c, String message) {
        // tensor 1 is written by a 1x1 convolution of the input (padded at the bottom and right to its size) so that the
        // dataflow is valid
        int[] from = t.get(0).dims();
        int[] to = t.get(1).dims();
        int[] m = new int[to[0]];
        java.util.Arrays.fill(m, 1 << 30);
        Int8Graph.Conv2D producer = new Int8Graph.Conv2D(0, 1, to[0], from[0], new Int8Graph.Window(1, 1, 1, 1, 0, 0, to[1] - from[1],
                to[2] - from[2], 1, 1), 8, new byte[to[0] * from[0]], new int[to[0]], new Int8Graph.Requant(m, new int[to[0]], -128, 127));
        Int8Graph g = new Int8Graph(t, List.of(producer, c), 0, 2);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, g::validate);
        assertTrue(e.getMessage().replace("node 1 (Concat)", "node 0 (Concat)").contains(message), e.getMessage());
    }
}
