package io.qat4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.datasets.FashionMnist;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.training.TrainSpec;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;

/**
 * Issue 19's "done when": QAT W4A4 LSQ of the reference CNN on the bundled Fashion-MNIST subset
 * (5,000 training / 1,000 test images), 3 epochs from scratch, Adam 1e-3, seed 1, batch 32, in a
 * single JVM and data-parallel in Spark local[2] with the spark section's defaults (32 examples per
 * worker as the single-JVM batch, averaging every 5 minibatches, updater state averaged, learning rate
 * times the 2 workers): the Spark run's test accuracy is within 1.5 percentage points of the
 * single-JVM run's (or above it). Prints both accuracies, wall times, the single-JVM step time
 * and the Spark round time (the README's scaling paragraph uses them).
 */
class SparkQatAccuracyTest {

    private static final long SEED = 1;
    private static final int EPOCHS = 3;
    private static final int BATCH = 32;

    private static MultiLayerNetwork w4a4() {
        Trainer.seed(SEED);
        MultiLayerNetwork fp32 = ReferenceCnn.build(SEED, new Adam(1e-3), 0, 1, 28, 28, 10);
        return QuantizedModel.wrap(fp32, QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4))).network();
    }

    @Test
    void sparkLocal2QatW4a4ReachesTheSingleJvmAccuracyWithin1point5Points(@TempDir Path dir) throws Exception {
        FashionMnist.Located data = FashionMnist.bundled();
        DataSet train = data.train();
        DataSet test = data.test();
        TrainSpec spec = new TrainSpec(EPOCHS, BATCH, 1e-3, TrainSpec.Schedule.CONSTANT, 1, 1.0, 0, SEED, -1, -1);

        long t0 = System.nanoTime();
        Trainer.Result<MultiLayerNetwork> single = new Trainer().train(w4a4(), train, test, spec, dir.resolve("single"), false);
        double singleSeconds = (System.nanoTime() - t0) / 1e9;
        double singleAccuracy = Trainer.accuracy(single.network(), test);
        int singleSteps = EPOCHS * (int) Math.ceil(train.numExamples() / (double) BATCH);

        long t1 = System.nanoTime();
        double sparkAccuracy;
        double sparkSeconds;
        ParameterAveragingFitting fitting;
        try (SparkTraining spark = SparkTraining.start(new RunConfig.Spark("local[2]", 2, BATCH, 5, true, null), "accuracy-test", SEED)) {
            long fitStart = System.nanoTime();
            Trainer.Result<MultiLayerNetwork> distributed = spark.trainer(new Trainer()).train(w4a4(), train, test, spark.spec(spec),
                    dir.resolve("spark"), false);
            sparkSeconds = (System.nanoTime() - fitStart) / 1e9;
            sparkAccuracy = Trainer.accuracy(distributed.network(), test);
            fitting = spark.fitting();
            assertEquals(EPOCHS, distributed.epochs().size());
        }
        double sparkTotal = (System.nanoTime() - t1) / 1e9;
        int perEpochRounds = (int) Math.ceil(Math.ceil(train.numExamples() / (double) BATCH) / (2.0 * 5));
        assertEquals(EPOCHS * perEpochRounds, fitting.rounds(), "averaging rounds");
        assertTrue(fitting.signFlips().isEmpty(), "no input quantizer changed sign on the [0, 1] images and ReLU outputs: " + fitting.signFlips());
        System.out.printf(java.util.Locale.ROOT, "QAT W4A4 LSQ, reference CNN, bundled subset, %d epochs, batch %d, seed %d:%n", EPOCHS, BATCH, SEED);
        System.out.printf(java.util.Locale.ROOT, "  single JVM:  test accuracy %.4f, training %.1f s (%d steps, %.1f ms per step)%n", singleAccuracy,
                singleSeconds, singleSteps, 1000 * singleSeconds / singleSteps);
        System.out.printf(java.util.Locale.ROOT, "  Spark local[2], 2 workers x 32, averaging every 5, learning rate x 2: test accuracy %.4f, training %.1f s "
                + "(%.1f s with the context start and stop; %d rounds, %.0f ms per round)%n", sparkAccuracy, sparkSeconds, sparkTotal,
                fitting.rounds(), 1000 * fitting.meanRoundSeconds());
        assertTrue(sparkAccuracy >= singleAccuracy - 0.015, "Spark local[2] test accuracy " + sparkAccuracy
                + " is more than 1.5 points below the single-JVM run's " + singleAccuracy);
        assertTrue(singleAccuracy > 0.8, "the single-JVM reference run itself trained: " + singleAccuracy);
    }
}
