package io.qat4j.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import io.qat4j.runtime.FixedPoint;

/** Requantization of 65,536 int32 accumulators to int8: TFLite fixed point vs float multiply-and-round. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FixedPointBenchmark {

    static final int N = 1 << 16;

    int[] acc;
    byte[] out;
    FixedPoint.QuantizedMultiplier multiplier;
    double realMultiplier;

    @Setup
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(1);
        acc = new int[N];
        for (int i = 0; i < N; i++) {
            acc[i] = rnd.nextInt(-(1 << 20), 1 << 20);
        }
        out = new byte[N];
        realMultiplier = 0.000_731;
        multiplier = FixedPoint.quantizeMultiplier(realMultiplier);
    }

    @Benchmark
    public byte[] fixedPoint() {
        int m = multiplier.multiplier();
        int shift = multiplier.shift();
        for (int i = 0; i < N; i++) {
            int v = FixedPoint.multiplyByQuantizedMultiplier(acc[i], m, shift) - 3;
            out[i] = (byte) Math.max(-128, Math.min(127, v));
        }
        return out;
    }

    @Benchmark
    public byte[] floatMultiplier() {
        float m = (float) realMultiplier;
        for (int i = 0; i < N; i++) {
            int v = (int) Math.rint(acc[i] * m) - 3;
            out[i] = (byte) Math.max(-128, Math.min(127, v));
        }
        return out;
    }
}
