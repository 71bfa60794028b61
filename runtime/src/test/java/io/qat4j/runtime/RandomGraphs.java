package io.qat4j.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Seeded random integer graphs for tests: conv -> maxpool -> conv (stride 2, padding) -> avgpool -> flatten -> dense. */
final class RandomGraphs {

    private RandomGraphs() {
    }

    static byte[] codes(SplittableRandom r, int n, int bits) {
        byte[] w = new byte[n];
        int hi = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
        for (int i = 0; i < n; i++) {
            w[i] = bits == 1 ? (byte) (r.nextBoolean() ? 1 : -1) : (byte) r.nextInt(-hi, hi + 1);
        }
        return w;
    }

    static Int8Graph.Requant requant(SplittableRandom r, int channels, double realMultiplier, boolean relu, int zeroPoint) {
        int[] m = new int[channels];
        int[] s = new int[channels];
        for (int c = 0; c < channels; c++) {
            FixedPoint.QuantizedMultiplier q = FixedPoint.quantizeMultiplier(realMultiplier * (0.5 + r.nextDouble()));
            m[c] = q.multiplier();
            s[c] = q.shift();
        }
        return new Int8Graph.Requant(m, s, relu ? zeroPoint : -128, 127);
    }

    static int[] bias(SplittableRandom r, int n, int magnitude) {
        int[] b = new int[n];
        for (int i = 0; i < n; i++) {
            b[i] = r.nextInt(-magnitude, magnitude + 1);
        }
        return b;
    }

    /** A small CNN-shaped graph over {@code [cIn, h, w]} inputs with {@code classes} outputs. */
    static Int8Graph cnn(long seed, int cIn, int h, int w, int classes, int weightBits) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Int8Graph.Tensor> t = new ArrayList<>();
        t.add(new Int8Graph.Tensor(new int[] {cIn, h, w}, 1.0 / 255, -128));                 // 0 input
        t.add(new Int8Graph.Tensor(new int[] {4, h, w}, 0.05, -128));                       // 1 conv1 (relu)
        int h2 = Int8Graph.outputSize(h, 2, 2, 0, 0, 1);
        int w2 = Int8Graph.outputSize(w, 2, 2, 0, 0, 1);
        t.add(new Int8Graph.Tensor(new int[] {4, h2, w2}, 0.05, -128));                     // 2 maxpool
        int h3 = Int8Graph.outputSize(h2, 3, 2, 1, 1, 1);
        int w3 = Int8Graph.outputSize(w2, 3, 2, 1, 1, 1);
        t.add(new Int8Graph.Tensor(new int[] {6, h3, w3}, 0.08, -20));                      // 3 conv2 (no relu)
        int h4 = Int8Graph.outputSize(h3, 2, 1, 0, 1, 1);
        int w4 = Int8Graph.outputSize(w3, 2, 1, 0, 1, 1);
        t.add(new Int8Graph.Tensor(new int[] {6, h4, w4}, 0.08, -20));                      // 4 avgpool (bottom/right padding)
        t.add(new Int8Graph.Tensor(new int[] {6 * h4 * w4}, 0.08, -20));                    // 5 flatten
        t.add(new Int8Graph.Tensor(new int[] {classes}, 0.2, 3));                            // 6 logits
        List<Int8Graph.Node> n = new ArrayList<>();
        n.add(new Int8Graph.Conv2D(0, 1, 4, cIn, new Int8Graph.Window(3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
                weightBits, codes(r, 4 * cIn * 9, weightBits), bias(r, 4, 500), requant(r, 4, 0.03, true, -128)));
        n.add(new Int8Graph.MaxPool(1, 2, Int8Graph.Window.pool(2, 2, 2, 2, 0, 0, 0, 0)));
        n.add(new Int8Graph.Conv2D(2, 3, 6, 4, new Int8Graph.Window(3, 3, 2, 2, 1, 1, 1, 1, 1, 1),
                weightBits, codes(r, 6 * 4 * 9, weightBits), bias(r, 6, 2000), requant(r, 6, 0.02, false, -20)));
        n.add(new Int8Graph.AvgPool(3, 4, Int8Graph.Window.pool(2, 2, 1, 1, 0, 0, 1, 1)));
        n.add(new Int8Graph.Flatten(4, 5));
        n.add(new Int8Graph.Dense(5, 6, classes, 6 * h4 * w4, weightBits, codes(r, classes * 6 * h4 * w4, weightBits),
                bias(r, classes, 3000), requant(r, classes, 0.01, false, 3)));
        return new Int8Graph(t, n, 0, 6);
    }

    /**
     * A graph with a node of every {@link NodeKind} (a test checks it stays so) over {@code [cIn, h, w]} inputs:
     * conv -> depthwise (multiplier 2) -> LeakyReLU -> zero pad -> crop -> max pool -> nearest upsampling ->
     * tanh table, concatenated with the upsampled map (other scale) -> average pool with requantization
     * (padded, valid-count divisor) -> version-1 average pool -> global average pool (padding counted) ->
     * flatten -> dense -> requantize, add -> dense logits.
     */
    static Int8Graph everyKind(long seed, int cIn, int h, int w, int classes, int weightBits) {
        return everyKind(seed, cIn, h, w, classes, weightBits, FixedPoint.Rounding.DOUBLE);
    }

    static Int8Graph everyKind(long seed, int cIn, int h, int w, int classes, int weightBits, FixedPoint.Rounding rounding) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Int8Graph.Tensor> t = new ArrayList<>();
        List<Int8Graph.Node> n = new ArrayList<>();
        t.add(new Int8Graph.Tensor(new int[] {cIn, h, w}, 1.0 / 255, -128));                 // 0 input
        t.add(new Int8Graph.Tensor(new int[] {4, h, w}, 0.05, -100));                       // 1 conv (no relu)
        n.add(new Int8Graph.Conv2D(0, 1, 4, cIn, new Int8Graph.Window(3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
                weightBits, codes(r, 4 * cIn * 9, weightBits), bias(r, 4, 500), requant(r, 4, 0.03, false, -100)));
        t.add(new Int8Graph.Tensor(new int[] {8, h, w}, 0.07, 10));                         // 2 depthwise, multiplier 2
        n.add(new Int8Graph.DepthwiseConv2D(1, 2, 4, 2, new Int8Graph.Window(3, 3, 1, 1, 1, 1, 1, 1, 1, 1), weightBits,
                codes(r, 8 * 9, weightBits), bias(r, 8, 300), requant(r, 8, 0.05, false, 10)));
        t.add(new Int8Graph.Tensor(new int[] {8, h, w}, 0.06, -60));                        // 3 LeakyReLU
        n.add(Int8Graph.LeakyRelu.of(2, 3, t.get(2), t.get(3), 0.1, -128, 127));
        t.add(new Int8Graph.Tensor(new int[] {8, h + 2, w + 1}, 0.06, -60));                // 4 zero pad
        n.add(new Int8Graph.ZeroPad(3, 4, 1, 0, 1, 1));
        t.add(new Int8Graph.Tensor(new int[] {8, h, w}, 0.06, -60));                        // 5 crop
        n.add(new Int8Graph.Crop(4, 5, 0, 1, 2, 0));
        int h2 = h / 2;
        int w2 = w / 2;
        t.add(new Int8Graph.Tensor(new int[] {8, h2, w2}, 0.06, -60));                      // 6 max pool
        n.add(new Int8Graph.MaxPool(5, 6, Int8Graph.Window.pool(2, 2, 2, 2, 0, 0, 0, 0)));
        t.add(new Int8Graph.Tensor(new int[] {8, 2 * h2, 2 * w2}, 0.06, -60));              // 7 upsample
        n.add(new Int8Graph.UpsampleNearest(6, 7, 2, 2));
        t.add(new Int8Graph.Tensor(new int[] {8, 2 * h2, 2 * w2}, 1.0 / 128, 0));           // 8 tanh
        n.add(Int8Graph.LookupTable.of(7, 8, t.get(7), t.get(8), TableFunction.TANH, 0, rounding));
        t.add(new Int8Graph.Tensor(new int[] {16, 2 * h2, 2 * w2}, 0.04, -20));            // 9 concat [tanh, upsampled]
        n.add(Int8Graph.Concat.of(new int[] {8, 7}, 9, List.of(t.get(8), t.get(7)), t.get(9)));
        Int8Graph.Window pad = Int8Graph.Window.pool(2, 2, 1, 1, 0, 0, 1, 1);
        t.add(new Int8Graph.Tensor(new int[] {16, 2 * h2, 2 * w2}, 0.03, -5));              // 10 average pool, requantized
        n.add(Int8Graph.AvgPoolRequant.of(9, 10, pad, false, t.get(9), t.get(10), -128, 127));
        t.add(new Int8Graph.Tensor(new int[] {16, 2 * h2, 2 * w2}, 0.03, -5));              // 11 version-1 average pool
        n.add(new Int8Graph.AvgPool(10, 11, pad));
        t.add(new Int8Graph.Tensor(new int[] {16, 1, 1}, 0.02, 0));                          // 12 global average pool
        n.add(Int8Graph.AvgPoolRequant.of(11, 12, Int8Graph.Window.pool(2 * h2, 2 * w2, 1, 1, 0, 0, 0, 0), true, t.get(11), t.get(12),
                -128, 127));
        t.add(new Int8Graph.Tensor(new int[] {16}, 0.02, 0));                                // 13 flatten
        n.add(new Int8Graph.Flatten(12, 13));
        t.add(new Int8Graph.Tensor(new int[] {classes}, 0.2, 3));                            // 14 dense
        n.add(new Int8Graph.Dense(13, 14, classes, 16, weightBits, codes(r, classes * 16, weightBits), bias(r, classes, 3000),
                requant(r, classes, 0.02, false, 3)));
        t.add(new Int8Graph.Tensor(new int[] {classes}, 0.15, -5));                          // 15 requantized
        n.add(Int8Graph.Requantize.of(14, 15, t.get(14), t.get(15), -128, 127));
        t.add(new Int8Graph.Tensor(new int[] {classes}, 0.3, -10));                          // 16 the two added, ReLU
        n.add(Int8Graph.Add.of(14, 15, 16, t.get(14), t.get(15), t.get(16), -10, 127));
        t.add(new Int8Graph.Tensor(new int[] {classes}, 1, 0));                              // 17 logits (int32)
        double[] scales = new double[classes];
        for (int c = 0; c < classes; c++) {
            scales[c] = 0.3 * 0.01 * (0.5 + r.nextDouble());
        }
        n.add(new Int8Graph.DenseLogits(16, 17, classes, classes, weightBits, codes(r, classes * classes, weightBits),
                bias(r, classes, 200), scales));
        return new Int8Graph(t, n, 0, 17, rounding);
    }

    static float[] images(long seed, int n, int size) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * size];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble();
        }
        return x;
    }
}
