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
            err.println("qat4j " + command + ": " + config + ": fp32 model " + fp32 + " does not exist; " + howToMake(config, fp32));
            return null;
        }
        return c;
    }

    /**
     * What writes the missing FP32 model {@code fp32}, derived from its path: a training run's
     * {@code best.zip} in {@code DIR} is written by {@code qat4j train CONFIG --out DIR}, and the
     * configuration named like {@code DIR} among the YAML files beside {@code config} (a run
     * configuration that trains, {@code name:} the directory's name, so that its default output is
     * {@code runs/<name>}) is the one to give; without one the command is shown with a placeholder.
     * A run directory that exists without a {@code best.zip} is a training that has not finished an
     * epoch: resume it. Any other file name is not one qat4j writes: point {@code fp32} at a model.
     */
    static String howToMake(Path config, Path fp32) {
        Path runDir = fp32.getParent();
        if (!fp32.getFileName().toString().equals("best.zip") || runDir == null) {
            return "point 'fp32' at a trained float model (a DL4J zip, such as the best.zip a `qat4j train` run writes, or a Keras .h5)";
        }
        String trainer = trainingConfigFor(config, runDir.getFileName().toString());
        String train = "qat4j train " + (trainer != null ? trainer : "FP32-CONFIG") + " --out " + runDir;
        if (Files.isRegularFile(runDir.resolve(io.qat4j.training.Checkpoint.STATE))) {
            return runDir + " holds a training run that has not finished an epoch yet; continue it with `" + train + " --resume`";
        }
        return "train it first with `" + train + "`, which writes " + fp32 + (trainer != null ? ""
                : " (FP32-CONFIG: a run configuration with 'train' and no 'fp32', e.g. configs/fp32-bundled.yaml)")
                + ", or point 'fp32' at a trained model";
    }

    /** The run configuration beside {@code config} that trains an FP32 model named {@code name}, or null. */
    private static String trainingConfigFor(Path config, String name) {
        Path dir = config.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return null;
        }
        java.util.List<Path> candidates;
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            candidates = files.filter(f -> f.getFileName().toString().endsWith(".yaml")).sorted().toList();
        } catch (IOException e) {
            return null;
        }
        for (Path f : candidates) {
            try {
                RunConfig c = ConfigLoader.load(f);
                if (c.name().equals(name) && c.fp32() == null && c.train() != null) {
                    Path parent = config.getParent();
                    return (parent == null ? f.getFileName() : parent.resolve(f.getFileName())).toString();
                }
            } catch (ConfigException e) {
                // not a run configuration (an experiment, or broken): not the one
            }
        }
        return null;
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
