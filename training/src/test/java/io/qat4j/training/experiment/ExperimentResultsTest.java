package io.qat4j.training.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.training.config.ExperimentConfig;
import io.qat4j.training.config.RunConfig;

/**
 * Results files: those of qat4j before typed results (the checked-in quickstart and full
 * Fashion-MNIST experiments, copied under src/test/resources/legacy-results) still read, with their
 * statuses, numbers and paths converted; a result whose parts contradict its status is refused.
 */
class ExperimentResultsTest {

    @TempDir
    Path dir;

    /** Copies a legacy experiment's results.json and resolved-config.yaml into {@code dir/name}. */
    private Path legacy(String name) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        for (String f : new String[] {"results.json", "resolved-config.yaml"}) {
            try (InputStream in = getClass().getResourceAsStream("/legacy-results/" + name + "/" + f)) {
                Files.copy(in, d.resolve(f));
            }
        }
        return d.resolve("results.json");
    }

    @Test
    void quickstartResultsOfTheOldFormatRead() throws IOException {
        ExperimentResults r = ExperimentResults.read(legacy("quickstart"));
        assertEquals("quickstart", r.experiment());
        assertEquals(0.886, r.fp32().accuracy());
        assertEquals(828456, r.fp32().parameterBytes());
        assertEquals(48.581952215, r.fp32().trainSeconds());
        assertEquals("fp32/best.zip", r.fp32().model(), "the old file's /tmp/qs17/fp32/best.zip, relative to the output directory");
        assertEquals(StageProvenance.UNKNOWN, r.fp32().provenance().gitRevision());
        assertEquals("164a8f650451ad12109ee6e42d183edbfe916c3a", r.provenance().get("git.revision"), "the invocation's provenance is kept");
        assertEquals(List.of("ptq-w8a8-percentile", "ptq-w8a8-entropy", "ptq-w4a4", "ptq-w3a8", "ptq-mixed-w3", "qat-w4a4-lsq", "qat-ternary-a8"),
                r.variants().stream().map(VariantResult::name).toList());
        for (VariantResult v : r.variants()) {
            assertEquals(VariantResult.Status.EXPORTED, v.status(), v.name());
            assertEquals("variants/" + v.name() + "/model.q4j", v.int8().model());
            assertEquals(1L, v.provenance().seed());
            assertEquals(v.name(), v.provenance().config().name());
            assertEquals(StageProvenance.UNKNOWN, v.provenance().time());
        }
        VariantResult first = r.variants().get(0);
        assertEquals("PTQ percentile", first.method());
        assertEquals(0.885, first.simulatedAccuracy());
        assertEquals(0.885, first.int8().accuracy());
        assertEquals(1.0, first.int8().agreement());
        assertEquals(209443, first.int8().modelBytes());
        assertEquals(1.9661110929999999, first.timing().calibrationSeconds());
        assertNull(first.timing().trainSeconds());
        assertEquals(new VariantResult.TargetCheck("<= 0.5 pp below fp32", true), first.target());
        assertEquals(Map.of("conv1", 8, "conv2", 8, "fc1", 8, "out", 8), first.quantization().layerBits());
        assertEquals(new VariantResult.TargetCheck(">= 0.0 pp above ptq-w3a8", false), r.variants().get(4).target());
        assertTrue(r.variants().get(4).quantization().sensitivity().containsKey("conv1"));
        assertTrue(r.variants().get(5).timing().trainSeconds() > 0);
        assertTrue(r.variants().get(5).provenance().config().isQat());
    }

    @Test
    void aVariantWithALayerInFloatReadsAsNotExportable() throws IOException {
        ExperimentResults r = ExperimentResults.read(legacy("fashion-mnist"));
        assertEquals(23, r.variants().size());
        VariantResult partial = r.variants().stream().filter(v -> v.name().equals("ptq-w2a8-partial")).findFirst().orElseThrow();
        assertEquals(VariantResult.Status.NOT_EXPORTABLE, partial.status());
        assertEquals("PTQ percentile, 1 most sensitive in float", partial.method());
        assertEquals(List.of("conv1"), List.copyOf(partial.quantization().keptInFloat().keySet()));
        assertEquals(0.8733, partial.simulatedAccuracy());
        assertEquals(0.8733, partial.accuracy());
        assertNull(partial.int8());
        assertEquals(22, r.variants().stream().filter(v -> v.status() == VariantResult.Status.EXPORTED).count());
        assertEquals("fp32/best.zip", r.fp32().model(), "was /work/main/results/fashion-mnist/fp32/best.zip");
    }

    @Test
    void typedResultsRoundTripThroughJson() throws IOException {
        ExperimentResults old = ExperimentResults.read(legacy("quickstart"));
        Path out = Files.createDirectories(dir.resolve("new"));
        old.write(out);
        String json = Files.readString(out.resolve(ExperimentResults.FILE));
        assertTrue(json.contains("\"status\" : \"EXPORTED\"") && !json.contains("\"ok\""), json);
        ExperimentResults again = ExperimentResults.read(out.resolve(ExperimentResults.FILE));
        assertEquals(old.fp32(), again.fp32());
        for (int i = 0; i < old.variants().size(); i++) {
            VariantResult a = old.variants().get(i);
            VariantResult b = again.variants().get(i);
            // QuantPlan.Sensitivity holds a double[]: compare the rest of the record part by part
            assertEquals(List.of(a.name(), a.method(), a.status(), a.int8(), a.timing(), a.provenance()),
                    List.of(b.name(), b.method(), b.status(), b.int8(), b.timing(), b.provenance()));
            assertEquals(a.target(), b.target());
            assertEquals(a.quantization().layerBits(), b.quantization().layerBits());
            assertEquals(a.quantization().passes(), b.quantization().passes());
        }
    }

    @Test
    void aResultWhosePartsContradictItsStatusIsRefused() {
        StageProvenance<ExperimentConfig.Variant> p = StageProvenance.legacy(1, ExperimentConfig.Variant.postTraining("v",
                RunConfig.Ptq.builder().build()));
        VariantResult.Timing t = new VariantResult.Timing(null, null, 1.0);
        String failedWithAccuracy = assertThrows(IllegalArgumentException.class,
                () -> new VariantResult("v", "PTQ", VariantResult.Status.FAILED, "boom", null, 0.5, null, t, null, p)).getMessage();
        assertTrue(failedWithAccuracy.contains("variant v (FAILED)"), failedWithAccuracy);
        assertThrows(IllegalArgumentException.class,
                () -> new VariantResult("v", "PTQ", VariantResult.Status.FAILED, null, null, null, null, t, null, p));
        VariantResult.Quantization q = new VariantResult.Quantization("8", "8", Map.of("a", 8), null, List.of(), null, "variants/v/plan.json");
        String exportedWithoutModel = assertThrows(IllegalArgumentException.class,
                () -> new VariantResult("v", "PTQ", VariantResult.Status.EXPORTED, null, q, 0.5, null, t, null, p)).getMessage();
        assertTrue(exportedWithoutModel.contains("int8"), exportedWithoutModel);
        assertThrows(IllegalArgumentException.class,
                () -> new VariantResult("v", "PTQ", VariantResult.Status.NOT_EXPORTABLE, null, q, 0.5, null, t, null, p),
                "not exportable names the layers kept in float");
        VariantResult failed = VariantResult.failed("v", "PTQ", "IOException: disk full", 2.0, p);
        assertEquals(VariantResult.Status.FAILED, failed.status());
        assertNull(failed.accuracy());
    }

    @Test
    void pathsInsideTheOutputDirectoryAreWrittenRelative() {
        Path out = dir.resolve("run");
        assertEquals("variants/a/model.q4j", ExperimentResults.relative(out, out.resolve("variants/a/model.q4j")));
        assertEquals("models/fp32.zip", ExperimentResults.relative(out, Path.of("models/fp32.zip")), "outside: as given");
    }
}
