package io.qat4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import io.qat4j.training.Augmentation;
import io.qat4j.training.TrainSpec;
import io.qat4j.training.config.RunConfig;

/** The spec Spark workers train with changes the batch size and the learning rate only. */
class WorkerSpecTest {

    @Test
    void augmentationLabelSmoothingAndScheduleSurviveTheWorkerSpec() {
        TrainSpec single = new TrainSpec(4, 64, 1e-3, TrainSpec.Schedule.COSINE, 1, 0.1, 0, 7, 2, 3, 5.0)
                .withRegularization(new Augmentation(2, true), 0.1);
        TrainSpec w = SparkTraining.workerSpec(single, new RunConfig.Spark("local[2]", 2, 32, 5, true, true), 2);
        assertEquals(32, w.batchSize());
        assertEquals(2e-3, w.learningRate(), 1e-15);
        assertEquals(single.augmentation(), w.augmentation());
        assertEquals(0.1, w.labelSmoothing());
        assertEquals(single.schedule(), w.schedule());
        assertEquals(2, w.freezeObserversAfterEpoch());
        assertEquals(3, w.freezeBatchNormAfterEpoch());
        TrainSpec unscaled = SparkTraining.workerSpec(single, new RunConfig.Spark("local[2]", 2, null, 5, true, false), 2);
        assertEquals(64, unscaled.batchSize());
        assertEquals(1e-3, unscaled.learningRate(), 0);
    }
}
