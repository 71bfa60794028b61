package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.qat4j.training.experiment.ExperimentResults;
import io.qat4j.training.experiment.VariantResult;

/** A tiny experiment end to end: report files and fields, targets, resume. */
class ExperimentCommandTest {

    @TempDir
    Path dir;

    @Test
    void tinyExperimentWritesTheReportAndResumes() throws Exception {
        Path cfg = dir.resolve("tiny.yaml");
        Files.writeString(cfg, """
                name: tiny
                data: {source: bundled, trainLimit: 600, testLimit: 200}
                fp32:
                  train: {epochs: 1, learningRate: 0.002}
                variants:
                  - name: ptq-w8a8
                    ptq: {weightBits: 8, inputBits: 8, samples: 128}
                    target: {vs: fp32, maxDropPp: 5.0}
                  - name: ptq-w3a8
                    ptq: {weightBits: 3, inputBits: 8, samples: 128, weightRange: mse}
                  - name: ptq-mixed-w3
                    ptq: {averageBits: 3.0, candidateBits: [2, 4, 8], samples: 128, sensitivitySamples: 32, weightRange: mse}
                    target: {vs: ptq-w3a8, minGainPp: -100}
                  - name: ptq-partial
                    ptq: {weightBits: 2, inputBits: 8, samples: 128, keepMostSensitive: 1, sensitivitySamples: 32}
                  - name: qat-w4a4
                    quantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: LSQ, bits: 4}}
                    train: {epochs: 1, learningRate: 0.0005}
                  - name: ptq-w3a4-fl8
                    ptq: {weightBits: 3, inputBits: 4, samples: 128, weightRange: mse, firstLastBits: 8}
                """);
        Path out = dir.resolve("out");
        String[] r = run("experiment", cfg.toString(), "--out", out.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        for (String f : new String[] {"report.md", "results.csv", "results.json", "accuracy-vs-size.png", "sensitivity.png", "provenance.json",
            "resolved-config.yaml", "fp32/best.zip", "variants/qat-w4a4/model.q4j", "variants/ptq-mixed-w3/plan.json"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f + "\n" + r[1]);
        }
        ExperimentResults results = ExperimentResults.read(out.resolve("results.json"));
        JsonNode variantsJson = new ObjectMapper().readTree(out.resolve("results.json").toFile()).get("variants");
        assertEquals("fp32/best.zip", results.fp32().model());
        List<VariantResult> variants = results.variants();
        assertEquals(6, variants.size());
        for (VariantResult v : variants) {
            assertEquals(v.name().equals("ptq-partial") ? VariantResult.Status.NOT_EXPORTABLE : VariantResult.Status.EXPORTED, v.status(),
                    v.toString());
            assertTrue(v.simulatedAccuracy() > 0.3, v.toString());
        }
        VariantResult w8 = variants.get(0);
        assertTrue(w8.int8().agreement() >= 0.95, w8.toString());
        assertTrue(w8.target().met());
        assertTrue(w8.int8().sizeRatio() <= 0.26);
        Map<String, String> kept = variants.get(3).quantization().keptInFloat();
        assertEquals(1, kept.size(), "keepMostSensitive: 1 keeps one layer in float: " + variants.get(3));
        assertNull(variants.get(3).int8(), "no integer model with a layer in float");
        assertTrue(variants.get(2).quantization().weights().startsWith("mixed"), variants.get(2).toString());
        assertTrue(variants.get(4).method().contains("from PTQ plan"));
        VariantResult firstLast = variants.get(5);
        assertEquals("3 (first/last 8)", firstLast.quantization().weights());
        assertEquals("4 (first/last 8)", firstLast.quantization().inputs());
        assertEquals(Map.of("conv1", 8, "conv2", 3, "fc1", 3, "out", 8), firstLast.quantization().layerBits());
        assertTrue(firstLast.int8().agreement() >= 0.9, firstLast.toString());
        for (VariantResult v : variants) {
            // each variant's cost on its own: a calibration shared with an earlier variant counts in both, never above the total
            VariantResult.Timing t = v.timing();
            assertTrue(t.calibrationSeconds() + (t.trainSeconds() == null ? 0 : t.trainSeconds()) <= t.totalSeconds(), v.name() + ": " + t);
        }
        assertEquals(1, variants.get(4).int8().epoch(), "model.q4j of the QAT variant holds its last epoch");
        assertEquals(1, variants.get(4).int8().bestEpoch());
        assertNull(variants.get(0).int8().epoch(), "a PTQ variant has no epochs");
        assertTrue(r[1].contains("progress: 1 of 6 variants done, ") && r[1].contains("progress: 6 of 6 variants done, "), r[1]);
        assertTrue(r[1].contains("at least") && r[1].contains("(no QAT variant timed yet)"), "before the QAT variant ran: " + r[1]);
        assertEquals(1, results.invocationSeconds().size());
        String md = Files.readString(out.resolve("report.md"));
        assertTrue(md.contains("| variant | W bits | A bits | method | FP32-sim acc | INT8 runtime acc | agreement |"), md);
        assertTrue(md.contains("| qat-w4a4 | 4 | 4 |") && md.contains("Per-layer sensitivity") && md.contains("git"), md);
        assertTrue(md.contains("| ptq-partial | 2 | 8 | PTQ percentile, 1 most sensitive in float (not exportable: " + kept.keySet()
                + " in float) |"), md);
        String revision = variants.get(0).provenance().shortRevision();
        // the thread count is recorded with every stage and named with its rows: 1 and 2 ND4J threads give different numbers
        int threads = org.nd4j.linalg.factory.Nd4j.getEnvironment().maxMasterThreads();
        assertEquals(threads, variants.get(0).provenance().nd4jThreads());
        assertEquals(threads, results.fp32().provenance().nd4jThreads());
        // (the revision carries " (with uncommitted changes)" when the tests run on an edited working tree)
        assertTrue(md.contains("Rows by the revision and ND4J thread count that produced them")
                && md.matches("(?s).*\n- " + revision + "( \\(with uncommitted changes\\))?, " + threads + " ND4J threads?: fp32, .*"), md);
        String csv = Files.readString(out.resolve("results.csv"));
        assertEquals(8, csv.lines().count(), csv);
        assertTrue(md.contains("model.q4j: epoch 1 (the last), best.zip: epoch 1"), md);
        byte[] png = Files.readAllBytes(out.resolve("accuracy-vs-size.png"));
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);

        // resume: everything finished is reused, same numbers
        String[] again = run("experiment", cfg.toString(), "--out", out.toString(), "--resume");
        assertEquals("0", again[0], again[1] + again[2]);
        assertTrue(again[1].contains("fp32: reused") && again[1].contains("[5/6] qat-w4a4: reused"), again[1]);
        assertEquals(variantsJson, new ObjectMapper().readTree(out.resolve("results.json").toFile()).get("variants"));
        // the experiment's wall time is the first run's and the resume's together, not the resume's alone
        ExperimentResults resumed = ExperimentResults.read(out.resolve("results.json"));
        assertEquals(2, resumed.invocationSeconds().size());
        assertEquals(results.seconds(), resumed.invocationSeconds().get(0), 1e-9);
        assertEquals(resumed.invocationSeconds().get(0) + resumed.invocationSeconds().get(1), resumed.seconds(), 1e-9);
        assertTrue(Files.readString(out.resolve("report.md")).contains(" over 2 invocations ("), "report.md states both");

        // without --resume the same --out is refused before any work: the report and every stage stay as they are
        byte[] report = Files.readAllBytes(out.resolve("report.md"));
        String[] reuse = run("experiment", cfg.toString(), "--out", out.toString());
        assertEquals("2", reuse[0], reuse[1] + reuse[2]);
        assertTrue(reuse[2].contains(out + " already holds files") && reuse[2].contains("--resume") && reuse[2].contains("--force"), reuse[2]);
        assertTrue(java.util.Arrays.equals(report, Files.readAllBytes(out.resolve("report.md"))));
        // --resume with a changed variant is refused (its result would be reused); an added variant is computed
        Path changed = dir.resolve("changed.yaml");
        Files.writeString(changed, Files.readString(cfg).replace("{weightBits: 3, inputBits: 8, samples: 128, weightRange: mse}",
                "{weightBits: 3, inputBits: 8, samples: 128, weightRange: minmax}"));
        String[] c = run("experiment", changed.toString(), "--out", out.toString(), "--resume");
        assertEquals("2", c[0], c[1] + c[2]);
        assertTrue(c[2].contains("'variants.ptq-w3a8.ptq.weightRange' (\"mse\" there, \"minmax\" here)"), c[2]);
        Path added = dir.resolve("added.yaml");
        Files.writeString(added, Files.readString(cfg) + "  - name: ptq-w4a8\n    ptq: {weightBits: 4, inputBits: 8, samples: 128}\n");
        String[] a = run("experiment", added.toString(), "--out", out.toString(), "--resume");
        assertEquals("0", a[0], a[1] + a[2]);
        assertTrue(a[1].contains("[1/7] ptq-w8a8: reused") && a[1].contains("[7/7] ptq-w4a8: PTQ"), a[1]);

        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "name: bad\nfp32: {model: x.zip}\nvariants:\n  - name: v\n    ptq: {calibration: kl}\n");
        String[] b = run("experiment", bad.toString());
        assertEquals("2", b[0]);
        assertTrue(b[2].contains("variants.[0].ptq") && b[2].contains("ptq.calibration") && b[2].contains("bad.yaml:5"), "message: " + b[2]);
    }
}
