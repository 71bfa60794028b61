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
     * {@link #cnn} followed by a Requantize of the logits to another scale and an Add of the logits and
     * that copy: a graph with a node of every {@link NodeKind} (a test checks it stays so).
     */
    static Int8Graph everyKind(long seed, int cIn, int h, int w, int classes, int weightBits) {
        Int8Graph g = cnn(seed, cIn, h, w, classes, weightBits);
        List<Int8Graph.Tensor> t = new ArrayList<>(g.tensors());
        List<Int8Graph.Node> n = new ArrayList<>(g.nodes());
        Int8Graph.Tensor logits = t.get(g.output());
        t.add(new Int8Graph.Tensor(new int[] {classes}, 0.15, -5));                          // requantized logits
        n.add(Int8Graph.Requantize.of(g.output(), t.size() - 1, logits, t.get(t.size() - 1), -128, 127));
        t.add(new Int8Graph.Tensor(new int[] {classes}, 0.3, -10));                          // logits + their copy, ReLU
        n.add(Int8Graph.Add.of(g.output(), t.size() - 2, t.size() - 1, logits, t.get(t.size() - 2), t.get(t.size() - 1), -10, 127));
        return new Int8Graph(t, n, g.input(), t.size() - 1, g.rounding());
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
