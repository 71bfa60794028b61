package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * The last Dense layer emitting dequantized logits: the int32 accumulators against long arithmetic, the
 * logits {@code scale[c] acc[c]} from {@link Int8Model#run}, argmax on them, both kernel sets on both dense
 * paths, and the rule that nothing reads its output.
 */
class DenseLogitsTest {

    /** Input [inF] -> Requantize (so the logits node reads a node's output) -> DenseLogits [outF]. */
    private static Int8Graph graph(SplittableRandom r, int inF, int outF, int bits, FixedPoint.Rounding rounding) {
        Int8Graph.Tensor x = new Int8Graph.Tensor(new int[] {inF}, 0.04, 11);
        Int8Graph.Tensor h = new Int8Graph.Tensor(new int[] {inF}, 0.05, 127);   // -128 at zero point 127: x - z = -255
        Int8Graph.Tensor logits = new Int8Graph.Tensor(new int[] {outF}, 1, 0);
        double[] scale = new double[outF];
        for (int c = 0; c < outF; c++) {
            scale[c] = 0.05 * 0.01 * (0.2 + r.nextDouble());
        }
        byte[] w = RandomGraphs.codes(r, outF * inF, bits);
        if (bits == 8) {
            for (int i = 0; i < w.length; i += 3) {
                w[i] = (byte) (r.nextBoolean() ? 127 : -127);
            }
        }
        return new Int8Graph(List.of(x, h, logits), List.of(Int8Graph.Requantize.of(0, 1, x, h, -128, 127),
                new Int8Graph.DenseLogits(1, 2, outF, inF, bits, w, RandomGraphs.bias(r, outF, 30000), scale)), 0, 2, rounding);
    }

    @Test
    void accumulatorsLogitsAndPredictionsMatchLongArithmetic() throws ModelFormatException {
        SplittableRandom r = new SplittableRandom(121);
        // 16 and 24 outputs take the vector kernels' across-outputs path, 13 the four-row one; 1,100 inputs span chunks
        int[][] shapes = {{1100, 16, 8}, {1100, 13, 8}, {37, 24, 4}, {5, 3, 1}, {64, 10, 2}};
        for (int[] s : shapes) {
            for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
                Int8Graph g = graph(r, s[0], s[1], s[2], rounding);
                assertEquals(g, ModelFile.fromBytes(ModelFile.toBytes(g)));
                Int8Graph.Requantize q = (Int8Graph.Requantize) g.nodes().get(0);
                Int8Graph.DenseLogits d = (Int8Graph.DenseLogits) g.nodes().get(1);
                for (int n : new int[] {1, 3, 4, 9}) {
                    byte[] x = TfliteMath.codes(r, n * s[0], 3);
                    byte[] bytes = TfliteMath.runEverywhere(g, x, n);
                    Int8Model model = new Int8Model(g, Int8Model.Kernels.OPTIMIZED, 2);
                    assertEquals(4 * s[1], model.outputBytes());
                    assertTrue(model.outputsLogits());
                    assertArrayEquals(bytes, model.runQuantized(x, n), "two threads");
                    float[] logits = model.dequantize(bytes, n);
                    int[] predicted = model.predictions(bytes, n);
                    java.nio.IntBuffer acc = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer();
                    for (int b = 0; b < n; b++) {
                        int best = 0;
                        for (int c = 0; c < s[1]; c++) {
                            long want = d.bias()[c];
                            for (int i = 0; i < s[0]; i++) {
                                long hv = TfliteMath.requantize(x[b * s[0] + i] - 11, q.multiplier(), q.shift(), 127, -128, 127, rounding);
                                want += (hv - 127) * d.weights()[c * s[0] + i];
                            }
                            assertEquals(want, acc.get(b * s[1] + c), "accumulator");
                            assertEquals((float) (d.scale()[c] * want), logits[b * s[1] + c], "logit");
                            if (d.scale()[c] * want > d.scale()[best] * acc.get(b * s[1] + best)) {
                                best = c;
                            }
                        }
                        assertEquals(best, predicted[b], "argmax of the logits");
                    }
                }
            }
        }
    }

    @Test
    void logitsNeverSaturateWhereAnInt8OutputWould() {
        // the same accumulators requantized to int8 clip at 127; the logits keep growing
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {4}, 1, 0);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {1}, 1, 0);
        Int8Graph g = TfliteMath.single(in, out, new Int8Graph.DenseLogits(0, 1, 1, 4, 8, new byte[] {127, 127, 127, 127}, new int[] {0},
                new double[] {0.5}), FixedPoint.Rounding.SINGLE);
        Int8Model m = new Int8Model(g);
        assertEquals(4 * 127 * 127 * 0.5, m.run(new float[] {127, 127, 127, 127}, 1)[0], 0);
        assertEquals(-4 * 128 * 127 * 0.5, m.run(new float[] {-128, -128, -128, -128}, 1)[0], 0);
    }

    @Test
    void onlyTheGraphOutputMayBeLogitsAndNothingReadsThem() {
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {4}, 0.1, 0);
        Int8Graph.Tensor logits = new Int8Graph.Tensor(new int[] {3}, 1, 0);
        Int8Graph.DenseLogits d = new Int8Graph.DenseLogits(0, 1, 3, 4, 8, new byte[12], new int[3], new double[] {0.1, 0.2, 0.3});
        new Int8Graph(List.of(in, logits), List.of(d), 0, 1).validate();
        List<Int8Graph.Tensor> t = new ArrayList<>(List.of(in, logits, new Int8Graph.Tensor(new int[] {3}, 0.1, 0)));
        String m = assertThrows(IllegalArgumentException.class, () -> new Int8Graph(t, List.of(d, Int8Graph.Requantize.of(1, 2, logits,
                t.get(2), -128, 127)), 0, 2).validate()).getMessage();
        assertTrue(m.contains("node 0 (DenseLogits) writes tensor 1, but its int32 logits can only be the graph output (tensor 2)"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Int8Graph(t, List.of(d, Int8Graph.Requantize.of(1, 2, logits, t.get(2),
                -128, 127)), 0, 1).validate()).getMessage();
        assertTrue(m.contains("node 1 (Requantize) reads tensor 1, the int32 logits of node 0 (DenseLogits), which are no int8 codes"), m);
        AvgPoolRequantTest.assertRefused(in, new Int8Graph.Tensor(new int[] {3}, 0.5, 0), d,
                "node 0 (DenseLogits): its output tensor 1 holds int32 accumulators, not int8 codes; its table entry must have scale 1");
        AvgPoolRequantTest.assertRefused(in, logits, new Int8Graph.DenseLogits(0, 1, 3, 4, 8, new byte[12], new int[3], new double[] {0.1, 0, 1}),
                "node 0 (DenseLogits): logit scale 0.0 of output 1 must be positive and finite");
        AvgPoolRequantTest.assertRefused(in, logits, new Int8Graph.DenseLogits(0, 1, 3, 4, 8, new byte[12], new int[3], new double[] {0.1}),
                "node 0 (DenseLogits) scales: 1 values, expected 3");
        assertEquals(null, RandomGraphs.cnn(1, 1, 8, 8, 3, 8).logitsNode());
    }
}
