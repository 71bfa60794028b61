package io.qat4j.training;

import java.nio.file.Path;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.ReferenceCnn;

/**
 * The training process {@link TrainingCrashTest} kills: the reference CNN trained through qat4j's
 * layers ({@link FloatTraining}, as {@code qat4j train} does) on 160 synthetic 8x8 images, 4 epochs.
 * It prints {@code EPOCH n} after each epoch and, at the point named by its third argument, prints
 * {@code PAUSED ...} and waits to be killed:
 * {@code step:E:S} after step S of epoch E (mid-epoch), {@code epoch:E} once epoch E's best.zip and
 * metrics line are written and before its checkpoint is (the epoch-end save), {@code none}.
 *
 * <p>Arguments: run directory, {@code fresh} or {@code resume}, pause point.
 */
public final class KillableTrainingMain {

    static final TrainSpec SPEC = new TrainSpec(4, 20, 0.005, TrainSpec.Schedule.COSINE, 1, 1, 0, 3, -1, -1);

    private KillableTrainingMain() {
    }

    static DataSet trainData() {
        return FloatTrainingTest.separable(160, 1);
    }

    static DataSet validationData() {
        return FloatTrainingTest.separable(60, 2);
    }

    static MultiLayerNetwork initialNetwork() {
        return ReferenceCnn.build(3, new Adam(SPEC.learningRate()), 0, 1, 8, 8, 2);
    }

    public static void main(String[] args) throws Exception {
        Path run = Path.of(args[0]);
        boolean resume = args[1].equals("resume");
        String pause = args[2];
        DataSet train = trainData();
        DataSet validation = validationData();
        Trainer.Progress progress = new Trainer.Progress() {
            int epoch;
            int step;

            @Override
            public void startEpoch(int e, int steps) {
                epoch = e;
                step = 0;
            }

            @Override
            public void step(double loss) {
                step++;
                if (pause.equals("step:" + epoch + ":" + step)) {
                    pauseForKill(pause);
                }
            }

            @Override
            public void endEpoch() {
            }
        };
        FloatTraining.train(new Trainer(), initialNetwork(), train, validation, SPEC, run, resume, m -> {
            System.out.println("EPOCH " + m.epoch());
            System.out.flush();
            if (pause.equals("epoch:" + m.epoch())) {
                pauseForKill(pause);
            }
        }, progress, true);
        System.out.println("DONE");
        System.out.flush();
    }

    private static void pauseForKill(String point) {
        System.out.println("PAUSED " + point);
        System.out.flush();
        try {
            Thread.sleep(600_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        System.exit(3);   // not killed: the test failed to
    }
}
