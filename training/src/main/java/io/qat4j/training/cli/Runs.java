package io.qat4j.training.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import io.qat4j.datasets.FashionMnist;
import io.qat4j.training.Provenance;
import io.qat4j.training.config.RunConfig;

/** What the run commands share: data loading by config, and the provenance files of a run. */
final class Runs {

    static final ObjectMapper JSON = new ObjectMapper();
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private Runs() {
    }

    /** Training, validation (for model selection) and test data of a run. */
    record RunData(String source, String location, DataSet train, DataSet validation, DataSet test) {
        /** True when model selection uses the test set (validationFraction 0). */
        boolean selectsOnTest() {
            return validation == test;
        }
    }

    static RunData data(RunConfig c) throws IOException {
        return data(c.data(), c.seed());
    }

    /** The data of {@code d}; {@code seed} shuffles the validation split. */
    static RunData data(RunConfig.Data d, long seed) throws IOException {
        FashionMnist.Located all;
        if (d.csv() != null) {
            DataSet csvTrain = io.qat4j.datasets.CsvDataSets.read(Path.of(d.csv().train()), d.csv().format());
            DataSet csvTest = io.qat4j.datasets.CsvDataSets.read(Path.of(d.csv().test()), d.csv().format());
            all = new FashionMnist.Located(null, "CSV " + d.csv().train() + ", " + d.csv().test(), csvTrain, csvTest);
        } else {
            all = d.source().equals("bundled") ? FashionMnist.bundled()
                    : FashionMnist.load(FashionMnist.Options.standard(d.dir() == null ? null : Path.of(d.dir())));
        }
        String source = all.source() == null ? "CSV" : all.source().name();
        if (d.source().equals("full") && all.source() == FashionMnist.Source.BUNDLED_SUBSET) {
            throw new IOException("data.source is 'full' but the full Fashion-MNIST was not found: install the Debian package "
                    + "dataset-fashion-mnist (files in " + FashionMnist.DEBIAN_DIR + "), set QAT4J_DATA to a directory with the four IDX "
                    + "files, or set data.dir");
        }
        DataSet train = limit(all.train(), d.trainLimit());
        DataSet test = limit(all.test(), d.testLimit());
        if (d.validationFraction() == 0) {
            return new RunData(source, all.location(), train, test, test);
        }
        DataSet shuffled = train.copy();
        shuffled.shuffle(seed);
        int n = shuffled.numExamples();
        int held = Math.max(1, (int) Math.round(n * d.validationFraction()));
        DataSet kept = new DataSet(shuffled.getFeatures().get(NDArrayIndex.interval(0, n - held)).dup(),
                shuffled.getLabels().get(NDArrayIndex.interval(0, n - held)).dup());
        DataSet validation = new DataSet(shuffled.getFeatures().get(NDArrayIndex.interval(n - held, n)).dup(),
                shuffled.getLabels().get(NDArrayIndex.interval(n - held, n)).dup());
        return new RunData(source, all.location(), kept, validation, test);
    }

    private static DataSet limit(DataSet ds, Integer n) {
        if (n == null || n >= ds.numExamples()) {
            return ds;
        }
        return new DataSet(ds.getFeatures().get(NDArrayIndex.interval(0, n)).dup(), ds.getLabels().get(NDArrayIndex.interval(0, n)).dup());
    }

    /** Writes resolved-config.yaml and provenance.json into the run directory (atomically). */
    static void provenance(Path out, Path configFile, RunConfig c, RunData data) throws IOException {
        provenance(out, configFile, c, c.seed(), data);
    }

    /**
     * Writes {@code resolved} (the validated configuration: a run or an experiment) as
     * resolved-config.yaml and the provenance (versions, git revision, config, seed, data) as
     * provenance.json, atomically; returns the provenance.
     */
    static Map<String, Object> provenance(Path out, Path configFile, Object resolved, long seed, RunData data) throws IOException {
        Files.createDirectories(out);
        writeAtomic(out.resolve("resolved-config.yaml"), YAML.writeValueAsBytes(resolved));
        Map<String, Object> p = new LinkedHashMap<>(Provenance.describe(Path.of(".")));
        p.put("config", configFile.toString());
        p.put("seed", seed);
        p.put("data.source", data.source().toString());
        p.put("data.location", data.location());
        p.put("data.train", data.train().numExamples());
        p.put("data.validation", data.selectsOnTest() ? "the test set (validationFraction 0)" : data.validation().numExamples());
        p.put("data.test", data.test().numExamples());
        writeAtomic(out.resolve("provenance.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(p));
        return p;
    }

    /** Saves a network (with updater state) as a DL4J zip, atomically. */
    static void writeNetwork(org.deeplearning4j.nn.multilayer.MultiLayerNetwork net, Path target) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        org.deeplearning4j.util.ModelSerializer.writeModel(net, bytes, true);
        writeAtomic(target, bytes.toByteArray());
    }

    static void writeAtomic(Path target, byte[] bytes) throws IOException {
        io.qat4j.training.AtomicFiles.write(target, bytes);
    }

    /** Loads a configuration, or prints {@code "qat4j <command>: <problem>"} and returns null (exit with the usage code). */
    static RunConfig loadOrReport(Path config, java.io.PrintWriter err, String command) {
        try {
            return io.qat4j.training.config.ConfigLoader.load(config);
        } catch (io.qat4j.training.config.ConfigException e) {
            err.println("qat4j " + command + ": " + e.getMessage());
            return null;
        }
    }

    /**
     * Loads a configuration that quantizes a trained FP32 model and checks that it has the section
     * the command needs ({@code section} non-null) and that its {@code fp32} file exists; prints
     * {@code "qat4j <command>: <problem>"} and returns null otherwise (exit with the usage code).
     */
    static RunConfig loadQuantizationRun(Path config, java.io.PrintWriter err, String command, java.util.function.Function<RunConfig, Object> section,
                                         String missing) {
        RunConfig c = loadOrReport(config, err, command);
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

    /** What a quantization command starts from: output directory, data (provenance written), seeded, FP32 model loaded. */
    record Start(Path dir, RunData data, org.deeplearning4j.nn.multilayer.MultiLayerNetwork fp32) {
    }

    static Start start(RunConfig c, Path config, RunOptions options) throws IOException {
        Path dir = options.outFor(c.name());
        RunData data = data(c);
        provenance(dir, config, c, data);
        io.qat4j.training.Trainer.seed(c.seed());
        return new Start(dir, data, org.deeplearning4j.util.ModelSerializer.restoreMultiLayerNetwork(Path.of(c.fp32()).toFile(), false));
    }

    /** Prints each finished epoch (and flushes, so progress shows while training runs). */
    static java.util.function.Consumer<io.qat4j.training.Trainer.EpochMetrics> epochPrinter(java.io.PrintWriter out, RunConfig c,
                                                                                             RunData data) {
        return m -> {
            out.printf("epoch %d/%d: loss %.4f, %s accuracy %.4f, lr %.2e, %.1f s%n", m.epoch(), c.train().epochs(), m.trainLoss(),
                    data.selectsOnTest() ? "test" : "validation", m.validationAccuracy(), m.learningRate(), m.seconds());
            out.flush();
        };
    }

}
