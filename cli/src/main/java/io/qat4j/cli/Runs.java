package io.qat4j.cli;

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
import io.qat4j.datasets.ImageFolderDataSets;
import io.qat4j.datasets.ImageFolderException;
import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelInput;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.Networks;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.Provenance;
import io.qat4j.training.config.RunConfig;

/** What the run commands share: data loading by config, and the provenance files of a run. */
final class Runs {

    static final ObjectMapper JSON = new ObjectMapper();
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private Runs() {
    }

    /**
     * Training, validation (for model selection) and test data of a run; {@code classesFromLabels}:
     * the class count is the largest label + 1 of the files (IDX), where CSV files and image folders
     * declare their classes (data.csv.classes, the class folders).
     */
    record RunData(String source, String location, DataSet train, DataSet validation, DataSet test, boolean classesFromLabels) {
        /** True when model selection uses the test set (validationFraction 0). */
        boolean selectsOnTest() {
            return validation == test;
        }
    }

    static RunData data(RunConfig c) throws IOException {
        return data(c.data(), c.seed(), null);
    }

    /**
     * The data of {@code d}; {@code seed} shuffles the validation split; {@code model} (null when there
     * is none yet) gives the size image folders are read at when {@code data.images.shape} does not
     * (and must agree with it when both do). Checked right after loading: training and test examples
     * of one shape and class count ({@link BadInputException} naming both files), and CSV labels that
     * use every one of {@code data.csv.classes}.
     */
    static RunData data(RunConfig.Data d, long seed, ModelInput model) throws IOException {
        FashionMnist.Located all;
        String trainFile;
        String testFile;
        boolean fromLabels = false;
        if (d.images() != null) {
            int[] shape = imageShape(d.images(), model);
            Path trainDir = Path.of(d.images().train());
            Path testDir = Path.of(d.images().test());
            DataSet imagesTrain;
            DataSet imagesTest;
            try {
                java.util.List<String> classes = ImageFolderDataSets.classes(trainDir);
                imagesTrain = ImageFolderDataSets.read(trainDir, classes, shape[0], shape[1], shape[2]);
                imagesTest = ImageFolderDataSets.read(testDir, classes, shape[0], shape[1], shape[2]);
            } catch (ImageFolderException e) {
                throw new BadInputException("data.images: " + e.getMessage());
            }
            all = new FashionMnist.Located(null, "image folders " + trainDir + ", " + testDir, imagesTrain, imagesTest);
            trainFile = trainDir.toString();
            testFile = testDir.toString();
        } else if (d.csv() != null) {
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
            fromLabels = true;
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
        String source = all.source() != null ? all.source().name() : d.images() != null ? "IMAGES" : "CSV";
        if (d.source().equals("full") && all.source() == FashionMnist.Source.BUNDLED_SUBSET) {
            throw new IOException("data.source is 'full' but the full Fashion-MNIST was not found: install the Debian package "
                    + "dataset-fashion-mnist (files in " + FashionMnist.DEBIAN_DIR + "), set QAT4J_DATA to a directory with the four IDX "
                    + "files, or set data.dir");
        }
        DataSet train = limit(all.train(), d.trainLimit());
        DataSet test = limit(all.test(), d.testLimit());
        if (d.validationFraction() == 0) {
            return new RunData(source, all.location(), train, test, test, fromLabels);
        }
        DataSet shuffled = train.copy();
        shuffled.shuffle(seed);
        int n = shuffled.numExamples();
        int held = Math.max(1, (int) Math.round(n * d.validationFraction()));
        DataSet kept = new DataSet(shuffled.getFeatures().get(NDArrayIndex.interval(0, n - held)).dup(),
                shuffled.getLabels().get(NDArrayIndex.interval(0, n - held)).dup());
        DataSet validation = new DataSet(shuffled.getFeatures().get(NDArrayIndex.interval(n - held, n)).dup(),
                shuffled.getLabels().get(NDArrayIndex.interval(n - held, n)).dup());
        return new RunData(source, all.location(), kept, validation, test, fromLabels);
    }

    /** [C, H, W] image folders are read at: data.images.shape, else the model's input size; both must agree. */
    private static int[] imageShape(RunConfig.Images images, ModelInput model) throws BadInputException {
        int[] fromModel = model == null ? null : model.imageShape();
        int[] given = images.shape() == null ? null : images.shape().stream().mapToInt(Long::intValue).toArray();
        if (given != null && fromModel != null && !java.util.Arrays.equals(given, fromModel)) {
            throw new BadInputException("data.images.shape is " + java.util.Arrays.toString(given) + " but the model takes "
                    + model.describe() + " (from " + model.from() + "); give data.images.shape " + java.util.Arrays.toString(fromModel)
                    + " or leave it out");
        }
        if (given == null && fromModel == null) {
            throw new BadInputException("data.images: give shape: [channels, height, width], the size the images are read at; the model "
                    + (model == null ? "is sized from the data" : "does not fix its image size (it takes " + model.describe() + ")"));
        }
        if (given == null && fromModel[0] != 1 && fromModel[0] != 3) {
            throw new BadInputException("the model takes " + model.describe() + ", but image folders are read with 1 (grayscale) or 3 (RGB) "
                    + "channels");
        }
        return given != null ? given : fromModel;
    }

    /** "examples of shape [c, h, w] in k classes": what a network must take. */
    static String describe(DataSet ds) {
        long[] shape = ds.getFeatures().shape();
        return "examples of shape " + java.util.Arrays.toString(java.util.Arrays.copyOfRange(shape, 1, shape.length)) + " in "
                + ds.getLabels().size(1) + " classes";
    }

    /**
     * {@code data} as {@code net} (the model {@code model}, in the user's words) takes it, checked: the
     * examples' shape against the network's input ({@link ModelInput#fit}: permuted to NHWC or flattened
     * where the network takes that), one forward pass on a test example, and one output per class: the
     * data's class count (from the labels, or declared) must equal the network's outputs.
     *
     * @param config where the data comes from (a configuration file), for messages
     * @throws BadInputException naming both shapes or both counts
     */
    static RunData fit(RunData data, org.deeplearning4j.nn.api.Model net, ModelInput input, String model, Object config)
            throws BadInputException {
        String what = "the data of " + config + " (" + describe(data.test()) + ")";
        DataSet train;
        DataSet test;
        DataSet validation;
        try {
            train = input.fit(data.train(), what, model);
            test = input.fit(data.test(), what, model);
            validation = data.selectsOnTest() ? test : input.fit(data.validation(), what, model);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage());
        }
        org.nd4j.linalg.api.ndarray.INDArray y;
        try {
            y = Networks.output(net, test.getFeatures().get(NDArrayIndex.interval(0, 1)));
        } catch (RuntimeException e) {
            throw new BadInputException(model + " does not take " + what + ": the network fails on them (" + e.getMessage()
                    + "); it takes " + input.describe() + "; use data of the shape the model was built for");
        }
        long classes = data.test().getLabels().size(1);
        if (y.rank() != 2) {
            throw new BadInputException(model + " gives outputs of shape " + java.util.Arrays.toString(y.shape()) + " per batch; qat4j "
                    + "takes classifiers with one output per class ([N, classes])");
        }
        long outputs = y.size(1);
        if (outputs != classes) {
            throw new BadInputException(model + " has " + outputs + " outputs but " + what + " has " + classes + " classes"
                    + (data.classesFromLabels() ? " (its largest label is " + (classes - 1) + ")" : "")
                    + "; use the data the model was trained for, or a model with one output per class");
        }
        return new RunData(data.source(), data.location(), train, validation, test, data.classesFromLabels());
    }

    /** The model at {@code file} ({@link ModelLoader#load}); a file it cannot use is bad input named after the config {@code key}. */
    static LoadedModel loadModel(Path file, String key) throws BadInputException {
        try {
            return ModelLoader.load(file);
        } catch (io.qat4j.training.ModelFileException e) {
            throw new BadInputException(key + ": " + e.getMessage());
        }
    }

    /**
     * An FP32 model to quantize must be a plain DL4J network: qat4j's quantized layers in it mean a QAT
     * model or the checkpoint of an FP32 run (which keeps the training form), which PTQ cannot take.
     */
    static void checkPlainFp32(Path model, org.deeplearning4j.nn.api.Model net, String key) throws BadInputException {
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
    static void writeNetwork(org.deeplearning4j.nn.api.Model net, Path target) throws IOException {
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

    /**
     * What a quantization command starts from: output directory, data (provenance written, fitted to
     * the model), seeded, FP32 model loaded (a DL4J zip of either kind or a Keras file).
     */
    record Start(Path dir, RunData data, LoadedModel fp32) {
    }

    /** Loads the FP32 model and its data, checks that they fit, writes the provenance; {@code dir} was checked by {@link #outProblem}. */
    static Start start(RunConfig c, Path config, Path dir, boolean resume) throws IOException {
        Path fp32Path = Path.of(c.fp32());
        LoadedModel fp32 = loadModel(fp32Path, "fp32");
        checkPlainFp32(fp32Path, fp32.network(), "fp32");
        RunData data = fit(data(c.data(), c.seed(), fp32.input()), fp32.network(), fp32.input(), "fp32 model " + fp32.describe(), config);
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
