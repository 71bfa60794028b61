package io.qat4j.bench;

import java.util.concurrent.TimeUnit;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
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

import io.qat4j.ste.MinMaxObserver;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.UniformQuantizer;

/** Cost of fake-quantizing a conv activation {@code [64, 32, 14, 14]} (float32), per-tensor and per-channel. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FakeQuantBenchmark {

    @Param({"PER_TENSOR", "PER_CHANNEL"})
    public String granularity;

    INDArray x;
    UniformQuantizer quantizer;
    QParams qparams;

    @Setup
    public void setup() {
        Nd4j.getRandom().setSeed(1);
        x = Nd4j.randn(DataType.FLOAT, 64, 32, 14, 14);
        QuantSpec spec = granularity.equals("PER_TENSOR") ? QuantSpec.activations(8, true)
                : QuantSpec.builder().bits(8).scheme(QuantSpec.Scheme.AFFINE).perChannel(1).build();
        MinMaxObserver observer = new MinMaxObserver(spec);
        observer.observe(x);
        qparams = observer.qparams();
        quantizer = new UniformQuantizer(spec);
    }

    @Benchmark
    public INDArray fakeQuant() {
        return quantizer.fakeQuant(x, qparams);
    }
}
