package io.qat4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;

import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.Provenance;
import io.qat4j.training.RunData;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.ConfigException;
import io.qat4j.training.config.ConfigLoader;
import io.qat4j.training.config.RunConfig;

/**
 * What a run command starts from: its run configuration, read with the command's name in every
 * message, and for the commands that quantize a trained model (ptq, sensitivity, qat) the FP32 model
 * and the data, checked to fit each other, with the run's provenance files written.
 */
final class RunInputs {

    private RunInputs() {
    }

    /** Loads a configuration, or prints {@code "qat4j <command>: <problem>"} and returns null (exit with the usage code). */
    static RunConfig loadConfig(Path config, PrintWriter err, String command) {
        try {
            return ConfigLoader.load(config);
        } catch (ConfigException e) {
            err.println("qat4j " + command + ": " + e.getMessage());
            return null;
        }
    }

    /**
     * Loads a configuration that quantizes a trained FP32 model and checks that it has the section
     * the command needs ({@code section} non-null) and that its {@code fp32} file exists; prints
     * {@code "qat4j <command>: <problem>"} and returns null otherwise (exit with the usage code).
     */
    static RunConfig loadQuantizationConfig(Path config, PrintWriter err, String command, Function<RunConfig, Object> section,
                                            String missing) {
        RunConfig c = loadConfig(config, err, command);
        if (c == null) {
            return null;
        }
        if (section.apply(c) == null) {
            err.println("qat4j " + command + ": " + config + " " + missing);
            return null;
        }
        Path fp32 = Path.of(c.fp32());
        if (!Files.isRegularFile(fp32)) {
            err.println("qat4j " + command + ": " + config + ": fp32 model " + fp32 + " does not exist; train it first (qat4j train configs/fp32.yaml)");
            return null;
        }
        return c;
    }

    /**
     * What a quantization command starts from: output directory, data (provenance written, fitted to
     * the model), seeded, FP32 model loaded (a DL4J zip of either kind or a Keras file).
     */
    record Start(Path dir, RunData data, LoadedModel fp32) {
    }

    /**
     * Loads the FP32 model and its data, checks that they fit, writes the provenance; {@code dir} was
     * checked by {@link OutputDirectory#problem}.
     */
    static Start start(RunConfig c, Path config, Path dir, boolean resume) throws IOException {
        Path fp32Path = Path.of(c.fp32());
        LoadedModel fp32 = ModelLoader.loadConfigured(fp32Path, "fp32");
        ModelLoader.checkPlainFp32(fp32Path, fp32.network(), "fp32");
        RunData data = RunData.load(c.data(), c.seed(), fp32.input()).fit(fp32.network(), fp32.input(), "fp32 model " + fp32.describe(),
                config);
        Provenance.writeRunFiles(dir, config.toString(), c, c.seed(), data, resume);
        Trainer.seed(c.seed());
        return new Start(dir, data, fp32);
    }
}
