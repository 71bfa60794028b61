package io.qat4j.bench;

import java.util.concurrent.TimeUnit;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
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

/**
 * libnd4j's native {@code conv2d} / {@code conv2d_bp} ops (the path qat4j's quantized conv layers
 * call) on the second conv of the reference CNN: {@code [64, 32, 14, 14]} input, 64 filters 3x3,
 * pad 1, NCHW, weights {@code [out, in, kh, kw]}. Compare nd4j-native builds with and without oneDNN.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class NativeConv2dBenchmark {

    /** kH, kW, sH, sW, pH, pW, dH, dW, same-mode(0), data format (0 = NCHW), weight format (1 = [oC, iC, kH, kW]). */
    static final int[] ARGS = {3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 1};

    INDArray input;
    INDArray weights;
    INDArray bias;
    INDArray output;
    INDArray gradOut;
    INDArray gradIn;
    INDArray gradW;
    INDArray gradB;

    @Setup
    public void setup() {
        Nd4j.getRandom().setSeed(3);
        input = Nd4j.randn(DataType.FLOAT, 64, 32, 14, 14);
        weights = Nd4j.randn(DataType.FLOAT, 64, 32, 3, 3).muli(0.05);
        bias = Nd4j.randn(DataType.FLOAT, 64);
        output = Nd4j.create(DataType.FLOAT, 64, 64, 14, 14);
        gradOut = Nd4j.randn(DataType.FLOAT, 64, 64, 14, 14);
        gradIn = Nd4j.create(DataType.FLOAT, input.shape());
        gradW = Nd4j.create(DataType.FLOAT, weights.shape());
        gradB = Nd4j.create(DataType.FLOAT, 64);
    }

    @Benchmark
    public INDArray forward() {
        Nd4j.exec(DynamicCustomOp.builder("conv2d").addInputs(input, weights, bias).addOutputs(output)
                .addIntegerArguments(ARGS).build());
        return output;
    }

    @Benchmark
    public INDArray backward() {
        Nd4j.exec(DynamicCustomOp.builder("conv2d_bp").addInputs(input, weights, bias, gradOut).addOutputs(gradIn, gradW, gradB)
                .addIntegerArguments(ARGS).build());
        return gradW;
    }
}
