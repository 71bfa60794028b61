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
import io.qat4j.runtime.AtomicFiles;
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

    /**
     * The data of {@code d}; {@code seed} shuffles the validation split. Checked right after loading:
     * training and test examples of one shape and class count ({@link BadInputException} naming both
     * files), and CSV labels that use every one of {@code data.csv.classes}.
     */
    static RunData data(RunConfig.Data d, long seed) throws IOException {
        FashionMnist.Located all;
        String trainFile;
        String testFile;
        if (d.csv() != null) {
            DataSet csvTrain = io.qat4j.datasets.CsvDataSets.read(Path.of(d.csv().train()), d.csv().format());
            int used = csvTrain.getLabels().argMax(1).maxNumber().intValue() + 1;
            if (used < d.csv().classes()) {
                throw new BadInputException("data.csv.classes is " + d.csv().classes() + " but the labels in " + d.csv().train() + " are 0.."
                        + (used - 1) + "; set data.csv.classes: " + used + " (one output per class; every class needs training examples)");
            }
            DataSet csvTest = io.qat4j.datasets.CsvDataSets.read(Path.of(d.csv().test()), d.csv().format());
            all = new FashionMnist.Located(null, "CSV " + d.csv().train() + ", " + d.csv().test(), csvTrain, csvTest);
            trainFile = d.csv().train();
            testFile = d.csv().test();
        } else {
            all = d.source().equals("bundled") ? FashionMnist.bundled()
                    : FashionMnist.load(FashionMnist.Options.standard(d.dir() == null ? null : Path.of(d.dir())));
            boolean bundled = all.source() == FashionMnist.Source.BUNDLED_SUBSET;
            trainFile = bundled ? "the bundled training subset" : Path.of(all.location(), FashionMnist.TRAIN_IMAGES) + "[.gz]";
            testFile = bundled ? "the bundled test subset" : Path.of(all.location(), FashionMnist.TEST_IMAGES) + "[.gz]";
        }
        String trainShape = describe(all.train());
        String testShape = describe(all.test());
        if (!trainShape.equals(testShape)) {
            throw new BadInputException("the training and test data do not fit together: " + trainFile + " holds " + trainShape + ", "
                    + testFile + " holds " + testShape + "; a model trained on one cannot be tested on the other: use files of the same "
                    + "image size and classes");
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

    /** "examples of shape [c, h, w] in k classes": what a network must take. */
    static String describe(DataSet ds) {
        long[] shape = ds.getFeatures().shape();
        return "examples of shape " + java.util.Arrays.toString(java.util.Arrays.copyOfRange(shape, 1, shape.length)) + " in "
                + ds.getLabels().size(1) + " classes";
    }

    /**
     * Checks that {@code net} (read from {@code model}) takes the examples of {@code data} (from
     * {@code config}, a file or a description) and has one output per class, by running it on one test example.
     */
    static void checkModelFitsData(Path model, org.deeplearning4j.nn.api.Model net, RunData data, Object config) throws BadInputException {
        org.nd4j.linalg.api.ndarray.INDArray one = data.test().getFeatures().get(NDArrayIndex.interval(0, 1));
        org.nd4j.linalg.api.ndarray.INDArray y;
        try {
            y = net instanceof org.deeplearning4j.nn.graph.ComputationGraph g ? g.outputSingle(one)
                    : ((org.deeplearning4j.nn.multilayer.MultiLayerNetwork) net).output(one);
        } catch (RuntimeException e) {
            throw new BadInputException("model " + model + " does not take the data of " + config + " (" + describe(data.test())
                    + "): the network fails on them (" + e.getMessage() + "); use the configuration the model was trained with");
        }
        long classes = data.test().getLabels().size(1);
        if (y.rank() != 2 || y.size(1) != classes) {
            throw new BadInputException("model " + model + " has " + (y.rank() == 2 ? y.size(1) : java.util.Arrays.toString(y.shape()))
                    + " outputs but the data of " + config + " has " + classes + " classes; use the configuration the model was trained with");
        }
    }

    /**
     * An FP32 model to quantize must be a plain DL4J network: qat4j's quantized layers in it mean a QAT
     * model or the checkpoint of an FP32 run (which keeps the training form), which PTQ cannot take.
     */
    static void checkPlainFp32(Path model, org.deeplearning4j.nn.multilayer.MultiLayerNetwork net, String key) throws BadInputException {
        if (!io.qat4j.layers.QuantizedModel.quantizedLayers(net).isEmpty()) {
            throw new BadInputException(key + " " + model + " holds qat4j's quantized training layers, not a plain FP32 DL4J network: it is "
                    + "a QAT model or the checkpoint.zip of a training run. Give the best.zip of a `qat4j train` run (one that an earlier "
                    + "qat4j killed or stopped mid-run holds this form too: finish it with `qat4j train CONFIG --out DIR --resume`)");
        }
    }

    /**
     * Why {@code dir} cannot take the outputs of {@code command}, or null; checked before any work.
     * A new or empty directory is fine. {@code resume} ({@code resumable} commands: train, qat,
     * experiment) needs the run there to have the same resolved configuration and, for a training run
     * of {@code epochs} epochs (non-null), a checkpoint that
     * {@link io.qat4j.training.Checkpoint#forResume} accepts (or no training files yet). {@code force}
     * writes into a non-empty directory, except that only a training command (non-null {@code epochs})
     * writes where a training run's files are: others would replace that run's provenance.
     */
    static String outProblem(Path dir, String command, Object resolved, boolean resumable, boolean resume, boolean force, Integer epochs)
            throws IOException {
        if (resume && force) {
            return "--resume continues the run in " + dir + " and --force replaces it: give one of them";
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            return "--out " + dir + " is a file, not a directory";
        }
        java.util.List<String> entries = new java.util.ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (java.util.stream.Stream<Path> s = Files.list(dir)) {
                s.map(p -> p.getFileName().toString()).sorted().forEach(entries::add);
            }
        }
        java.util.List<String> trainingFiles = io.qat4j.training.Checkpoint.RUN_FILES.stream().filter(entries::contains).toList();
        if (resume) {
            String changed = configChange(dir.resolve("resolved-config.yaml"), resolved);
            if (changed != null) {
                return changed;
            }
            if (epochs != null) {
                try {
                    io.qat4j.training.Checkpoint.forResume(dir, epochs);
                } catch (io.qat4j.training.Checkpoint.InvalidCheckpointException e) {
                    return e.getMessage();
                }
            }
            return null;
        }
        if (entries.isEmpty()) {
            return null;
        }
        String listed = String.join(", ", entries.subList(0, Math.min(8, entries.size()))) + (entries.size() > 8 ? ", ..." : "");
        if (epochs == null && !trainingFiles.isEmpty()) {
            return dir + " holds a training run (" + String.join(", ", trainingFiles) + "); `qat4j " + command + "` would replace its "
                    + "provenance.json and resolved-config.yaml: choose another --out";
        }
        if (!force) {
            return dir + " already holds files (" + listed + "); " + (resumable
                    ? "continue that run with --resume, choose another --out, or add --force to start over there"
                    : "choose another --out, or add --force to replace them");
        }
        // --force replaces the earlier run: its results must not survive next to the new run's provenance
        // (only the files qat4j commands write; nothing else in the directory is touched)
        for (String f : FORCE_REPLACED) {
            Files.deleteIfExists(dir.resolve(f));
        }
        return null;
    }

    /** The single-run outputs a forced run deletes first (training files are removed by the trainer itself). */
    static final java.util.List<String> FORCE_REPLACED = java.util.List.of("model.q4j", "summary.json", "plan.json", "ptq-float.zip",
            "sensitivity.csv", "sensitivity.json", "provenance.json", "resolved-config.yaml");

    /**
     * Why {@code resolved} may not continue the run whose configuration is {@code stored}, or null.
     * The stored file is read into the current configuration type, so keys added since (with their
     * defaults) do not count as changes, and derived entries the file also holds ({@code qat},
     * {@code ptqOnly}) are skipped. A run configuration must be equal; an
     * experiment's seed, data and FP32 stage must be, and each variant it shares with the stored one
     * (by name): variants may be added or dropped.
     */
    static String configChange(Path stored, Object resolved) throws IOException {
        if (!Files.isRegularFile(stored)) {
            return null;
        }
        Object before;
        try {
            before = YAML.copy().disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .readValue(stored.toFile(), resolved.getClass());
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            return "--resume cannot compare this configuration with the run's: " + stored + " is unreadable (" + e.getOriginalMessage()
                    + "); start again with --force";
        }
        com.fasterxml.jackson.databind.JsonNode was = YAML.readTree(YAML.writeValueAsBytes(before));
        com.fasterxml.jackson.databind.JsonNode now = YAML.readTree(YAML.writeValueAsBytes(resolved));
        String diff;
        if (resolved instanceof io.qat4j.training.config.ExperimentConfig) {
            diff = firstDifference("", ((com.fasterxml.jackson.databind.node.ObjectNode) was.deepCopy()).without("variants"),
                    ((com.fasterxml.jackson.databind.node.ObjectNode) now.deepCopy()).without("variants"));
            for (com.fasterxml.jackson.databind.JsonNode v : now.path("variants")) {
                for (com.fasterxml.jackson.databind.JsonNode w : was.path("variants")) {
                    if (diff == null && w.path("name").equals(v.path("name"))) {
                        diff = firstDifference("variants." + v.path("name").asText(), w, v);
                    }
                }
            }
        } else {
            diff = firstDifference("", was, now);
        }
        return diff == null ? null : "--resume continues the run in " + stored.getParent() + " with the configuration its results come "
                + "from, but this configuration differs from " + stored + " at " + diff + "; resume with that configuration, or start "
                + "again with --force";
    }

    /** The dotted path of the first difference between two YAML trees, or null when equal. */
    private static String firstDifference(String path, com.fasterxml.jackson.databind.JsonNode a, com.fasterxml.jackson.databind.JsonNode b) {
        if (a.equals(b)) {
            return null;
        }
        if (a.isObject() && b.isObject()) {
            java.util.Set<String> names = new java.util.LinkedHashSet<>();
            a.fieldNames().forEachRemaining(names::add);
            b.fieldNames().forEachRemaining(names::add);
            for (String n : names) {
                com.fasterxml.jackson.databind.JsonNode x = a.path(n);
                com.fasterxml.jackson.databind.JsonNode y = b.path(n);
                if (n.equals("firstLayerSigned") && unsetOrFalse(x) && unsetOrFalse(y)) {
                    continue;   // runs resolved before 0.1's signedness-from-data recorded an absent value as false
                }
                String d = firstDifference(path.isEmpty() ? n : path + "." + n, x, y);
                if (d != null) {
                    return d;
                }
            }
        }
        if (a.isArray() && b.isArray() && a.size() == b.size()) {
            for (int i = 0; i < a.size(); i++) {
                String d = firstDifference(path + "[" + i + "]", a.get(i), b.get(i));
                if (d != null) {
                    return d;
                }
            }
        }
        return "'" + (path.isEmpty() ? "(the whole file)" : path) + "' (" + (a.isMissingNode() ? "absent" : a.toString()) + " there, "
                + (b.isMissingNode() ? "absent" : b.toString()) + " here)";
    }

    private static boolean unsetOrFalse(com.fasterxml.jackson.databind.JsonNode v) {
        return v.isMissingNode() || v.isNull() || (v.isBoolean() && !v.booleanValue());
    }

    private static DataSet limit(DataSet ds, Integer n) {
        if (n == null || n >= ds.numExamples()) {
            return ds;
        }
        return new DataSet(ds.getFeatures().get(NDArrayIndex.interval(0, n)).dup(), ds.getLabels().get(NDArrayIndex.interval(0, n)).dup());
    }

    /** Writes resolved-config.yaml and provenance.json into the run directory (atomically; kept as they are on resume). */
    static void provenance(Path out, Path configFile, RunConfig c, RunData data, boolean resume) throws IOException {
        provenance(out, configFile, c, c.seed(), data, resume);
    }

    /**
     * Writes {@code resolved} (the validated configuration: a run or an experiment) as
     * resolved-config.yaml and the provenance (versions, git revision, config, seed, data) as
     * provenance.json, atomically; returns the provenance. On {@code resume} the files of the run's
     * start are kept (the configuration was checked equal by {@link #outProblem}) and the stored
     * provenance is returned.
     */
    @SuppressWarnings("unchecked")
    static Map<String, Object> provenance(Path out, Path configFile, Object resolved, long seed, RunData data, boolean resume)
            throws IOException {
        Files.createDirectories(out);
        Path stored = out.resolve("provenance.json");
        if (resume && Files.isRegularFile(stored) && Files.isRegularFile(out.resolve("resolved-config.yaml"))) {
            return JSON.readValue(stored.toFile(), Map.class);
        }
        AtomicFiles.write(out.resolve("resolved-config.yaml"), YAML.writeValueAsBytes(resolved));
        Map<String, Object> p = new LinkedHashMap<>(Provenance.describe(Path.of(".")));
        p.put("config", configFile.toString());
        p.put("seed", seed);
        p.put("data.source", data.source().toString());
        p.put("data.location", data.location());
        p.put("data.train", data.train().numExamples());
        p.put("data.validation", data.selectsOnTest() ? "the test set (validationFraction 0)" : data.validation().numExamples());
        p.put("data.test", data.test().numExamples());
        AtomicFiles.write(out.resolve("provenance.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(p));
        return p;
    }

    /** Saves a network (with updater state) as a DL4J zip, atomically. */
    static void writeNetwork(org.deeplearning4j.nn.multilayer.MultiLayerNetwork net, Path target) throws IOException {
        AtomicFiles.write(target, out -> org.deeplearning4j.util.ModelSerializer.writeModel(net, out, true));
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

    /** Loads data and the FP32 model, checks that they fit, writes the provenance; {@code dir} was checked by {@link #outProblem}. */
    static Start start(RunConfig c, Path config, Path dir, boolean resume) throws IOException {
        RunData data = data(c);
        Path fp32Path = Path.of(c.fp32());
        org.deeplearning4j.nn.multilayer.MultiLayerNetwork fp32 =
                org.deeplearning4j.util.ModelSerializer.restoreMultiLayerNetwork(fp32Path.toFile(), false);
        checkPlainFp32(fp32Path, fp32, "fp32");
        checkModelFitsData(fp32Path, fp32, data, config);
        provenance(dir, config, c, data, resume);
        io.qat4j.training.Trainer.seed(c.seed());
        return new Start(dir, data, fp32);
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
