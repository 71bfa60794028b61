package io.qat4j.training.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.ptq.LayerDiagnostics;
import io.qat4j.training.LayerAnalysis;
import io.qat4j.training.Provenance;
import io.qat4j.training.config.ExperimentConfig;
import io.qat4j.training.config.RunConfig;

/**
 * The experiment runner's Java API: a two-variant experiment configured in code on the bundled
 * subset, its typed results (status, accuracies, agreement, relative paths, per-variant provenance),
 * {@code results.json} read back into the same results, and a resumed run that reuses every stage
 * with the provenance it was produced with.
 */
class ExperimentTest {

    @TempDir
    Path dir;

    @Test
    void twoVariantsConfiguredInCodeGiveTypedResultsWithTheirOwnProvenance() throws Exception {
        ExperimentConfig.Variant ptq = ExperimentConfig.Variant.postTraining("ptq-w8a8",
                RunConfig.Ptq.builder().weightBits(8).inputBits(8).samples(128).build()).withTarget(ExperimentConfig.Target.maxDrop("fp32", 5.0));
        ExperimentConfig.Variant qat = ExperimentConfig.Variant.quantAware("qat-w4a4",
                new RunConfig.Quantization(new RunConfig.Weights(WeightQuantMode.LSQ, 4, null), new RunConfig.Inputs(InputQuantMode.LSQ, 4), null),
                RunConfig.Train.of(1, 5e-4));
        ExperimentConfig config = new ExperimentConfig("api", 7L, RunConfig.Data.bundled(600, 200),
                ExperimentConfig.Fp32.schedule(RunConfig.Train.of(1, 2e-3)), List.of(ptq, qat));
        Path out = dir.resolve("out");
        StringWriter log = new StringWriter();
        List<ExperimentResults> partial = new ArrayList<>();
        ExperimentResults r = Experiment.of(config, out).log(new PrintWriter(log)).onVariant(partial::add).run();

        assertEquals("api", r.experiment());
        assertEquals(1, partial.size(), "one partial result, after the first of two variants");
        assertEquals(List.of("ptq-w8a8"), partial.get(0).variants().stream().map(VariantResult::name).toList());
        assertEquals(7L, ((Number) r.provenance().get("seed")).longValue());
        assertEquals("(configured in code)", r.provenance().get("config"));

        Fp32Result fp = r.fp32();
        System.out.printf("experiment through the Java API: FP32 %.4f; %s%n", fp.accuracy(), r.variants().stream()
                .map(v -> String.format("%s %s: fake quant %.4f, INT8 runtime %.4f, agreement %.4f", v.name(), v.status(), v.simulatedAccuracy(),
                        v.int8() == null ? Double.NaN : v.int8().accuracy(), v.int8() == null ? Double.NaN : v.int8().agreement()))
                .collect(java.util.stream.Collectors.joining("; ")));
        assertTrue(fp.accuracy() > 0.3 && fp.accuracy() <= 1, "FP32 accuracy " + fp.accuracy() + "\n" + log);
        assertTrue(fp.trainedHere() && fp.trainSeconds() > 0);
        assertEquals("fp32/best.zip", fp.model());
        assertTrue(Files.isRegularFile(out.resolve(fp.model())));
        assertEquals(config.fp32(), fp.provenance().config());

        assertEquals(List.of("ptq-w8a8", "qat-w4a4"), r.variants().stream().map(VariantResult::name).toList());
        String revision = Provenance.describe(Path.of(".")).get("git.revision");
        for (VariantResult v : r.variants()) {
            assertEquals(VariantResult.Status.EXPORTED, v.status(), v.toString());
            assertNull(v.error());
            assertTrue(v.simulatedAccuracy() >= 0 && v.simulatedAccuracy() <= 1, v.toString());
            assertTrue(v.int8().accuracy() >= 0 && v.int8().accuracy() <= 1, v.toString());
            assertTrue(v.int8().agreement() >= 0.9 && v.int8().agreement() <= 1, "INT8 runtime vs fake quant: " + v);
            assertEquals(v.int8().accuracy(), v.accuracy());
            assertEquals("variants/" + v.name() + "/model.q4j", v.int8().model());
            assertEquals("variants/" + v.name() + "/plan.json", v.quantization().plan());
            assertTrue(Files.isRegularFile(out.resolve(v.int8().model())) && Files.isRegularFile(out.resolve(v.quantization().plan())));
            assertTrue(v.int8().modelBytes() == Files.size(out.resolve(v.int8().model())));
            assertTrue(v.quantization().keptInFloat().isEmpty());
            assertEquals(List.of("conv1", "conv2", "fc1", "out"), List.copyOf(v.quantization().layerBits().keySet()));
            assertTrue(v.timing().calibrationSeconds() > 0 && v.timing().totalSeconds() >= v.timing().calibrationSeconds(), v.timing().toString());
            StageProvenance<ExperimentConfig.Variant> p = v.provenance();
            assertEquals(revision, p.gitRevision());
            assertEquals(7L, p.seed());
            assertEquals(Provenance.version(), p.qat4jVersion());
            assertFalse(p.time().startsWith("unknown"), p.time());
        }
        VariantResult w8 = r.variants().get(0);
        assertEquals(ptq, w8.provenance().config());
        assertEquals(8, w8.quantization().layerBits().get("conv2"));
        assertNull(w8.timing().trainSeconds(), "PTQ does not train");
        assertEquals("<= 5.0 pp below fp32", w8.target().target());
        assertEquals(100 * (w8.int8().accuracy() - fp.accuracy()) >= -5.0, w8.target().met());
        VariantResult w4 = r.variants().get(1);
        assertEquals(qat, w4.provenance().config());
        assertEquals(4, w4.quantization().layerBits().get("conv2"));
        assertNotNull(w4.timing().trainSeconds());
        assertNull(w4.target());

        // each variant's per-layer diagnostics, on the test set (this data has no validation split)
        for (VariantResult v : r.variants()) {
            LayerAnalysis a = LayerAnalysis.read(out.resolve("variants/" + v.name()).resolve(LayerAnalysis.JSON_FILE));
            assertEquals("test set (200 samples)", a.samples());
            assertTrue(a.exported());
            assertEquals(List.of("conv1", "conv2", "fc1", "out"), a.report().layers().stream().map(LayerDiagnostics.Layer::name).toList());
            assertEquals(v.simulatedAccuracy(), a.report().quantizedAccuracy(), 1e-9, "the same 200 test samples");
            assertEquals(fp.accuracy(), a.report().floatAccuracy(), 1e-9);
            for (LayerDiagnostics.Layer l : a.report().layers()) {
                assertTrue(l.weightSqnrDb() > (v == w8 ? 30 : 8), l.toString());
                assertTrue(l.accuracyOnlyThis() >= 0 && l.accuracyOnlyThis() <= 1 && l.accuracyAllButThis() >= 0, l.toString());
                if (!l.name().equals("out")) {
                    assertTrue(l.int8() != null && l.int8().meanSteps() < 0.05, "INT8 vs fake quant at " + l);
                }
            }
            String csv = Files.readString(out.resolve("variants/" + v.name()).resolve(LayerAnalysis.CSV_FILE));
            assertEquals(5, csv.split("\r\n").length, csv);
        }

        // results.json holds the same typed results, with no absolute path in it
        String json = Files.readString(out.resolve(ExperimentResults.FILE));
        assertFalse(json.contains(out.toAbsolutePath().toString()), json);
        ExperimentResults read = ExperimentResults.read(out.resolve(ExperimentResults.FILE));
        assertEquals(r.fp32(), read.fp32());
        assertEquals(r.variants(), read.variants());

        // resumed: every stage reused, each with the provenance (time, revision) of the run that produced it
        StringWriter again = new StringWriter();
        ExperimentResults resumed = Experiment.of(config, out).resume(true).log(new PrintWriter(again)).run();
        assertTrue(again.toString().contains("fp32: reused") && again.toString().contains("[2/2] qat-w4a4: reused"), again.toString());
        assertEquals(r.fp32(), resumed.fp32());
        assertEquals(r.variants(), resumed.variants());
    }

    /**
     * The FP32 model every variant starts from, and whose accuracy the report gives, is the one in fp32/best.zip (the epoch
     * of best validation accuracy), in a fresh run as in a resumed one; here the best epoch is not the last.
     */
    @Test
    void theFp32ReferenceIsTheSavedBestEpochNotTheLast() throws Exception {
        ExperimentConfig.Variant ptq = ExperimentConfig.Variant.postTraining("ptq-w8a8",
                RunConfig.Ptq.builder().weightBits(8).inputBits(8).samples(64).build());
        ExperimentConfig config = new ExperimentConfig("best", 3L, RunConfig.Data.bundled(400, 200),
                ExperimentConfig.Fp32.schedule(RunConfig.Train.of(6, 6e-2)), List.of(ptq), new ExperimentConfig.Diagnostics(0, null));
        Path out = dir.resolve("best");
        ExperimentResults r = Experiment.of(config, out).log(new PrintWriter(new StringWriter())).run();
        java.util.List<String> metrics = Files.readAllLines(out.resolve("fp32/metrics.csv"));
        System.out.println("FP32 epochs (epoch,lr,loss,validation accuracy,s): " + metrics.subList(1, metrics.size()));
        // the saved best.zip, loaded into a second experiment on the same data, has the accuracy the first one reported
        ExperimentConfig loaded = new ExperimentConfig("loaded", 3L, RunConfig.Data.bundled(400, 200),
                ExperimentConfig.Fp32.file(out.resolve("fp32/best.zip").toString()), List.of(ptq), new ExperimentConfig.Diagnostics(0, null));
        ExperimentResults l = Experiment.of(loaded, dir.resolve("loaded")).log(new PrintWriter(new StringWriter())).run();
        assertEquals(l.fp32().accuracy(), r.fp32().accuracy(), 1e-12, "the reported FP32 accuracy is best.zip's");
        assertEquals(l.variants().get(0).simulatedAccuracy(), r.variants().get(0).simulatedAccuracy(), 1e-12,
                "the variants quantize best.zip's network");
    }

    /**
     * The FP32 stage trains the widened reference CNN (three blocks, dropout) with shifts, flips and
     * label smoothing, and a PTQ W8A8 variant of it (cross-layer equalization and bias correction on)
     * exports and runs in the INT8 runtime: the model stays quantizable end to end.
     */
    @Test
    void aWidenedReferenceCnnTrainedWithAugmentationIsQuantizedAndExported() throws Exception {
        RunConfig.ReferenceCnnOptions wide = new RunConfig.ReferenceCnnOptions(List.of(8, 16, 16), 32, 0.25);
        RunConfig.Train train = RunConfig.Train.of(1, 2e-3).withRegularization(new RunConfig.Augment(2, true), 0.1);
        ExperimentConfig.Variant ptq = ExperimentConfig.Variant.postTraining("ptq-w8a8",
                RunConfig.Ptq.builder().samples(128).crossLayerEqualization(true).build());
        ExperimentConfig config = new ExperimentConfig("wide", 3L, RunConfig.Data.bundled(600, 200), ExperimentConfig.Fp32.schedule(train, wide),
                List.of(ptq));
        StringWriter log = new StringWriter();
        ExperimentResults r = Experiment.of(config, dir.resolve("wide")).log(new PrintWriter(log)).run();
        assertTrue(log.toString().contains("fp32: training the reference CNN (channels [8, 16, 16], dense 32, dropout 0.25) for 1 epochs"),
                log.toString());
        long params = (1 * 8 * 9 + 8 + 32) + (8 * 16 * 9 + 16 + 64) + (16 * 16 * 9 + 16 + 64) + (3 * 3 * 16 * 32 + 32) + (32 * 10 + 10);
        assertEquals(4 * params, r.fp32().parameterBytes(), "28 -> 14 -> 7 -> 3 after three blocks");
        assertEquals(wide, r.fp32().provenance().config().referenceCnn());
        VariantResult v = r.variants().get(0);
        assertEquals(VariantResult.Status.EXPORTED, v.status(), v.toString() + log);
        assertEquals(List.of("conv1", "conv2", "conv3", "fc1", "out"), List.copyOf(v.quantization().layerBits().keySet()));
        assertTrue(v.int8().agreement() >= 0.95, "INT8 runtime vs fake quant: " + v);
        assertTrue(Math.abs(v.int8().accuracy() - r.fp32().accuracy()) <= 0.05, "W8A8 of the widened CNN: " + v + ", FP32 " + r.fp32().accuracy());
        // the diagnostics compare against the equalized float network the quantizers were calibrated on: with the original
        // network as reference, equalization's per-channel rescaling would count as quantization noise
        LayerAnalysis a = LayerAnalysis.read(dir.resolve("wide/variants/ptq-w8a8").resolve(LayerAnalysis.JSON_FILE));
        for (LayerDiagnostics.Layer l : a.report().layers()) {
            assertTrue(l.inputSqnrDb() > 25, "W8A8 input SQNR of " + l.name() + ": " + l.inputSqnrDb() + " dB");
        }
    }
}

