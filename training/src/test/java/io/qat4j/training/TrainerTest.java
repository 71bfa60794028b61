package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

class TrainerTest {

    @TempDir
    Path dir;

    static DataSet clusters(int n, long seed) {
        Random r = new Random(seed);
        double[][] centres = {{2, 0, 0, 1}, {0, 2, 1, 0}, {0, 0, 2, 2}};
        float[] x = new float[n * 4];
        float[] y = new float[n * 3];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(3);
            y[i * 3 + c] = 1;
            for (int d = 0; d < 4; d++) {
                x[i * 4 + d] = (float) (centres[c][d] + r.nextGaussian());
            }
        }
        return new DataSet(Nd4j.create(x, new long[] {n, 4}, DataType.FLOAT), Nd4j.create(y, new long[] {n, 3}, DataType.FLOAT));
    }

    static MultiLayerNetwork mlp(double lr) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(lr)).list()
                .layer(new DenseLayer.Builder().nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(4)).build());
        net.init();
        return net;
    }

    @Test
    void sameSeedSameNumbersAndMetricsWritten() throws IOException {
        TrainSpec spec = new TrainSpec(3, 32, 0.01, TrainSpec.Schedule.COSINE, 1, 1, 0, 7, -1, -1);
        Trainer.Result<MultiLayerNetwork> a = new Trainer().train(mlp(0.01), clusters(300, 1), clusters(100, 2), spec, dir.resolve("a"), false);
        Trainer.Result<MultiLayerNetwork> b = new Trainer().train(mlp(0.01), clusters(300, 1), clusters(100, 2), spec, dir.resolve("b"), false);
        assertEquals(a.network().params(), b.network().params());
        assertEquals(a.bestValidationAccuracy(), b.bestValidationAccuracy());
        assertTrue(a.bestValidationAccuracy() > 0.6, "learned (chance is 0.33): " + a.bestValidationAccuracy());
        List<String> csv = Files.readAllLines(dir.resolve("a/metrics.csv"));
        assertEquals(4, csv.size());
        assertTrue(csv.get(0).startsWith("epoch,learning_rate"));
        assertEquals(3, Files.readAllLines(dir.resolve("a/metrics.jsonl")).size());
        assertTrue(Files.exists(dir.resolve("a/checkpoint.zip")) && Files.exists(dir.resolve("a/best.zip")));
        try (var files = Files.list(dir.resolve("a"))) {
            assertFalse(files.anyMatch(p -> p.toString().endsWith(".tmp")), "no temporary files left");
        }
    }

    @Test
    void resumeAfterAKilledRunIsBitIdentical() throws IOException {
        TrainSpec spec = new TrainSpec(4, 32, 0.01, TrainSpec.Schedule.STEP, 2, 0.5, 0, 11, -1, -1);
        DataSet train = clusters(300, 3);
        DataSet val = clusters(100, 4);
        MultiLayerNetwork straight = new Trainer().train(mlp(0.01), train, val, spec, dir.resolve("straight"), false).network();
        new Trainer(2).train(mlp(0.01), train, val, spec, dir.resolve("killed"), false);   // "killed" after 2 epochs
        Trainer.Result<MultiLayerNetwork> resumed = new Trainer().train(mlp(0.01), train, val, spec, dir.resolve("killed"), true);
        assertEquals(2, resumed.epochs().size(), "only the missing epochs ran");
        assertEquals(straight.params(), resumed.network().params());
        assertEquals(straight.getUpdater().getStateViewArray(), resumed.network().getUpdater().getStateViewArray());
        assertEquals(5, Files.readAllLines(dir.resolve("killed/metrics.csv")).size());
    }

    /** The epoch column of metrics.csv (header dropped) and the epochs of metrics.jsonl. */
    static List<Integer> metricsEpochs(Path run, String file) throws IOException {
        List<String> lines = Files.readAllLines(run.resolve(file));
        return (file.endsWith(".csv") ? lines.subList(1, lines.size()) : lines).stream()
                .map(l -> file.endsWith(".csv") ? Integer.valueOf(l.split(",")[0]) : Integer.valueOf(l.replaceAll(".*\"epoch\":(\\d+).*", "$1")))
                .toList();
    }

    private static void assertNoTemporaryFiles(Path run) throws IOException {
        try (var files = Files.list(run)) {
            assertEquals(List.of(), files.filter(p -> p.toString().endsWith(".tmp")).toList(), "temporary files left");
        }
    }

    @Test
    void aResumeAfterAKillBeforeTheCheckpointCommitKeepsOneMetricsLinePerEpoch() throws IOException {
        TrainSpec spec = new TrainSpec(4, 32, 0.01, TrainSpec.Schedule.STEP, 2, 0.5, 0, 11, -1, -1);
        DataSet train = clusters(300, 3);
        DataSet val = clusters(100, 4);
        MultiLayerNetwork straight = new Trainer().train(mlp(0.01), train, val, spec, dir.resolve("straight"), false).network();
        Path run = dir.resolve("run");
        new Trainer(2).train(mlp(0.01), train, val, spec, run, false);
        byte[] state2 = Files.readAllBytes(run.resolve("checkpoint.json"));
        byte[] model2 = Files.readAllBytes(run.resolve("checkpoint.zip"));
        List<String> csv2 = Files.readAllLines(run.resolve("metrics.csv"));
        new Trainer(1).train(mlp(0.01), train, val, spec, run, true);
        // epoch 3 finished (best.zip, metrics line) but the process was killed while its checkpoint was written:
        // the committed checkpoint is still epoch 2's and the network file of epoch 3 is cut short
        byte[] model3 = Files.readAllBytes(run.resolve("checkpoint.zip"));
        Files.write(run.resolve("checkpoint.json"), state2);
        Files.write(run.resolve("checkpoint.zip"), model2);
        Files.write(run.resolve("checkpoint.zip.tmp"), java.util.Arrays.copyOf(model3, model3.length / 2));
        assertEquals(List.of(1, 2, 3), metricsEpochs(run, "metrics.csv"));

        Trainer.Result<MultiLayerNetwork> resumed = new Trainer().train(mlp(0.01), train, val, spec, run, true);
        assertEquals(2, resumed.epochs().size(), "epoch 3 is redone, epoch 4 runs");
        assertEquals(List.of(1, 2, 3, 4), metricsEpochs(run, "metrics.csv"));
        assertEquals(List.of(1, 2, 3, 4), metricsEpochs(run, "metrics.jsonl"));
        assertEquals(csv2, Files.readAllLines(run.resolve("metrics.csv")).subList(0, 3), "the committed epochs' lines are kept as written");
        assertEquals(straight.params(), resumed.network().params());
        assertNoTemporaryFiles(run);
    }

    @Test
    void aKillBetweenTheCommitAndTheModelRenameIsFinishedOnResume() throws IOException {
        TrainSpec spec = new TrainSpec(4, 32, 0.01, TrainSpec.Schedule.STEP, 2, 0.5, 0, 11, -1, -1);
        DataSet train = clusters(300, 3);
        DataSet val = clusters(100, 4);
        MultiLayerNetwork straight = new Trainer().train(mlp(0.01), train, val, spec, dir.resolve("straight"), false).network();
        Path run = dir.resolve("run");
        new Trainer(2).train(mlp(0.01), train, val, spec, run, false);
        byte[] model2 = Files.readAllBytes(run.resolve("checkpoint.zip"));
        new Trainer(1).train(mlp(0.01), train, val, spec, run, true);
        // checkpoint.json names epoch 3, whose network is still under its temporary name; checkpoint.zip is epoch 2's
        Files.move(run.resolve("checkpoint.zip"), run.resolve("checkpoint.zip.tmp"));
        Files.write(run.resolve("checkpoint.zip"), model2);

        Trainer.Result<MultiLayerNetwork> resumed = new Trainer().train(mlp(0.01), train, val, spec, run, true);
        assertEquals(1, resumed.epochs().size(), "nothing lost: only epoch 4 runs");
        assertEquals(straight.params(), resumed.network().params());
        assertEquals(List.of(1, 2, 3, 4), metricsEpochs(run, "metrics.csv"));
        assertNoTemporaryFiles(run);
    }

    @Test
    void aCheckpointOfAnEarlierVersionStillResumes() throws IOException {
        TrainSpec spec = new TrainSpec(4, 32, 0.01, TrainSpec.Schedule.STEP, 2, 0.5, 0, 11, -1, -1);
        DataSet train = clusters(300, 3);
        DataSet val = clusters(100, 4);
        MultiLayerNetwork straight = new Trainer().train(mlp(0.01), train, val, spec, dir.resolve("straight"), false).network();
        Path run = dir.resolve("run");
        Trainer.Result<MultiLayerNetwork> first = new Trainer(2).train(mlp(0.01), train, val, spec, run, false);
        // checkpoint.json as dea6103 wrote it: no model hash, no reference loss
        Files.writeString(run.resolve("checkpoint.json"), "{\n  \"epochsDone\" : 2,\n  \"bestValidationAccuracy\" : "
                + first.bestValidationAccuracy() + ",\n  \"epochsSinceBest\" : " + (first.epochs().get(1).validationAccuracy()
                < first.bestValidationAccuracy() ? 1 : 0) + "\n}");
        Trainer.Result<MultiLayerNetwork> resumed = new Trainer().train(mlp(0.01), train, val, spec, run, true);
        assertEquals(2, resumed.epochs().size());
        assertEquals(straight.params(), resumed.network().params());
    }

    @Test
    void resumingWithoutCheckpointJsonOverAnEarlierRunIsRefused() throws IOException {
        TrainSpec spec = new TrainSpec(4, 32, 0.01, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 11, -1, -1);
        DataSet train = clusters(300, 3);
        DataSet val = clusters(100, 4);
        Path run = dir.resolve("run");
        new Trainer(2).train(mlp(0.01), train, val, spec, run, false);
        Files.delete(run.resolve("checkpoint.json"));
        byte[] metrics = Files.readAllBytes(run.resolve("metrics.csv"));
        byte[] best = Files.readAllBytes(run.resolve("best.zip"));
        IOException e = assertThrows(IOException.class, () -> new Trainer().train(mlp(0.01), train, val, spec, run, true));
        assertTrue(e.getMessage().contains(run + " has no checkpoint.json") && e.getMessage().contains("--force")
                && e.getMessage().contains("metrics.csv"), e.getMessage());
        assertTrue(java.util.Arrays.equals(metrics, Files.readAllBytes(run.resolve("metrics.csv"))), "metrics untouched");
        assertTrue(java.util.Arrays.equals(best, Files.readAllBytes(run.resolve("best.zip"))), "best.zip untouched");
        // nothing there yet: a resume is a fresh start
        assertEquals(4, new Trainer().train(mlp(0.01), train, val, spec, dir.resolve("new"), true).epochs().size());
    }

    @Test
    void anInvalidCheckpointJsonIsRefusedNamingTheField() throws IOException {
        TrainSpec spec = new TrainSpec(4, 32, 0.01, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 11, -1, -1);
        DataSet train = clusters(300, 3);
        DataSet val = clusters(100, 4);
        Path run = dir.resolve("run");
        new Trainer(2).train(mlp(0.01), train, val, spec, run, false);
        Path state = run.resolve("checkpoint.json");
        String good = Files.readString(state);
        String[][] cases = {
            {"\"epochsDone\" : -2", "epochsDone must be 0..4", "-2"},
            {"\"epochsDone\" : 9", "epochsDone must be 0..4", "resolved-config.yaml"},
            {"\"epochsDone\" : \"two\"", "epochsDone must be an integer", "\"two\""},
            {"\"epochsDone\" : 2, \"epochsDone\" : 1", "Duplicate field 'epochsDone'", "not valid JSON"},
        };
        for (String[] c : cases) {
            Files.writeString(state, good.replaceFirst("\"epochsDone\" : 2", c[0]));
            IOException e = assertThrows(IOException.class, () -> new Trainer().train(mlp(0.01), train, val, spec, run, true), c[0]);
            assertTrue(e.getMessage().startsWith(state.toString()) && e.getMessage().contains(c[1]) && e.getMessage().contains(c[2]),
                    e.getMessage());
        }
        Files.writeString(state, good.replaceFirst("\"bestValidationAccuracy\" : [0-9.E-]+", "\"bestValidationAccuracy\" : 7"));
        IOException e = assertThrows(IOException.class, () -> new Trainer().train(mlp(0.01), train, val, spec, run, true));
        assertTrue(e.getMessage().contains("bestValidationAccuracy must be in [0, 1], got 7"), e.getMessage());
        assertEquals(List.of(1, 2), metricsEpochs(run, "metrics.csv"), "nothing trained");
    }

    @Test
    void aFreshRunIntoAnEarlierRunsDirectoryStartsOverInsteadOfMixingMetrics() throws IOException {
        DataSet train = clusters(300, 3);
        DataSet val = clusters(100, 4);
        Path run = dir.resolve("run");
        new Trainer().train(mlp(0.01), train, val, TrainSpec.of(2, 0.01, 1), run, false);
        Trainer.Result<MultiLayerNetwork> again = new Trainer().train(mlp(0.01), train, val, TrainSpec.of(3, 0.01, 1), run, false);
        assertEquals(List.of(1, 2, 3), metricsEpochs(run, "metrics.csv"));
        assertEquals(List.of(1, 2, 3), metricsEpochs(run, "metrics.jsonl"));
        MultiLayerNetwork best = ModelSerializer.restoreMultiLayerNetwork(run.resolve("best.zip").toFile(), false);
        assertEquals(again.bestValidationAccuracy(), Trainer.accuracy(best, val), 0, "best.zip is this run's");
    }

    @Test
    void aDivergingRunStopsWithAClearMessageAndKeepsTheLastGoodCheckpoint() throws IOException {
        DataSet train = clusters(300, 5);
        TrainSpec ok = TrainSpec.of(1, 0.01, 1);
        new Trainer().train(mlp(0.01), train, clusters(50, 6), ok, dir.resolve("run"), false);
        byte[] goodCheckpoint = Files.readAllBytes(dir.resolve("run/checkpoint.zip"));
        // resume with an absurd learning rate for the second epoch: the loss explodes
        TrainSpec crazy = new TrainSpec(2, 32, 1e30, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 1, -1, -1);
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                () -> new Trainer().train(mlp(0.01), train, clusters(50, 6), crazy, dir.resolve("run"), true));
        assertTrue(e.getMessage().contains("epoch 2") && e.getMessage().contains("after epoch 1"), e.getMessage());
        assertTrue(java.util.Arrays.equals(goodCheckpoint, Files.readAllBytes(dir.resolve("run/checkpoint.zip"))), "checkpoint untouched");
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(dir.resolve("run/checkpoint.zip").toFile(), true);
        assertTrue(Double.isFinite(restored.params().sumNumber().doubleValue()));
    }

    @Test
    void aLossThatExplodesWithoutBecomingNaNStopsTheRun() throws IOException {
        DataSet train = clusters(320, 5);
        DataSet val = clusters(100, 6);
        TrainSpec exploding = new TrainSpec(3, 32, 1e3, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 1, -1, -1);
        TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                () -> new Trainer().train(mlp(1e3), train, val, exploding, dir.resolve("run"), false));
        assertTrue(e.getMessage().contains("training diverged in epoch 2, step 10") && e.getMessage().contains("now 1000.0")
                && e.getMessage().contains("after epoch 1"), e.getMessage());
        // with the check off the same run ends "normally": finite loss, near chance accuracy
        TrainSpec unchecked = new TrainSpec(3, 32, 1e3, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 1, -1, -1, 0);
        Trainer.Result<MultiLayerNetwork> r = new Trainer().train(mlp(1e3), train, val, unchecked, dir.resolve("off"), false);
        assertTrue(r.epochs().stream().allMatch(m -> Double.isFinite(m.trainLoss()) && m.trainLoss() > 5 * Math.log(3)), r.epochs().toString());
        // a sane learning rate never comes near the threshold
        assertEquals(3, new Trainer().train(mlp(0.01), train, val, TrainSpec.of(3, 0.01, 1), dir.resolve("ok"), false).epochs().size());
    }

    @Test
    void schedulesAndValidation() {
        TrainSpec cosine = new TrainSpec(4, 8, 0.1, TrainSpec.Schedule.COSINE, 1, 1, 0, 0, -1, -1);
        assertEquals(0.1, cosine.learningRateAt(0), 1e-12);
        assertEquals(0.05, cosine.learningRateAt(2), 1e-12);
        TrainSpec step = new TrainSpec(6, 8, 0.1, TrainSpec.Schedule.STEP, 2, 0.1, 0, 0, -1, -1);
        assertEquals(0.1, step.learningRateAt(1), 1e-12);
        assertEquals(0.01, step.learningRateAt(2), 1e-12);
        assertEquals(0.001, step.learningRateAt(5), 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainSpec.of(0, 0.1, 0));
        assertTrue(e.getMessage().contains("epochs"), e.getMessage());
        IllegalArgumentException f = assertThrows(IllegalArgumentException.class,
                () -> new TrainSpec(1, 8, 0.1, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 0, -1, -1, 0.5));
        assertTrue(f.getMessage().contains("divergenceFactor must be > 1") && f.getMessage().contains("0.5"), f.getMessage());
    }

    @Test
    void distillationTrainsAQuantizedStudentAndSurvivesCheckpointRestore() throws IOException {
        DataSet train = clusters(300, 7);
        DataSet val = clusters(100, 8);
        MultiLayerNetwork teacher = new Trainer().train(mlp(0.01), train, val, TrainSpec.of(3, 0.01, 1), dir.resolve("teacher"), false)
                .network();
        io.qat4j.layers.QuantSettings w4a4 = io.qat4j.layers.QuantSettings.of(io.qat4j.layers.WeightQuantMode.LSQ, 4,
                io.qat4j.layers.InputQuantMode.LSQ, 4);
        io.qat4j.layers.QuantSettings first = w4a4.clone();
        first.setInputSigned(true);
        MultiLayerNetwork student = io.qat4j.layers.QuantizedModel.wrap(teacher, io.qat4j.layers.QuantizationPlan.builder(w4a4)
                .layer(teacher.getLayer(0).conf().getLayer().getLayerName(), first).build()).network();
        Trainer.Result<MultiLayerNetwork> r = new Trainer(new Trainer.Distillation(teacher, 0.5, 4.0)).train(student, train, val, TrainSpec.of(2, 0.005, 1),
                dir.resolve("kd"), false);
        assertTrue(r.bestValidationAccuracy() > 0.6, "KD student learned: " + r.bestValidationAccuracy());
        assertTrue(((org.deeplearning4j.nn.conf.layers.BaseOutputLayer) r.network().getOutputLayer().conf().getLayer()).getLossFn()
                instanceof io.qat4j.distill.DistillationLoss);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(dir.resolve("kd/checkpoint.zip").toFile(), true);
        assertEquals(r.network().getOutputLayer().conf().getLayer(), restored.getOutputLayer().conf().getLayer());
        assertEquals(r.network().output(val.getFeatures()), restored.output(val.getFeatures()));
        assertThrows(IllegalArgumentException.class, () -> new Trainer.Distillation(teacher, 0, 4));
    }
}
