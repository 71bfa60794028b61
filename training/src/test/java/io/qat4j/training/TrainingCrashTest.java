package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.layers.QuantizedModel;

/**
 * Crash safety with real kills: {@link KillableTrainingMain} runs in a child JVM and is killed with
 * SIGKILL ({@link Process#destroyForcibly}) in the middle of an epoch and during the epoch-end save,
 * then resumed; the files already written stay intact, at most the interrupted epoch is redone, and
 * the final weights equal an uninterrupted run's bit for bit.
 */
class TrainingCrashTest {

    @TempDir
    Path dir;

    /** A child JVM running {@link KillableTrainingMain}, with its output lines. */
    private static final class Child {
        final Process process;
        final List<String> lines = new ArrayList<>();

        Child(Path run, String mode, String pause) throws IOException {
            String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                    "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "--add-modules", "jdk.incubator.vector", "-cp", classpath,
                    KillableTrainingMain.class.getName(), run.toString(), mode, pause);
            pb.redirectErrorStream(true);
            process = pb.start();
        }

        /** Reads output until a line starting with {@code prefix} (or the end); returns that line or null. */
        String await(String prefix) throws IOException {
            BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                lines.add(line);
                if (line.startsWith(prefix)) {
                    return line;
                }
            }
            return null;
        }

        void kill() throws InterruptedException {
            process.destroyForcibly();   // SIGKILL on Linux: no shutdown hooks, no finally blocks
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
            assertEquals(137, process.exitValue(), "killed by SIGKILL");
        }

        List<Integer> epochs() {
            return lines.stream().filter(l -> l.startsWith("EPOCH ")).map(l -> Integer.valueOf(l.substring(6))).toList();
        }
    }

    private static MultiLayerNetwork plainBest(Path run) throws IOException {
        MultiLayerNetwork best = ModelSerializer.restoreMultiLayerNetwork(run.resolve("best.zip").toFile(), false);
        assertTrue(QuantizedModel.quantizedLayers(best).isEmpty(), "best.zip is the plain DL4J network");
        assertEquals(ConvolutionLayer.class, best.getLayer(0).conf().getLayer().getClass());
        return best;
    }

    @Test
    void killedMidEpochAndDuringTheEpochEndSaveResumesToTheUninterruptedWeights() throws Exception {
        long start = System.nanoTime();
        Path run = dir.resolve("run");

        // 1. SIGKILL in the middle of epoch 2 (step 4 of 8)
        Child first = new Child(run, "fresh", "step:2:4");
        assertEquals("PAUSED step:2:4", first.await("PAUSED"), String.join("\n", first.lines));
        first.kill();
        assertEquals(List.of(1), first.epochs());
        assertEquals(List.of(1), TrainerTest.metricsEpochs(run, "metrics.csv"));
        plainBest(run);
        List<String> epoch1 = Files.readAllLines(run.resolve("metrics.csv"));

        // 2. resumed; SIGKILL at the end of epoch 3, after best.zip and the metrics line, before the checkpoint commit;
        // a network file cut short by a kill inside its write is added by hand (that instant is too short to hit)
        Child second = new Child(run, "resume", "epoch:3");
        assertEquals("PAUSED epoch:3", second.await("PAUSED"), String.join("\n", second.lines));
        second.kill();
        assertEquals(List.of(2, 3), second.epochs(), "resumed at epoch 2: the killed epoch 2 was lost and redone");
        byte[] committed = Files.readAllBytes(run.resolve("checkpoint.zip"));
        Files.write(run.resolve("checkpoint.zip.tmp"), java.util.Arrays.copyOf(committed, committed.length / 3));
        assertTrue(Files.readString(run.resolve("checkpoint.json")).contains("\"epochsDone\" : 2"));
        plainBest(run);
        List<String> epochs12 = Files.readAllLines(run.resolve("metrics.csv")).subList(0, 3);
        assertEquals(epoch1, epochs12.subList(0, 2), "epoch 1's metrics line is kept as written");

        // 3. resumed to the end
        Child third = new Child(run, "resume", "none");
        assertEquals("DONE", third.await("DONE"), String.join("\n", third.lines));
        assertTrue(third.process.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, third.process.exitValue());
        assertEquals(List.of(3, 4), third.epochs(), "resumed at epoch 3: the epoch killed during its save was redone");
        assertEquals(List.of(1, 2, 3, 4), TrainerTest.metricsEpochs(run, "metrics.csv"));
        assertEquals(List.of(1, 2, 3, 4), TrainerTest.metricsEpochs(run, "metrics.jsonl"));
        assertEquals(epochs12, Files.readAllLines(run.resolve("metrics.csv")).subList(0, 3), "committed epochs' lines kept");
        try (var files = Files.list(run)) {
            assertFalse(files.anyMatch(p -> p.toString().endsWith(".tmp")), "no temporary files left");
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long straightStart = System.nanoTime();

        // the same run uninterrupted, in this JVM: bit-identical weights, updater state and best model
        Path straight = dir.resolve("straight");
        FloatTraining.train(new Trainer(), KillableTrainingMain.initialNetwork(), KillableTrainingMain.trainData(),
                KillableTrainingMain.validationData(), KillableTrainingMain.SPEC, straight, false, m -> { }, Trainer.Progress.NONE, true);
        MultiLayerNetwork a = ModelSerializer.restoreMultiLayerNetwork(straight.resolve("checkpoint.zip").toFile(), true);
        MultiLayerNetwork b = ModelSerializer.restoreMultiLayerNetwork(run.resolve("checkpoint.zip").toFile(), true);
        assertEquals(a.params(), b.params());
        assertEquals(a.getUpdater().getStateViewArray(), b.getUpdater().getStateViewArray());
        assertEquals(plainBest(straight).params(), plainBest(run).params());
        System.out.printf("TrainingCrashTest: 3 child JVMs (2 killed) in %.1f s, the uninterrupted run in this JVM %.1f s%n", seconds,
                (System.nanoTime() - straightStart) / 1e9);
    }
}
