package io.qat4j.bench;

import java.util.concurrent.TimeUnit;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
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

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;

/**
 * One training step (forward, backward, Adam update) of the reference CNN on a batch of 64
 * Fashion-MNIST-sized images, for (a) stock DL4J layers, (b) qat4j layers with quantization
 * disabled, (c) qat4j W4A4 LSQ. Samples/s = 64 / (ms per op) * 1000.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class QatTrainingBenchmark {

    /** Batch size of one step. */
    public static final int BATCH = 64;

    @Param({"dl4j-fp32", "qat4j-disabled", "qat4j-w4a4-lsq"})
    public String variant;

    MultiLayerNetwork net;
    DataSet batch;

    static MultiLayerNetwork network(String variant) {
        MultiLayerNetwork fp = Conv2dBackendBenchmark.referenceCnn();
        return switch (variant) {
            case "dl4j-fp32" -> fp;
            case "qat4j-disabled" -> QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.disabled())).network();
            case "qat4j-w4a4-lsq" -> QuantizedModel.wrap(fp, QuantizationPlan.uniform(
                    QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4))).network();
            default -> throw new IllegalArgumentException("unknown variant " + variant);
        };
    }

    @Setup
    public void setup() {
        net = network(variant);
        Nd4j.getRandom().setSeed(2);
        INDArray x = Nd4j.rand(DataType.FLOAT, BATCH, 1, 28, 28);
        INDArray labels = Nd4j.zeros(DataType.FLOAT, BATCH, 10);
        for (int i = 0; i < BATCH; i++) {
            labels.putScalar(i, i % 10, 1f);
        }
        batch = new DataSet(x, labels);
    }

    @Benchmark
    public double trainStep() {
        net.fit(batch);
        return net.score();
    }
}
