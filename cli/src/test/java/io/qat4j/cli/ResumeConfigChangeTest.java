package io.qat4j.cli;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import io.qat4j.training.config.ConfigLoader;
import io.qat4j.training.config.ExperimentConfig;

/** What {@code --resume} of an experiment accepts as the same configuration ({@link OutputDirectory#configChange}). */
class ResumeConfigChangeTest {

    @TempDir
    Path dir;

    private static final String HEAD = "name: x\nseed: 1\ndata: {source: bundled, trainLimit: 100, testLimit: 50}\n"
            + "fp32: {train: {epochs: 1, learningRate: 0.001}}\nvariants:\n";
    private static final String QAT = "  - name: qat\n    quantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: LSQ, bits: 4}}\n";

    private ExperimentConfig load(String name, String yaml) throws Exception {
        Path f = dir.resolve(name + ".yaml");
        Files.writeString(f, yaml);
        return ConfigLoader.load(f, ExperimentConfig.class);
    }

    /** The run's resolved-config.yaml, written as the experiment writes it. */
    private Path stored(ExperimentConfig c) throws Exception {
        Path f = dir.resolve("resolved-config.yaml");
        Files.write(f, new ObjectMapper(new YAMLFactory()).writeValueAsBytes(c));
        return f;
    }

    @Test
    void aVariantsTargetMayChangeOnResumeItsTrainingMayNot() throws Exception {
        Path stored = stored(load("a", HEAD + QAT + "    train: {epochs: 3, learningRate: 0.0001}\n"));
        // a target added (or changed) annotates the report only: the stored results still hold
        assertNull(OutputDirectory.configChange(stored, load("b", HEAD + QAT + "    train: {epochs: 3, learningRate: 0.0001}\n"
                + "    target: {vs: fp32, maxDropPp: 0.2}\n")));
        // a changed schedule would mix results of two configurations
        String change = OutputDirectory.configChange(stored, load("c", HEAD + QAT + "    train: {epochs: 6, learningRate: 0.0001}\n"));
        assertTrue(change != null && change.contains("variants.qat.train.epochs"), change);
    }
}
