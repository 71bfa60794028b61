package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.qat4j.layers.ReferenceCnn;

/** `qat4j train` then `qat4j qat` end to end on part of the bundled subset. */
class TrainQatCommandTest {

    @TempDir
    Path dir;

    private Path write(String name, String yaml) throws IOException {
        Path f = dir.resolve(name + ".yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void trainThenQatThenIntegerRuntime() throws IOException {
        Path fp32 = write("fp32", "name: fp32\ndata: {source: bundled, trainLimit: 800, testLimit: 300}\n"
                + "train: {epochs: 2, learningRate: 0.002}\n");
        Path fpOut = dir.resolve("runs/fp32");
        String[] t = run("train", fp32.toString(), "--out", fpOut.toString());
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("BUNDLED_SUBSET"), t[1]);
        for (String f : new String[] {"best.zip", "checkpoint.zip", "checkpoint.json", "metrics.csv", "provenance.json", "resolved-config.yaml"}) {
            assertTrue(Files.exists(fpOut.resolve(f)), f);
        }
        // PTQ with sensitivity-guided mixed precision, then the sensitivity table alone
        Path ptq = write("ptq", "name: ptq\ndata: {source: bundled, trainLimit: 800, testLimit: 300}\nfp32: " + fpOut.resolve("best.zip")
                + "\nptq: {averageBits: 3.0, candidateBits: [2, 4, 8], samples: 256, sensitivitySamples: 64, weightRange: mse}\n");
        Path pOut = dir.resolve("runs/ptq");
        String[] p = run("ptq", ptq.toString(), "--out", pOut.toString());
        assertEquals("0", p[0], p[1] + p[2]);
        assertTrue(p[1].contains("allocation (exact, 3.00 average weight bits, best of") && p[1].contains("uniform 3-bit PTQ baseline"), p[1]);
        io.qat4j.ptq.QuantPlan plan = io.qat4j.ptq.QuantPlan.read(pOut.resolve("plan.json"));
        assertTrue(plan.allocation().candidates().size() >= 2, "the measured allocations are recorded: " + plan.allocation());
        assertTrue(plan.allocation().costBits() <= plan.allocation().budgetBits(), plan.allocation().toString());
        assertEquals(3.0, plan.allocation().averageBits(), 0);
        assertTrue(plan.layers().stream().allMatch(l -> l.sensitivity() != null && l.sensitivity().weights().size() == 3));
        @SuppressWarnings("unchecked")
        Map<String, Object> ptqSummary = new ObjectMapper().readValue(pOut.resolve("summary.json").toFile(), Map.class);
        assertTrue(((Number) ptqSummary.get("argmaxAgreement")).doubleValue() >= 0.95, ptqSummary.toString());
        assertTrue(Files.exists(pOut.resolve("model.q4j")) && Files.exists(pOut.resolve("ptq-float.zip")));
        String[] sens = run("sensitivity", ptq.toString(), "--out", dir.resolve("runs/sens").toString());
        assertEquals("0", sens[0], sens[1] + sens[2]);
        assertTrue(Files.readString(dir.resolve("runs/sens/sensitivity.csv")).startsWith("layer,weights,kind,bits,S_weights,S_inputs\nconv1,"));

        // QAT initialized from a PTQ plan of the same bits
        Path fromPtq = write("qatptq", "name: qatptq\ndata: {source: bundled, trainLimit: 800, testLimit: 300}\nfp32: " + fpOut.resolve("best.zip")
                + "\nptq: {weightBits: 4, inputBits: 4, samples: 256}\nquantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: LSQ, bits: 4}}\n"
                + "train: {epochs: 1, learningRate: 0.0005}\n");
        String[] qp = run("qat", fromPtq.toString(), "--out", dir.resolve("runs/qatptq").toString());
        assertEquals("0", qp[0], qp[1] + qp[2]);
        assertTrue(qp[1].contains("QAT starts from the PTQ plan") && Files.exists(dir.resolve("runs/qatptq/plan.json")), qp[1]);

        Path qat = write("qat", "name: qat\ndata: {source: bundled, trainLimit: 800, testLimit: 300}\nfp32: " + fpOut.resolve("best.zip")
                + "\nquantization: {weights: {mode: LSQ, bits: 8}, inputs: {mode: LSQ, bits: 8}}\n"
                + "train: {epochs: 1, learningRate: 0.0005, freezeBatchNormAfterEpoch: 0}\n");
        Path qOut = dir.resolve("runs/qat");
        String[] q = run("qat", qat.toString(), "--out", qOut.toString());
        assertEquals("0", q[0], q[1] + q[2]);
        assertTrue(Files.exists(qOut.resolve("model.q4j")));
        @SuppressWarnings("unchecked")
        Map<String, Object> summary = new ObjectMapper().readValue(qOut.resolve("summary.json").toFile(), Map.class);
        double agreement = ((Number) summary.get("argmaxAgreement")).doubleValue();
        double ratio = ((Number) summary.get("sizeRatio")).doubleValue();
        assertTrue(agreement >= 0.95, "INT8 runtime vs QAT network: " + agreement);
        assertTrue(ratio <= 0.26, "int8 model size ratio " + ratio);
        assertTrue(((Number) summary.get("qatAccuracy")).doubleValue() > 0.5, summary.toString());
        assertEquals(1, summary.get("modelEpoch"), "model.q4j holds the last epoch");
        assertEquals(1, summary.get("bestZipEpoch"));
        assertTrue(q[1].contains("model.q4j holds epoch 1, the last;") && q[1].contains("best.zip holds epoch 1, the best on validation"), q[1]);

        // per-layer diagnostics of the PTQ result and of the QAT checkpoint, on the 300 test images (no validation split)
        Path aPtq = dir.resolve("runs/analyze-ptq");
        String[] ap = run("analyze", ptq.toString(), "--out", aPtq.toString());
        assertEquals("0", ap[0], ap[1] + ap[2]);
        io.qat4j.training.LayerAnalysis ptqAnalysis = io.qat4j.training.LayerAnalysis.read(aPtq.resolve("diagnostics.json"));
        assertEquals(((Number) ptqSummary.get("ptqAccuracy")).doubleValue(), ptqAnalysis.report().quantizedAccuracy(), 1e-9,
                "analyze applies the same PTQ as `qat4j ptq`");
        assertEquals("test set (300 samples)", ptqAnalysis.samples());
        assertEquals(java.util.List.of("conv1", "conv2", "fc1", "out"),
                ptqAnalysis.report().layers().stream().map(io.qat4j.ptq.LayerDiagnostics.Layer::name).toList());
        assertTrue(ap[1].contains("| conv1 |") && Files.isRegularFile(aPtq.resolve("diagnostics.csv")), ap[1]);
        java.awt.image.BufferedImage png = javax.imageio.ImageIO.read(aPtq.resolve("histograms.png").toFile());
        assertEquals(2 * 420, png.getWidth(), "four layers: 2x2 histogram panels");
        Path aQat = dir.resolve("runs/analyze-qat");
        String[] aq = run("analyze", qat.toString(), "--model", qOut.resolve("best.zip").toString(), "--out", aQat.toString());
        assertEquals("0", aq[0], aq[1] + aq[2]);
        io.qat4j.training.LayerAnalysis qatAnalysis = io.qat4j.training.LayerAnalysis.read(aQat.resolve("diagnostics.json"));
        assertEquals(((Number) summary.get("qatAccuracy")).doubleValue(), qatAnalysis.report().quantizedAccuracy(), 1e-9);
        for (io.qat4j.ptq.LayerDiagnostics.Layer l : qatAnalysis.report().layers()) {
            assertTrue(l.weightSqnrDb() > 25, "8-bit weights: " + l);
            if (!l.name().equals("out")) {
                assertTrue(l.int8().meanSteps() < 0.05 && l.int8().maxSteps() <= 1, "INT8 runtime vs fake quant: " + l);
            }
        }
        String[] notQuantized = run("analyze", qat.toString(), "--model", fpOut.resolve("best.zip").toString(), "--out",
                dir.resolve("runs/analyze-fp32").toString());
        assertEquals("2", notQuantized[0], notQuantized[1] + notQuantized[2]);
        assertTrue(notQuantized[2].contains("has no quantized layer"), notQuantized[2]);

        // eval of the QAT checkpoint reports the fake-quant accuracy qat reported
        String[] ev = run("eval", qOut.resolve("best.zip").toString(), "--config", qat.toString());
        assertEquals("0", ev[0], ev[1] + ev[2]);
        assertTrue(ev[1].contains(String.format("accuracy %.4f", ((Number) summary.get("qatAccuracy")).doubleValue())), ev[1]);
        assertEquals("2", run("eval", dir.resolve("none.zip").toString(), "--config", qat.toString())[0]);

        // export the best checkpoint again and run it: with one QAT epoch it is the network qat exported
        Path exported = dir.resolve("again.q4j");
        String[] e = run("export", qOut.resolve("best.zip").toString(), "--config", qat.toString(), "--out", exported.toString());
        assertEquals("0", e[0], e[1] + e[2]);
        assertTrue(e[1].contains("note: " + qOut.resolve("best.zip") + " is epoch 1 of the 1 trained") && e[1].contains("holds the same epoch"),
                e[1]);
        assertEquals(Files.size(qOut.resolve("model.q4j")), Files.size(exported));
        Path json = dir.resolve("run.json");
        String[] r = run("run", exported.toString(), "--config", qat.toString(), "--json", json.toString(), "--check-reference");
        assertEquals("0", r[0], r[1] + r[2]);
        @SuppressWarnings("unchecked")
        Map<String, Object> result = new ObjectMapper().readValue(json.toFile(), Map.class);
        assertEquals(((Number) summary.get("int8RuntimeAccuracy")).doubleValue(), ((Number) result.get("accuracy")).doubleValue(), 1e-12);
        assertEquals(300, ((java.util.List<?>) result.get("predictions")).size());
        // the reference kernels (integer simulation) give the same bytes on every image, hence the same accuracy
        @SuppressWarnings("unchecked")
        Map<String, Object> check = (Map<String, Object>) result.get("referenceCheck");
        assertEquals(300, ((Number) check.get("identicalImages")).intValue(), r[1]);
        assertEquals(0, ((Number) check.get("differingImages")).intValue());
        assertEquals(((Number) result.get("accuracy")).doubleValue(), ((Number) check.get("accuracy")).doubleValue(), 1e-12);

        byte[] bytes = Files.readAllBytes(exported);
        bytes[bytes.length / 2] ^= 0x10;
        Path corrupt = dir.resolve("corrupt.q4j");
        Files.write(corrupt, bytes);
        String[] bad = run("run", corrupt.toString(), "--config", qat.toString());
        assertEquals("2", bad[0]);
        assertTrue(bad[2].contains("CHECKSUM_MISMATCH") && bad[2].contains("corrupt.q4j"), bad[2]);
        // ONNX: the QDQ model of the same integer model, and the FP32 teacher as a float model; both are ONNX protobufs
        Path qdqFile = dir.resolve("qat.onnx");
        String[] on = run("export", qOut.resolve("best.zip").toString(), "--config", qat.toString(), "--out", qdqFile.toString(),
                "--format", "onnx");
        assertEquals("0", on[0], on[1] + on[2]);
        onnx.Onnx.ModelProto qdq = onnx.Onnx.ModelProto.parseFrom(Files.readAllBytes(qdqFile));
        assertTrue(qdq.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("QuantizeLinear")), qdq.getGraph().getName());
        Path fpOnnx = dir.resolve("fp32.onnx");
        String[] fo = run("export", fpOut.resolve("best.zip").toString(), "--config", qat.toString(), "--out", fpOnnx.toString(),
                "--format", "onnx-fp32");
        assertEquals("0", fo[0], fo[1] + fo[2]);
        assertTrue(onnx.Onnx.ModelProto.parseFrom(Files.readAllBytes(fpOnnx)).getGraph().getNodeList().stream()
                .anyMatch(n -> n.getOpType().equals("BatchNormalization")));
        assertEquals("2", run("export", qOut.resolve("best.zip").toString(), "--config", qat.toString(), "--out", "x.tflite",
                "--format", "tflite")[0]);
    }

    @Test
    void csvDataTrainsTheReferenceCnn() throws IOException {
        java.util.Random r = new java.util.Random(3);
        for (String name : new String[] {"train", "test"}) {
            StringBuilder sb = new StringBuilder("label");
            for (int i = 0; i < 64; i++) {
                sb.append(",p").append(i);
            }
            sb.append('\n');
            for (int n = 0; n < (name.equals("train") ? 120 : 40); n++) {
                int y = n % 2;
                sb.append(y);
                for (int i = 0; i < 64; i++) {
                    sb.append(',').append(y == 1 && i < 32 ? 200 + r.nextInt(56) : r.nextInt(60));
                }
                sb.append('\n');
            }
            Files.writeString(dir.resolve(name + ".csv"), sb.toString());
        }
        Path cfg = write("csv", "name: csv\ndata:\n  csv: {train: " + dir.resolve("train.csv") + ", test: " + dir.resolve("test.csv")
                + ", classes: 2, shape: [1, 8, 8]}\ntrain: {epochs: 2, learningRate: 0.005, batchSize: 20}\n");
        String[] t = run("train", cfg.toString(), "--out", dir.resolve("runs/csv").toString());
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("data: CSV") && t[1].contains("120 train") && t[1].contains("40 test"), t[1]);
        assertTrue(t[1].contains("test accuracy 1.0000") || t[1].contains("test accuracy 0.9"), "separable CSV data is learned: " + t[1]);
        Files.writeString(dir.resolve("test.csv"), "label,p0\n1,x\n");
        String[] bad = run("train", cfg.toString(), "--out", dir.resolve("runs/csv2").toString());
        assertEquals("1", bad[0]);
        assertTrue(bad[2].contains("test.csv:2") && bad[2].contains("2 columns, expected 65"), bad[2]);
    }

    @Test
    void aValidationSplitKeepsModelSelectionOffTheTestSet() throws IOException {
        Path cfg = write("val", "name: val\ndata: {source: bundled, trainLimit: 400, testLimit: 100, validationFraction: 0.25}\n"
                + "train: {epochs: 1, learningRate: 0.002}\n");
        String[] t = run("train", cfg.toString(), "--out", dir.resolve("runs/val").toString());
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("300 train / 100 validation / 100 test"), t[1]);
        assertTrue(t[1].contains("validation accuracy") && t[1].contains("its test accuracy"), t[1]);
        String provenance = Files.readString(dir.resolve("runs/val/provenance.json"));
        assertTrue(provenance.contains("\"data.validation\" : 100"), provenance);
        String bad = run("train", write("badval", "name: b\ndata: {validationFraction: 0.9}\ntrain: {epochs: 1, learningRate: 1}\n")
                .toString())[2];
        assertTrue(bad.contains("validationFraction"), bad);
    }

    @Test
    void misuseIsAUsageErrorNamingTheProblem() throws IOException {
        Path qat = write("q", "name: q\nfp32: " + dir.resolve("missing.zip")
                + "\nquantization: {weights: {mode: LSQ, bits: 8}, inputs: {mode: LSQ, bits: 8}}\ntrain: {epochs: 1, learningRate: 0.001}\n");
        String[] noModel = run("qat", qat.toString());
        assertEquals("2", noModel[0]);
        assertTrue(noModel[2].contains("missing.zip") && noModel[2].contains("qat4j train"), noModel[2]);
        String[] wrongCommand = run("train", qat.toString());
        assertEquals("2", wrongCommand[0]);
        assertTrue(wrongCommand[2].contains("qat4j qat"), wrongCommand[2]);
        Path bad = write("bad", "name: bad\ntrain: {epochs: 1, learningRate: 0.001, colour: red}\n");
        String[] unknown = run("train", bad.toString());
        assertEquals("2", unknown[0]);
        assertTrue(unknown[2].contains("bad.yaml:2") && unknown[2].contains("colour"), unknown[2]);
    }
}
