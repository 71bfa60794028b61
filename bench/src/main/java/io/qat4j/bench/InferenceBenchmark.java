package io.qat4j.bench;

import java.util.concurrent.TimeUnit;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Inference of the reference CNN (1x28x28 -> 10 logits) by four engines on the same weights and
 * inputs ({@link InferenceModels}): {@code dl4j-fp32} (DL4J {@code output()}, float),
 * {@code qat4j-int8} (the bundled integer runtime, optimized kernels, float in and out),
 * {@code ort-qdq} (ONNX Runtime Java on the QDQ export) and {@code ort-fp32} (ONNX Runtime on the
 * float export). Batch 1 and 256; 1 and 2 threads (DL4J: native/OpenMP threads; ORT: intra-op
 * threads; qat4j: batch split across threads, so batch 1 runs on one). Score: milliseconds per
 * batch; samples/s = batch / score.
 *
 * <p>Run: {@code java -cp bench/target/classes:$(cat bench/target/classpath.txt) org.openjdk.jmh.Main InferenceBenchmark -rf json}
 * or {@code ./qat4j bench}, which runs this and prints the ratio table.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xss8m", "--add-modules=jdk.incubator.vector"})   // ORT: its native init overflowed a 1 MiB stack
public class InferenceBenchmark {

    @Param({"dl4j-fp32", "qat4j-int8", "ort-qdq", "ort-fp32"})
    public String engine;

    @Param({"1", "256"})
    public int batch;

    @Param({"1", "2"})
    public int threads;

    InferenceModels models;
    INDArray x;
    float[] xf;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        Nd4j.getEnvironment().setMaxThreads(threads);
        Nd4j.getEnvironment().setMaxMasterThreads(threads);
        models = new InferenceModels(threads);
        x = InferenceModels.randomImages(batch, 11).getFeatures();
        xf = x.dup('c').data().asFloat();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        models.close();
    }

    @Benchmark
    public Object infer() throws Exception {
        return switch (engine) {
            case "dl4j-fp32" -> models.fp32.output(x, false);
            case "qat4j-int8" -> models.int8.run(xf, batch);
            case "ort-qdq" -> models.runOrt(models.ortQdq, xf, batch);
            case "ort-fp32" -> models.runOrt(models.ortFp32, xf, batch);
            default -> throw new IllegalArgumentException("unknown engine " + engine);
        };
    }
}
