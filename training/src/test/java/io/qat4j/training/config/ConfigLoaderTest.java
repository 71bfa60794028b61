package io.qat4j.training.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.training.TrainSpec;

class ConfigLoaderTest {

    @TempDir
    Path dir;

    /** The repository's configs/ directory (tests run in training/). */
    static Path configsDir() {
        Path p = Path.of("..", "configs");
        return Files.isDirectory(p) ? p : Path.of("configs");
    }

    @Test
    void everyShippedConfigParses() throws IOException, ConfigException {
        List<Path> files;
        try (Stream<Path> s = Files.list(configsDir())) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertTrue(files.size() >= 6, "configs found: " + files);
        for (Path f : files) {
            if (Files.readString(f).contains("\nvariants:")) {
                ExperimentConfig e = ConfigLoader.load(f, ExperimentConfig.class);
                assertEquals(f.getFileName().toString().replace(".yaml", ""), e.name(), "name matches the file name: " + f);
                continue;
            }
            RunConfig c = ConfigLoader.load(f);
            assertEquals(f.getFileName().toString().replace(".yaml", ""), c.name(), "name matches the file name: " + f);
            if (c.train() != null) {
                c.train().toSpec(c.seed());
            }
            if (c.ptq() != null) {
                c.ptq().recipe();
            }
            if (c.isQat()) {
                c.quantization().settings();
            }
        }
    }

    private Path write(String yaml) throws IOException {
        Path f = dir.resolve("c.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    private String error(String yaml) throws IOException {
        Path f = write(yaml);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(f));
        assertTrue(e.getMessage().startsWith(f.toString()), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void defaultsAndTypes() throws IOException, ConfigException {
        RunConfig c = ConfigLoader.load(write("name: x\ntrain: {epochs: 2, learningRate: 0.01}\n"));
        assertEquals(1L, c.seed());
        assertEquals(io.qat4j.datasets.FashionMnist.Search.AUTO, c.data().source());
        assertEquals(io.qat4j.training.Architecture.REFERENCE_CNN, c.model().architecture());
        assertEquals(64, c.train().batchSize());
        assertEquals(TrainSpec.Schedule.CONSTANT, c.train().toSpec(1).schedule());
        assertFalse(c.isQat());
        assertNull(c.quantization());
        RunConfig q = ConfigLoader.load(write("name: q\nfp32: a.zip\nquantization: {weights: {mode: TERNARY}, inputs: {mode: PACT, bits: 4}}\n"
                + "train: {epochs: 1, learningRate: 0.001}\n"));
        assertEquals(WeightQuantMode.TERNARY, q.quantization().weights().mode());
        assertEquals(InputQuantMode.PACT, q.quantization().inputs().mode());
        assertTrue(q.quantization().weights().perChannel());
    }

    @Test
    void anExperimentConfigWhereARunConfigIsExpectedIsNamedAsSuchWithTheCommandThatRunsIt() throws IOException {
        Path quickstart = configsDir().resolve("quickstart.yaml");
        int variantsLine = Files.readAllLines(quickstart).indexOf("variants:") + 1;
        String m = assertThrows(ConfigException.class, () -> ConfigLoader.load(quickstart)).getMessage();
        assertTrue(m.startsWith(quickstart + ":" + variantsLine + ": this is an experiment configuration"), m);
        assertTrue(m.contains("not a run configuration") && m.contains("`qat4j experiment " + quickstart + "`"), m);
        assertFalse(m.contains("Cannot deserialize") || m.contains("java.lang"), "no Jackson words: " + m);
        // and the reverse: a run configuration given to `qat4j experiment` names the command that runs it
        Path ptq = configsDir().resolve("ptq-int8.yaml");
        String r = assertThrows(ConfigException.class, () -> ConfigLoader.load(ptq, ExperimentConfig.class)).getMessage();
        assertTrue(r.contains("this is a run configuration") && r.contains("not an experiment configuration")
                && r.contains("`qat4j ptq " + ptq + "`") && r.contains("variants"), r);
        Path fp32 = configsDir().resolve("fp32-bundled.yaml");
        String t = assertThrows(ConfigException.class, () -> ConfigLoader.load(fp32, ExperimentConfig.class)).getMessage();
        assertTrue(t.contains("`qat4j train " + fp32 + "`"), t);
    }

    @Test
    void aMisspelledKeyGetsDidYouMeanAtItsLine() throws IOException {
        String epoch = error("name: x\ntrain:\n  epoch: 2\n  learningRate: 0.01\n");
        assertTrue(epoch.contains("c.yaml:3: 'train.epoch' is not a key qat4j knows; did you mean 'epochs'?"), epoch);
        assertFalse(epoch.contains("creator property"), "no Jackson words: " + epoch);
        String unknown = error("name: x\ntrain:\n  epochs: 2\n  learningRate: 0.01\n  shedule: cosine\n");
        assertTrue(unknown.contains("c.yaml:5:") && unknown.contains("unknown key 'train.shedule'; did you mean 'schedule'?"), unknown);
        String far = error("name: x\ntrain: {learningRate: 0.01, rounds: 3}\n");
        assertTrue(far.contains("c.yaml:2: 'train' is missing its required key 'epochs'; add it under 'train'"), far);
        Path f = write("name: e\nfp32: {train: {epochs: 1, learningRate: 0.01}}\nvariants:\n  - name: a\n    ptq: {weightBits: 8}\n"
                + "  - name: b\n    quantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: LSQ, bits: 4}}\n"
                + "    train: {epoch: 1, learningRate: 0.001}\n");
        String variant = assertThrows(ConfigException.class, () -> ConfigLoader.load(f, ExperimentConfig.class)).getMessage();
        assertTrue(variant.contains("c.yaml:8: 'variants.[1].train.epoch' is not a key qat4j knows; did you mean 'epochs'?"), variant);
    }

    @Test
    void aValueOfTheWrongKindSaysWhatKindTheKeyTakes() throws IOException {
        String text = error("name: x\ntrain:\n  epochs: two\n  learningRate: 0.01\n");
        assertTrue(text.contains("c.yaml:3: key 'train.epochs' must be a whole number, got the text 'two'"), text);
        String mapping = error("name: x\nfp32: {train: {epochs: 1}}\nptq: {weightBits: 8}\n");
        assertTrue(mapping.contains("c.yaml:2: key 'fp32' must be text, got a mapping (with train)"), mapping);
        String list = error("name: x\ntrain: [1, 2]\n");
        assertTrue(list.contains("c.yaml:2: key 'train' must be a mapping") && list.contains("got a list of 2"), list);
        String range = error("name: x\ntrain: {epochs: 2000000000000, learningRate: 0.1}\n");
        assertTrue(range.contains("c.yaml:2: key 'train.epochs'") && range.contains("out of range"), "the right kind, a bad value: " + range);
        String second = error("name: x\ntrain: {epochs: 2, learningRate: 0.1}\n---\nfoo: 1\n");
        assertTrue(second.contains("c.yaml:4: more YAML after the configuration"), second);
    }

    @Test
    void nearestNameAllowsTwoEditsAndSwaps() {
        assertEquals("epochs", ConfigMistakes.nearest("epoch", List.of("batchSize", "epochs", "learningRate")));
        assertEquals("learningRate", ConfigMistakes.nearest("learningrate", List.of("epochs", "learningRate")));
        assertEquals("schedule", ConfigMistakes.nearest("shceduel", List.of("schedule", "stepEvery")));
        assertNull(ConfigMistakes.nearest("rounds", List.of("epochs", "batchSize")));
        assertNull(ConfigMistakes.nearest("bit", List.of("bits8")), "short names allow one edit");
        assertEquals(1, ConfigMistakes.editDistance("ab", "ba"));
        assertEquals(3, ConfigMistakes.editDistance("kitten", "sitting"));
    }

    @Test
    void unknownKeysWrongTypesAndBadValuesNameFileLineAndKey() throws IOException {
        String unknown = error("name: x\ntrain:\n  epochs: 2\n  learningRate: 0.01\n  epoks: 3\n");
        assertTrue(unknown.contains(":5:") && unknown.contains("train.epoks") && unknown.contains("epochs"), unknown);
        String type = error("name: x\ntrain:\n  epochs: two\n  learningRate: 0.01\n");
        assertTrue(type.contains(":3:") && type.contains("train.epochs"), type);
        String missing = error("name: x\n");
        assertTrue(missing.contains("train"), missing);
        String value = error("name: x\ntrain: {epochs: 0, learningRate: 0.01}\n");
        assertTrue(value.contains("epochs must be >= 1"), value);
        String mode = error("name: x\nfp32: a.zip\nquantization: {weights: {mode: SIXBIT}, inputs: {mode: LSQ}}\ntrain: {epochs: 1, learningRate: 1}\n");
        assertTrue(mode.contains("quantization.weights.mode") && mode.contains("SIXBIT"), mode);
        String kd = error("name: x\ndistillation: {weight: 0.5}\ntrain: {epochs: 1, learningRate: 1}\n");
        assertTrue(kd.contains("distillation needs a QAT run"), kd);
        String half = error("name: x\nfp32: a.zip\ntrain: {epochs: 1, learningRate: 1}\n");
        assertTrue(half.contains("'quantization'") && half.contains("'ptq'"), half);
        String bits = error("name: x\nfp32: a.zip\nquantization: {weights: {mode: LSQ, bits: 1}, inputs: {mode: LSQ}}\ntrain: {epochs: 1, learningRate: 1}\n");
        assertTrue(bits.contains("weightBits"), bits);
        String cal = error("name: x\nfp32: a.zip\nptq:\n  calibration: kl\n");
        assertTrue(cal.contains("ptq.calibration") && cal.contains("kl") && cal.contains("entropy"), cal);
        String avg = error("name: x\nfp32: a.zip\nptq: {averageBits: 1.5}\n");
        assertTrue(avg.contains("ptq.averageBits") && avg.contains("smallest candidate"), avg);
        String firstLast = error("name: x\nfp32: a.zip\nptq: {firstLastBits: 9}\n");
        assertTrue(firstLast.contains("ptq.firstLastBits") && firstLast.contains("9"), firstLast);
        String both = error("name: x\nfp32: a.zip\nptq: {firstLastBits: 8, averageBits: 3.0}\n");
        assertTrue(both.contains("firstLastBits") && both.contains("averageBits") && both.contains("exclude"), both);
        String mismatch = error("name: x\nfp32: a.zip\nptq: {weightBits: 4}\nquantization: {weights: {mode: LSQ, bits: 8}, inputs: {mode: LSQ}}\n"
                + "train: {epochs: 1, learningRate: 1}\n");
        assertTrue(mismatch.contains("ptq.weightBits"), mismatch);
        String noTrain = error("name: x\n");
        assertTrue(noTrain.contains("'train' is missing"), noTrain);
        ConfigException none = assertThrows(ConfigException.class, () -> ConfigLoader.load(dir.resolve("nope.yaml")));
        assertTrue(none.getMessage().contains("no such configuration file"), none.getMessage());
    }

    @Test
    void adaRoundSectionHasDefaultsAndNamesItsBadValues() throws IOException, ConfigException {
        RunConfig c = ConfigLoader.load(write("name: x\nfp32: a.zip\nptq: {weightBits: 3, adaRound: {iterations: 200}}\n"));
        io.qat4j.ptq.AdaRound.Settings a = c.ptq().recipe().adaRound();
        assertEquals(200, a.iterations());
        assertEquals(0.01, a.regularization());
        assertEquals(256, c.ptq().keptSamples(), "the calibration keeps AdaRound's samples");
        assertNull(ConfigLoader.load(write("name: x\nfp32: a.zip\nptq: {weightBits: 3}\n")).ptq().recipe().adaRound());
        String bad = error("name: x\nfp32: a.zip\nptq:\n  weightBits: 3\n  adaRound: {iterations: 0}\n");
        assertTrue(bad.contains("ptq.adaRound.iterations") && bad.contains(">= 1"), bad);
        String unknown = error("name: x\nfp32: a.zip\nptq:\n  adaRound: {iteration: 10}\n");
        assertTrue(unknown.contains("ptq.adaRound.iteration") && unknown.contains("iterations"), unknown);
    }

    @Test
    void aKeyGivenTwiceIsAnErrorNamingFileLineAndKey() throws IOException {
        String top = error("name: x\ntrain: {epochs: 2, learningRate: 0.01}\nseed: 1\nseed: 2\n");
        assertTrue(top.contains("c.yaml:4:") && top.contains("key 'seed' is given twice"), top);
        String nested = error("name: x\ntrain:\n  epochs: 2\n  learningRate: 0.01\n  epochs: 20\n");
        assertTrue(nested.contains("c.yaml:5:") && nested.contains("key 'train.epochs' is given twice"), nested);
        String flow = error("name: x\nfp32: a.zip\nquantization: {weights: {mode: LSQ, bits: 4, bits: 8}, inputs: {mode: LSQ}}\n"
                + "train: {epochs: 1, learningRate: 1}\n");
        assertTrue(flow.contains("c.yaml:3:") && flow.contains("'quantization.weights.bits' is given twice"), flow);
        Path experiment = write("name: e\nfp32: {model: m.zip}\nvariants:\n  - name: a\n    ptq: {weightBits: 4}\n    ptq: {weightBits: 8}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(experiment, ExperimentConfig.class));
        assertTrue(e.getMessage().contains("c.yaml:6:") && e.getMessage().contains("'variants.[0].ptq' is given twice"), e.getMessage());
    }

    @Test
    void qatSettingsTheInt8ExportRefusesAreRefusedAtLoad() throws IOException {
        for (String q : new String[] {"{weights: {mode: LSQ, bits: 12}, inputs: {mode: LSQ}}", "{weights: {mode: FIXED, bits: 9}, inputs: {mode: LSQ}}"}) {
            String m = error("name: x\nfp32: a.zip\nquantization: " + q + "\ntrain: {epochs: 1, learningRate: 1}\n");
            assertTrue(m.contains("c.yaml:3") && m.contains("-bit weights do not fit the int8 runtime (uniform weights take 2..8 bits)")
                    && m.contains("before training"), m);
        }
        String inputs = error("name: x\nfp32: a.zip\nquantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: PACT, bits: 16}}\n"
                + "train: {epochs: 1, learningRate: 1}\n");
        assertTrue(inputs.contains("16-bit inputs do not fit the int8 runtime (inputs take 1..8 bits)"), inputs);
        String offset = error("name: x\nfp32: a.zip\nquantization: {weights: {mode: LSQ}, inputs: {mode: LSQ_PLUS}}\n"
                + "train: {epochs: 1, learningRate: 1}\n");
        assertTrue(offset.contains("LSQ_PLUS inputs have a real-valued offset"), offset);
        String weights = error("name: x\nfp32: a.zip\nquantization: {weights: {mode: LSQ_PLUS, bits: 4}, inputs: {mode: LSQ}}\n"
                + "train: {epochs: 1, learningRate: 1}\n");
        assertTrue(weights.contains("weight mode LSQ_PLUS cannot be exported"), weights);
        // a signed first-layer input needs >= 2 bits (issue 14 #5); signed PACT ([-alpha, alpha]) is allowed
        String signedOneBit = error("name: x\nfp32: a.zip\nquantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: PACT, bits: 1}, "
                + "firstLayerSigned: true}\ntrain: {epochs: 1, learningRate: 1}\n");
        assertTrue(signedOneBit.contains("firstLayerSigned") && signedOneBit.contains("inputBits >= 2"), signedOneBit);
        Path variant = write("name: e\nfp32: {model: m.zip}\nvariants:\n  - name: a\n"
                + "    quantization: {weights: {mode: LSQ, bits: 10}, inputs: {mode: LSQ}}\n    train: {epochs: 1, learningRate: 0.001}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(variant, ExperimentConfig.class));
        assertTrue(e.getMessage().contains("c.yaml:5") && e.getMessage().contains("variants.[0].quantization")
                && e.getMessage().contains("10-bit weights"), e.getMessage());
        // the exporter's own range still loads: 8-bit weights and inputs, 1-bit PACT inputs, binary weights
        for (String q : new String[] {"{weights: {mode: LSQ, bits: 8}, inputs: {mode: FIXED, bits: 8}}",
            "{weights: {mode: BINARY}, inputs: {mode: PACT, bits: 1}}"}) {
            assertDoesNotThrow(() -> ConfigLoader.load(write("name: x\nfp32: a.zip\nquantization: " + q
                    + "\ntrain: {epochs: 1, learningRate: 1}\n")), q);
        }
    }

    @Test
    void csvClassesAndTheDivergenceFactorAreBounded() throws IOException {
        String classes = error("name: x\ndata:\n  csv: {train: a.csv, test: b.csv, classes: 2000000000, shape: [1, 8, 8]}\n"
                + "train: {epochs: 1, learningRate: 1}\n");
        assertTrue(classes.contains("c.yaml:3") && classes.contains("data.csv.classes must be 2..65536") && classes.contains("2000000000"),
                classes);
        String factor = error("name: x\ntrain: {epochs: 1, learningRate: 1, divergenceFactor: 0.5}\n");
        assertTrue(factor.contains("train.divergenceFactor must be > 1") && factor.contains("0.5"), factor);
    }

    @Test
    void choicesReadInAnyCaseWithDashOrUnderscore() throws IOException, ConfigException {
        RunConfig t = ConfigLoader.load(write("name: x\ndata: {source: Bundled}\nmodel: {architecture: Reference_CNN}\n"
                + "train: {epochs: 1, learningRate: 0.01, schedule: COSINE}\n"));
        assertEquals(io.qat4j.datasets.FashionMnist.Search.BUNDLED, t.data().source());
        assertEquals(io.qat4j.training.Architecture.REFERENCE_CNN, t.model().architecture());
        assertEquals(TrainSpec.Schedule.COSINE, t.train().schedule());
        for (String[] spelling : new String[][] {{"resnet50", "RESNET50"}, {"ResNet50", "RESNET50"}, {"reference-cnn", "REFERENCE_CNN"},
            {"REFERENCE-CNN", "REFERENCE_CNN"}}) {
            RunConfig m = ConfigLoader.load(write("name: x\nmodel: {architecture: " + spelling[0] + "}\ntrain: {epochs: 1, learningRate: 1}\n"));
            assertEquals(spelling[1], m.model().architecture().name(), spelling[0]);
        }
        RunConfig p = ConfigLoader.load(write("name: x\nfp32: a.zip\nptq: {weightQuantizer: Binary, weightRange: MSE, calibration: Moving-Average, "
                + "allocation: GREEDY, metric: Mse}\n"));
        assertEquals(io.qat4j.ptq.QuantPlan.WeightQuantizer.BINARY, p.ptq().weightQuantizer());
        assertEquals(io.qat4j.ptq.WeightRangeMethod.MSE, p.ptq().weightRange());
        assertEquals(io.qat4j.ptq.calibration.CalibrationMethod.MOVING_AVERAGE, p.ptq().calibration());
        assertEquals(io.qat4j.ptq.BitAllocator.Method.GREEDY, p.ptq().allocation());
        assertEquals(io.qat4j.ptq.SensitivityAnalysis.Metric.MSE, p.ptq().metric());
        assertEquals(io.qat4j.ptq.calibration.CalibrationMethod.MOVING_AVERAGE,
                ConfigLoader.load(write("name: x\nfp32: a.zip\nptq: {calibration: moving_average}\n")).ptq().calibration());
        RunConfig q = ConfigLoader.load(write("name: x\nfp32: a.zip\nquantization: {weights: {mode: lsq, bits: 4}, inputs: {mode: Pact}}\n"
                + "train: {epochs: 1, learningRate: 1, schedule: Step}\n"));
        assertEquals(WeightQuantMode.LSQ, q.quantization().weights().mode());
        assertEquals(InputQuantMode.PACT, q.quantization().inputs().mode());
        assertEquals(TrainSpec.Schedule.STEP, q.train().toSpec(1).schedule());
    }

    @Test
    void aValueThatIsNoChoiceListsTheChoicesWithFileLineAndKey() throws IOException {
        String[][] cases = {
            // yaml, line, key, the value as the message repeats it, the choices
            {"name: x\ntrain: {epochs: 1, learningRate: 1}\ndata:\n  source: internet\n", "4", "data.source", "'internet'",
                "auto, full, bundled"},
            {"name: x\ntrain: {epochs: 1, learningRate: 1}\nmodel:\n  architecture: nasnet\n", "4", "model.architecture", "'nasnet'",
                "reference-cnn, lenet, simplecnn, alexnet, vgg16, vgg19, resnet50, squeezenet, darknet19, xception"},
            {"name: x\ntrain:\n  epochs: 1\n  learningRate: 1\n  schedule: linear\n", "5", "train.schedule", "'linear'", "constant, cosine, step"},
            {"name: x\nfp32: a.zip\nptq:\n  weightQuantizer: quaternary\n", "4", "ptq.weightQuantizer", "'quaternary'",
                "uniform, binary, ternary"},
            {"name: x\nfp32: a.zip\nptq:\n  weightRange: max\n", "4", "ptq.weightRange", "'max'", "minmax, mse"},
            {"name: x\nfp32: a.zip\nptq:\n  calibration: kl\n", "4", "ptq.calibration", "'kl'",
                "minmax, moving-average, percentile, entropy, mse, aciq"},
            {"name: x\nfp32: a.zip\nptq:\n  allocation: dp\n", "4", "ptq.allocation", "'dp'", "exact, greedy"},
            {"name: x\nfp32: a.zip\nptq:\n  metric: l2\n", "4", "ptq.metric", "'l2'", "kl, mse"},
            {"name: x\nfp32: a.zip\nptq:\n  metric: 2\n", "4", "ptq.metric", "the number 2", "kl, mse"},
            {"name: x\nfp32: a.zip\nptq:\n  metric: [kl]\n", "4", "ptq.metric", "a list", "kl, mse"},
            {"name: x\nfp32: a.zip\ntrain: {epochs: 1, learningRate: 1}\nquantization:\n  weights: {mode: SIXBIT}\n  inputs: {mode: LSQ}\n",
                "5", "quantization.weights.mode", "'SIXBIT'", "none, fixed, lsq, lsq-plus, binary, ternary"},
        };
        for (String[] c : cases) {
            String m = error(c[0]);
            assertTrue(m.contains("c.yaml:" + c[1] + ":") && m.contains("'" + c[2] + "'") && m.contains(c[3] + " is not one of " + c[4])
                    && m.contains("case does not matter"), c[2] + ": " + m);
        }
        Path experiment = write("name: e\nfp32: {model: m.zip}\nvariants:\n  - name: a\n    ptq: {calibration: histogram}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(experiment, ExperimentConfig.class));
        assertTrue(e.getMessage().contains("c.yaml:5") && e.getMessage().contains("variants.[0].ptq.calibration")
                && e.getMessage().contains("'histogram' is not one of minmax, moving-average"), e.getMessage());
    }

    @Test
    void resolvedConfigurationsWriteChoicesInTheirSpellingAndReadBack() throws Exception {
        RunConfig c = ConfigLoader.load(write("name: x\nfp32: a.zip\ndata: {source: BUNDLED}\n"
                + "ptq: {calibration: MOVING_AVERAGE, weightQuantizer: TERNARY, allocation: Greedy}\n"));
        com.fasterxml.jackson.databind.ObjectMapper yaml = new com.fasterxml.jackson.databind.ObjectMapper(
                new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());   // as Provenance writes resolved-config.yaml
        String written = yaml.writeValueAsString(c);
        assertTrue(written.contains("calibration: \"moving-average\"") && written.contains("weightQuantizer: \"ternary\"")
                && written.contains("allocation: \"greedy\"") && written.contains("source: \"bundled\"") && written.contains("metric: \"kl\""),
                written);
        Path f = dir.resolve("resolved-config.yaml");
        Files.writeString(f, written.replace("ptqOnly: true\n", "").replace("qat: false\n", ""));
        assertEquals(c, ConfigLoader.load(f), "the resolved configuration reads back");
        assertEquals(c, yaml.copy().disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .readValue(written, RunConfig.class), "also through a plain mapper, as --resume compares configurations");
    }

    @Test
    void bitWidthsInConfigurationsFollowTheOneRuleAtTheInt8RuntimesLimit() throws IOException, ConfigException {
        for (int b = 2; b <= 8; b++) {
            RunConfig c = ConfigLoader.load(write("name: x\nfp32: a.zip\nptq: {weightBits: " + b + ", inputBits: " + b + ", candidateBits: [" + b
                    + "], firstLastBits: " + b + "}\n"));
            assertEquals(b, c.ptq().recipe().weightBits());
        }
        assertEquals(1, ConfigLoader.load(write("name: x\nfp32: a.zip\nptq: {inputBits: 1}\n")).ptq().inputBits());
        String[][] cases = {
            {"weightBits: 9", "ptq.weightBits must be 2..8 for uniform weights (the INT8 runtime's range), got 9"},
            {"weightBits: 1", "ptq.weightBits must be 2..8"},
            {"inputBits: 9", "ptq.inputBits must be 1..8 (the INT8 runtime's range), got 9"},
            {"inputBits: 0", "ptq.inputBits must be 1..8"},
            {"candidateBits: [2, 16]", "ptq.candidateBits (each) must be 2..8"},
            {"firstLastBits: 9", "ptq.firstLastBits (uniform weights and inputs of the first and last layers) must be 2..8"},
            {"firstLastBits: 1", "ptq.firstLastBits (uniform weights and inputs of the first and last layers) must be 2..8"},
            {"averageBits: 9.0", "ptq.averageBits must be in [1, 8]"},
            {"perChannelSensitivityBits: 17", "ptq.perChannelSensitivityBits (0 = skip) must be 2..16"},
        };
        for (String[] c : cases) {
            String m = error("name: x\nfp32: a.zip\nptq: {" + c[0] + "}\n");
            assertTrue(m.contains("c.yaml:3") && m.contains(c[1]), c[0] + ": " + m);
        }
    }

    @Test
    void theReferenceCnnOptionsAugmentationAndLabelSmoothingAreReadWithDefaultsThatChangeNothing() throws Exception {
        RunConfig plain = ConfigLoader.load(write("name: x\ntrain: {epochs: 2, learningRate: 0.01}\n"));
        assertEquals(io.qat4j.layers.ReferenceCnn.Options.DEFAULT, plain.model().referenceCnn().options());
        TrainSpec spec = plain.train().toSpec(3);
        assertEquals(io.qat4j.training.Augmentation.NONE, spec.augmentation());
        assertEquals(0.0, spec.labelSmoothing());
        assertEquals(new TrainSpec(2, 64, 0.01, TrainSpec.Schedule.CONSTANT, 1, 0.1, 0, 3, -1, -1), spec, "the spec it always was");

        RunConfig c = ConfigLoader.load(write("name: x\nmodel: {referenceCnn: {channels: [32, 64], dense: 256, dropout: 0.25}}\n"
                + "train: {epochs: 2, learningRate: 0.01, augment: {shift: 2, flipHorizontal: true}, labelSmoothing: 0.1}\n"));
        assertEquals(io.qat4j.training.Architecture.REFERENCE_CNN, c.model().architecture());
        assertEquals(new io.qat4j.layers.ReferenceCnn.Options(List.of(32, 64), 256, 0.25), c.model().referenceCnn().options());
        assertEquals(new io.qat4j.training.Augmentation(2, true), c.train().toSpec(1).augmentation());
        assertEquals(0.1, c.train().toSpec(1).labelSmoothing());
        RunConfig partial = ConfigLoader.load(write("name: x\nmodel: {referenceCnn: {dropout: 0.5}}\ntrain: {epochs: 2, learningRate: 0.01, "
                + "augment: {flipHorizontal: true}}\n"));
        assertEquals(new io.qat4j.layers.ReferenceCnn.Options(List.of(16, 32), 128, 0.5), partial.model().referenceCnn().options());
        assertEquals(new io.qat4j.training.Augmentation(0, true), partial.train().toSpec(1).augmentation());

        // the resolved configuration reads back, also into a plain mapper as --resume compares configurations
        com.fasterxml.jackson.databind.ObjectMapper yaml = new com.fasterxml.jackson.databind.ObjectMapper(
                new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());
        String written = yaml.writeValueAsString(c);
        assertTrue(written.contains("channels:") && written.contains("shift: 2") && written.contains("labelSmoothing: 0.1"), written);
        assertEquals(c, ConfigLoader.load(Files.writeString(dir.resolve("resolved.yaml"), written.replace("qat: false\n", "")
                .replace("ptqOnly: false\n", ""))));
        assertEquals(c, yaml.copy().disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .readValue(written, RunConfig.class));

        // an experiment's fp32 stage takes the same section
        ExperimentConfig e = ConfigLoader.load(write("name: e\nfp32:\n  referenceCnn: {channels: [24, 48, 64]}\n"
                + "  train: {epochs: 1, learningRate: 0.01, augment: {shift: 1}, labelSmoothing: 0.05}\nvariants:\n  - name: a\n"
                + "    ptq: {weightBits: 8}\n"), ExperimentConfig.class);
        assertEquals(List.of(24, 48, 64), e.fp32().referenceCnn().options().channels());
        assertEquals(new io.qat4j.training.Augmentation(1, false), e.fp32().train().toSpec(1).augmentation());
        assertEquals(io.qat4j.layers.ReferenceCnn.Options.DEFAULT,
                ConfigLoader.load(write("name: e\nfp32: {train: {epochs: 1, learningRate: 0.01}}\nvariants:\n  - name: a\n    ptq: {}\n"),
                        ExperimentConfig.class).fp32().referenceCnn().options());
    }

    @Test
    void badReferenceCnnAugmentationAndSmoothingValuesNameTheirKeys() throws IOException {
        String[][] cases = {
            {"model: {referenceCnn: {channels: []}}\ntrain: {epochs: 1, learningRate: 0.01}", "referenceCnn.channels must list 1 to 4"},
            {"model: {referenceCnn: {dense: 0}}\ntrain: {epochs: 1, learningRate: 0.01}", "referenceCnn.dense must be 1..65536"},
            {"model: {referenceCnn: {dropout: 1.0}}\ntrain: {epochs: 1, learningRate: 0.01}", "referenceCnn.dropout"},
            {"model: {architecture: lenet, referenceCnn: {dense: 64}}\ntrain: {epochs: 1, learningRate: 0.01}",
                "model.referenceCnn sizes the reference CNN"},
            {"model: {file: m.json, referenceCnn: {dense: 64}}\ntrain: {epochs: 1, learningRate: 0.01}", "instead of model.file"},
            {"train: {epochs: 1, learningRate: 0.01, augment: {shift: 40}}", "train.augment.shift must be 0 (none) to 16"},
            {"train: {epochs: 1, learningRate: 0.01, labelSmoothing: 1.5}", "train.labelSmoothing must be in [0, 1)"},
        };
        for (String[] c : cases) {
            String m = error("name: x\n" + c[0] + "\n");
            assertTrue(m.contains(c[1]), c[0] + ": " + m);
        }
        Path f = write("name: e\nfp32: {model: m.zip, referenceCnn: {dense: 64}}\nvariants:\n  - name: a\n    ptq: {}\n");
        String m = assertThrows(ConfigException.class, () -> ConfigLoader.load(f, ExperimentConfig.class)).getMessage();
        assertTrue(m.contains("fp32.referenceCnn sizes the reference CNN trained here"), m);
    }
}
