package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A quantizing command started before its FP32 model exists names the command that writes the
 * missing path, derived from that path and the configurations beside the one given (not a fixed
 * config that writes somewhere else).
 */
class MissingFp32ModelTest {

    @TempDir
    Path dir;

    @Test
    void theShippedPtqConfigNamesTheTrainingThatWritesItsModel() {
        Path config = Path.of("..", "configs", "ptq-int8.yaml");   // fp32: runs/fp32-bundled/best.zip (relative to cli/, absent)
        assertFalse(Files.exists(Path.of("runs", "fp32-bundled")), "the test needs cli/runs/fp32-bundled to be absent");
        String[] r = run("ptq", config.toString(), "--out", dir.resolve("out").toString());
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("fp32 model runs/fp32-bundled/best.zip does not exist; train it first with `qat4j train "
                + Path.of("..", "configs", "fp32-bundled.yaml") + " --out runs/fp32-bundled`, which writes runs/fp32-bundled/best.zip"), r[2]);
        assertFalse(r[2].contains("configs/fp32.yaml"), "configs/fp32.yaml writes runs/fp32, not what this config needs: " + r[2]);
    }

    @Test
    void theHintFollowsTheMissingPath() throws IOException {
        Path configs = Files.createDirectories(dir.resolve("configs"));
        Path teacherRun = dir.resolve("runs").resolve("my-teacher");
        Files.writeString(configs.resolve("my-teacher.yaml"), "name: my-teacher\ndata: {source: bundled}\ntrain: {epochs: 1, learningRate: 0.001}\n");
        Files.writeString(configs.resolve("other.yaml"), "name: other\ndata: {source: bundled}\ntrain: {epochs: 1, learningRate: 0.001}\n");
        Path qat = configs.resolve("qat.yaml");
        Files.writeString(qat, "name: qat\ndata: {source: bundled}\nfp32: " + teacherRun.resolve("best.zip") + "\n"
                + "quantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: LSQ, bits: 4}}\ntrain: {epochs: 1, learningRate: 0.001}\n");
        String[] r = run("qat", qat.toString(), "--out", dir.resolve("out").toString());
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("train it first with `qat4j train " + configs.resolve("my-teacher.yaml") + " --out " + teacherRun + "`"), r[2]);

        // a training of that name that has not finished an epoch: resume it
        Files.createDirectories(teacherRun);
        Files.writeString(teacherRun.resolve("checkpoint.json"), "{}");
        String[] resume = run("qat", qat.toString(), "--out", dir.resolve("out").toString());
        assertTrue(resume[2].contains(teacherRun + " holds a training run that has not finished an epoch yet; continue it with `qat4j train "
                + configs.resolve("my-teacher.yaml") + " --out " + teacherRun + " --resume`"), resume[2]);

        // no configuration beside it trains that name: the command with a placeholder, and what to put there
        Path elsewhere = configs.resolve("elsewhere.yaml");
        Files.writeString(elsewhere, Files.readString(qat).replace(teacherRun.toString(), dir.resolve("runs/unknown").toString()));
        String[] none = run("qat", elsewhere.toString(), "--out", dir.resolve("s").toString());
        assertEquals("2", none[0], none[1] + none[2]);
        assertTrue(none[2].contains("`qat4j train FP32-CONFIG --out " + dir.resolve("runs/unknown") + "`")
                && none[2].contains("FP32-CONFIG: a run configuration with 'train' and no 'fp32'"), none[2]);

        // a file name no qat4j command writes: point fp32 at a model
        Path keras = configs.resolve("keras.yaml");
        Files.writeString(keras, Files.readString(qat).replace(teacherRun.resolve("best.zip").toString(), dir.resolve("model.h5").toString()));
        String[] h5 = run("qat", keras.toString(), "--out", dir.resolve("k").toString());
        assertTrue(h5[2].contains("model.h5 does not exist; point 'fp32' at a trained float model"), h5[2]);
    }
}
