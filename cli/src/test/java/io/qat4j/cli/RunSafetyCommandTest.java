package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the run commands refuse before any work, and what they keep: output directories of other
 * runs, resumes that cannot continue, data and models that do not fit, a loss that explodes.
 */
class RunSafetyCommandTest {

    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    /** A one-epoch FP32 run on part of the bundled subset, shared by the tests (they copy it before changing it). */
    static Path fp32Config;
    static Path fp32Run;

    private static Path write(Path in, String name, String yaml) throws IOException {
        Path f = in.resolve(name + ".yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @BeforeAll
    static void trainTheSharedFp32Run() throws IOException {
        fp32Config = write(shared, "fp32", "name: fp32\ndata: {source: bundled, trainLimit: 300, testLimit: 100}\n"
                + "train: {epochs: 1, learningRate: 0.002}\n");
        fp32Run = shared.resolve("fp32");
        String[] t = run("train", fp32Config.toString(), "--out", fp32Run.toString());
        assertEquals("0", t[0], t[1] + t[2]);
    }

    private Path copyOfFp32Run() throws IOException {
        return copyOfFp32Run("copy");
    }

    private Path copyOfFp32Run(String name) throws IOException {
        Path copy = dir.resolve(name);
        Files.createDirectories(copy);
        try (var files = Files.list(fp32Run)) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        return copy;
    }

    private Path ptqConfig(String fp32) throws IOException {
        return write(dir, "ptq", "name: ptq\ndata: {source: bundled, trainLimit: 300, testLimit: 100}\nfp32: " + fp32
                + "\nptq: {samples: 64}\n");
    }

    @Test
    void aSecondTrainIntoTheSameOutIsRefusedUnlessResumedOrForced() throws IOException {
        Path run = copyOfFp32Run();
        byte[] best = Files.readAllBytes(run.resolve("best.zip"));
        byte[] metrics = Files.readAllBytes(run.resolve("metrics.csv"));
        String[] again = run("train", fp32Config.toString(), "--out", run.toString());
        assertEquals("2", again[0], again[1] + again[2]);
        assertTrue(again[2].contains(run + " already holds files") && again[2].contains("best.zip") && again[2].contains("--resume")
                && again[2].contains("--force"), again[2]);
        assertArrayEquals(best, Files.readAllBytes(run.resolve("best.zip")));
        assertArrayEquals(metrics, Files.readAllBytes(run.resolve("metrics.csv")));
        // --resume of the finished run trains nothing; --force starts over: one run's metrics either way
        String[] resumed = run("train", fp32Config.toString(), "--out", run.toString(), "--resume");
        assertEquals("0", resumed[0], resumed[1] + resumed[2]);
        assertFalse(resumed[1].contains("epoch 1/1"), resumed[1]);
        assertArrayEquals(metrics, Files.readAllBytes(run.resolve("metrics.csv")));
        String[] forced = run("train", fp32Config.toString(), "--out", run.toString(), "--force");
        assertEquals("0", forced[0], forced[1] + forced[2]);
        assertEquals(2, Files.readAllLines(run.resolve("metrics.csv")).size(), "header and one epoch");
        assertEquals("2", run("train", fp32Config.toString(), "--out", run.toString(), "--force", "--resume")[0]);
    }

    @Test
    void resumeIsRefusedWithoutACheckpointOrWithAnotherConfiguration() throws IOException {
        Path run = copyOfFp32Run();
        Files.delete(run.resolve("checkpoint.json"));
        byte[] metrics = Files.readAllBytes(run.resolve("metrics.csv"));
        String[] r = run("train", fp32Config.toString(), "--out", run.toString(), "--resume");
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("has no checkpoint.json") && r[2].contains("--force"), r[2]);
        assertArrayEquals(metrics, Files.readAllBytes(run.resolve("metrics.csv")));

        Path other = write(dir, "fp32", Files.readString(fp32Config).replace("0.002", "0.003"));
        String[] changed = run("train", other.toString(), "--out", copyOfFp32Run("copy2").toString(), "--resume");
        assertEquals("2", changed[0], changed[1] + changed[2]);
        assertTrue(changed[2].contains("'train.learningRate' (0.002 there, 0.003 here)"), changed[2]);

        // a run started by an earlier version has no train.divergenceFactor in its resolved-config.yaml: the default is no change
        Path older = copyOfFp32Run("older");
        Path stored = older.resolve("resolved-config.yaml");
        Files.writeString(stored, Files.readString(stored).replaceAll("(?m)^ *divergenceFactor: .*\\n", ""));
        assertFalse(Files.readString(stored).contains("divergenceFactor"));
        String[] resumed = run("train", fp32Config.toString(), "--out", older.toString(), "--resume");
        assertEquals("0", resumed[0], resumed[1] + resumed[2]);
    }

    @Test
    void ptqNeverWritesIntoATrainingRunsDirectoryAndHasNoResume() throws IOException {
        Path run = copyOfFp32Run();
        byte[] provenance = Files.readAllBytes(run.resolve("provenance.json"));
        Path ptq = ptqConfig(fp32Run.resolve("best.zip").toString());
        for (String[] args : new String[][] {{"ptq", ptq.toString(), "--out", run.toString()},
            {"ptq", ptq.toString(), "--out", run.toString(), "--force"}, {"sensitivity", ptq.toString(), "--out", run.toString()}}) {
            String[] r = run(args);
            assertEquals("2", r[0], r[1] + r[2]);
            assertTrue(r[2].contains("holds a training run") && r[2].contains("provenance.json"), r[2]);
        }
        assertArrayEquals(provenance, Files.readAllBytes(run.resolve("provenance.json")));
        for (String command : new String[] {"ptq", "sensitivity"}) {
            String[] r = run(command, ptq.toString(), "--out", dir.resolve(command).toString(), "--resume");
            assertEquals("2", r[0], r[1] + r[2]);
            assertTrue(r[2].contains("Unknown option: '--resume'"), r[2]);
            assertFalse(Files.exists(dir.resolve(command)));
        }
        // the network a checkpoint.zip holds is qat4j's training form: named as such, not "no Convolution, Dense or Output layer"
        String[] fromCheckpoint = run("ptq", ptqConfig(fp32Run.resolve("checkpoint.zip").toString()).toString(), "--out",
                dir.resolve("p").toString());
        assertEquals("2", fromCheckpoint[0], fromCheckpoint[1] + fromCheckpoint[2]);
        assertTrue(fromCheckpoint[2].contains("checkpoint.zip holds qat4j's quantized training layers") && fromCheckpoint[2].contains("best.zip"),
                fromCheckpoint[2]);
    }

    @Test
    void aLearningRateOf1e3StopsAsDivergedWithANonZeroExit() throws IOException {
        Path cfg = write(dir, "lr", "name: lr\ndata: {source: bundled, trainLimit: 1280, testLimit: 100}\n"
                + "train: {epochs: 2, learningRate: 1000}\n");
        String[] r = run("train", cfg.toString(), "--out", dir.resolve("lr").toString());
        assertEquals("1", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("training diverged in epoch 1") && r[2].contains("train.learningRate, now 1000.0")
                && r[2].contains("train.divergenceFactor"), r[2]);
    }

    /** Writes an IDX file of unsigned bytes with the given dimensions. */
    private static void idx(Path file, byte[] data, int... dims) throws IOException {
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            out.writeInt(0x0800 | dims.length);
            for (int d : dims) {
                out.writeInt(d);
            }
            out.write(data);
        }
    }

    @Test
    void trainAndTestImagesOfDifferentSizesAreRefusedBeforeTraining() throws IOException {
        Path data = Files.createDirectories(dir.resolve("idx"));
        java.util.Random random = new java.util.Random(1);
        byte[] train = new byte[40 * 32 * 32];
        byte[] test = new byte[20 * 28 * 28];
        random.nextBytes(train);
        random.nextBytes(test);
        byte[] labels = new byte[40];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = (byte) (i % 10);
        }
        idx(data.resolve("train-images-idx3-ubyte"), train, 40, 32, 32);
        idx(data.resolve("train-labels-idx1-ubyte"), labels, 40);
        idx(data.resolve("t10k-images-idx3-ubyte"), test, 20, 28, 28);
        idx(data.resolve("t10k-labels-idx1-ubyte"), java.util.Arrays.copyOf(labels, 20), 20);
        Path cfg = write(dir, "idx", "name: idx\ndata: {dir: " + data + "}\ntrain: {epochs: 1, learningRate: 0.002, batchSize: 20}\n");
        String[] r = run("train", cfg.toString(), "--out", dir.resolve("run").toString());
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains(data.resolve("train-images-idx3-ubyte") + "[.gz] holds examples of shape [1, 32, 32]")
                && r[2].contains(data.resolve("t10k-images-idx3-ubyte") + "[.gz] holds examples of shape [1, 28, 28]"), r[2]);
        assertFalse(r[1].contains("epoch 1/1"), "no training: " + r[1]);
    }

    private Path csv(String name, int rows, int classesUsed) throws IOException {
        StringBuilder sb = new StringBuilder("label");
        for (int i = 0; i < 64; i++) {
            sb.append(",p").append(i);
        }
        sb.append('\n');
        for (int n = 0; n < rows; n++) {
            sb.append(n % classesUsed);
            for (int i = 0; i < 64; i++) {
                sb.append(',').append((n * 7 + i) % 256);
            }
            sb.append('\n');
        }
        Path f = dir.resolve(name + ".csv");
        Files.writeString(f, sb.toString());
        return f;
    }

    @Test
    void csvClassesMustMatchTheLabelsAndAModelMustFitTheConfigsData() throws IOException {
        Path train = csv("train", 40, 2);
        Path test = csv("test", 20, 2);
        Path cfg = write(dir, "csv", "name: csv\ndata:\n  csv: {train: " + train + ", test: " + test + ", classes: 5, shape: [1, 8, 8]}\n"
                + "train: {epochs: 1, learningRate: 0.002, batchSize: 20}\n");
        String[] r = run("train", cfg.toString(), "--out", dir.resolve("run").toString());
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("data.csv.classes is 5 but the labels in " + train + " are 0..1; set data.csv.classes: 2"), r[2]);
        // eval/export of the 28x28 Fashion-MNIST model with a config of 8x8 CSV images
        Path csv2 = write(dir, "csv2", Files.readString(cfg).replace("classes: 5", "classes: 2"));
        String[] e = run("eval", fp32Run.resolve("best.zip").toString(), "--config", csv2.toString());
        assertEquals("2", e[0], e[1] + e[2]);
        assertTrue(e[2].contains("model " + fp32Run.resolve("best.zip") + " (DL4J zip, MultiLayerNetwork) does not take the data of " + csv2)
                && e[2].contains("examples of shape [1, 8, 8] in 2 classes"), e[2]);
        String[] x = run("export", fp32Run.resolve("best.zip").toString(), "--config", csv2.toString(), "--out",
                dir.resolve("m.onnx").toString(), "--format", "onnx-fp32");
        assertEquals("2", x[0], x[1] + x[2]);
        assertTrue(x[2].contains("does not take the data of " + csv2), x[2]);
        assertFalse(Files.exists(dir.resolve("m.onnx")));
    }

    @Test
    void outputsOfOneRunNeverMix() throws IOException {
        // constructed: qat --resume of an FP32 run's directory (another run's checkpoint)
        Path run = copyOfFp32Run();
        Path qat = write(dir, "qat", "name: qat\ndata: {source: bundled, trainLimit: 300, testLimit: 100}\nfp32: " + fp32Run.resolve("best.zip")
                + "\nquantization: {weights: {mode: LSQ, bits: 8}, inputs: {mode: LSQ, bits: 8}}\ntrain: {epochs: 1, learningRate: 0.0005}\n");
        String[] r = run("qat", qat.toString(), "--out", run.toString(), "--resume");
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("differs from " + run.resolve("resolved-config.yaml")), r[2]);
        String[] e = run("export", fp32Run.resolve("best.zip").toString(), "--config", fp32Config.toString(), "--out",
                fp32Run.resolve("best.zip").toString());
        assertEquals("2", e[0], e[1] + e[2]);
        assertTrue(e[2].contains("is the model being exported"), e[2]);
        assertTrue(List.of(e).size() == 3);
    }
}
