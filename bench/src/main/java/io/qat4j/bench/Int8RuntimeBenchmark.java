package io.qat4j.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;

/**
 * The INT8 runtime on the reference CNN's integer graph (conv16-pool-conv32-pool-fc128-fc10 on
 * 1x28x28, random int8 weights), reference vs optimized kernels, batch 1 and 64, one or two threads.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class Int8RuntimeBenchmark {

    @Param({"REFERENCE", "OPTIMIZED"})
    public String kernels;

    @Param({"1", "64"})
    public int batch;

    @Param({"1", "2"})
    public int threads;

    Int8Model model;
    byte[] input;

    static Int8Graph.Requant requant(SplittableRandom r, int channels, boolean relu) {
        int[] m = new int[channels];
        int[] s = new int[channels];
        for (int c = 0; c < channels; c++) {
            FixedPoint.QuantizedMultiplier q = FixedPoint.quantizeMultiplier(0.002 + 0.002 * r.nextDouble());
            m[c] = q.multiplier();
            s[c] = q.shift();
        }
        return new Int8Graph.Requant(m, s, relu ? -128 : -128, 127);
    }

    static byte[] codes(SplittableRandom r, int n) {
        byte[] w = new byte[n];
        for (int i = 0; i < n; i++) {
            w[i] = (byte) r.nextInt(-127, 128);
        }
        return w;
    }

    /** The reference CNN as an integer graph (what Int8Exporter produces for it). */
    static Int8Graph referenceCnn() {
        SplittableRandom r = new SplittableRandom(1);
        List<Int8Graph.Tensor> t = new ArrayList<>();
        t.add(new Int8Graph.Tensor(new int[] {1, 28, 28}, 1 / 255.0, -128));
        t.add(new Int8Graph.Tensor(new int[] {16, 28, 28}, 0.05, -128));
        t.add(new Int8Graph.Tensor(new int[] {16, 14, 14}, 0.05, -128));
        t.add(new Int8Graph.Tensor(new int[] {32, 14, 14}, 0.05, -128));
        t.add(new Int8Graph.Tensor(new int[] {32, 7, 7}, 0.05, -128));
        t.add(new Int8Graph.Tensor(new int[] {1568}, 0.05, -128));
        t.add(new Int8Graph.Tensor(new int[] {128}, 0.05, -128));
        t.add(new Int8Graph.Tensor(new int[] {10}, 0.1, 0));
        List<Int8Graph.Node> n = new ArrayList<>();
        Int8Graph.Window same3x3 = new Int8Graph.Window(3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
        Int8Graph.Window pool2x2 = Int8Graph.Window.pool(2, 2, 2, 2, 0, 0, 0, 0);
        n.add(new Int8Graph.Conv2D(0, 1, 16, 1, same3x3, 8, codes(r, 16 * 9), new int[16], requant(r, 16, true)));
        n.add(new Int8Graph.MaxPool(1, 2, pool2x2));
        n.add(new Int8Graph.Conv2D(2, 3, 32, 16, same3x3, 8, codes(r, 32 * 16 * 9), new int[32], requant(r, 32, true)));
        n.add(new Int8Graph.MaxPool(3, 4, pool2x2));
        n.add(new Int8Graph.Flatten(4, 5));
        n.add(new Int8Graph.Dense(5, 6, 128, 1568, 8, codes(r, 128 * 1568), new int[128], requant(r, 128, true)));
        n.add(new Int8Graph.Dense(6, 7, 10, 128, 8, codes(r, 1280), new int[10], requant(r, 10, false)));
        return new Int8Graph(t, n, 0, 7);
    }

    @Setup
    public void setup() {
        model = new Int8Model(referenceCnn(), Int8Model.Kernels.valueOf(kernels), threads);
        input = codes(new SplittableRandom(2), batch * 784);
    }

    @Benchmark
    public byte[] run() {
        return model.runQuantized(input, batch);
    }
}
