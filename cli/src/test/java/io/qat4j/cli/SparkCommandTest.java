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

/**
 * {@code qat4j train CONFIG --spark local[2]} and {@code qat4j qat CONFIG --spark local[2]} (PACT
 * inputs, distillation from the FP32 model) end to end on part of the bundled subset: data-parallel
 * training, then the single-JVM path's export, evaluation, output files and printed lines, with the
 * Spark settings in provenance.json and summary.json; a master Spark does not take is a usage error.
 */
class SparkCommandTest {

    @TempDir
    Path dir;

    private Path write(String name, String yaml) throws IOException {
        Path f = dir.resolve(name + ".yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    @SuppressWarnings("unchecked")
    void trainAndQatWithDistillationRunDataParallelInSparkLocal2() throws IOException {
        Path fp32 = write("fp32", "name: fp32\ndata: {source: bundled, trainLimit: 640, testLimit: 200}\n"
                + "train: {epochs: 1, learningRate: 0.002, batchSize: 32}\n");
        Path fpOut = dir.resolve("runs/fp32");
        String[] t = run("train", fp32.toString(), "--out", fpOut.toString(), "--spark", "local[2]");
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("Spark local[2]: 2 workers, averaging every 5 minibatches, updater state averaged, learning rate x 2")
                && t[1].contains("Spark: 2 averaging rounds") && t[1].contains("best test accuracy"), t[1]);
        Map<String, Object> provenance = new ObjectMapper().readValue(fpOut.resolve("provenance.json").toFile(), Map.class);
        assertEquals("local[2]", provenance.get("spark.master"));
        assertEquals(2, provenance.get("spark.workers"));
        assertTrue(Files.readString(fpOut.resolve("resolved-config.yaml")).contains("local[2]"),
                Files.readString(fpOut.resolve("resolved-config.yaml")));

        Path qat = write("qat", "name: qat\ndata: {source: bundled, trainLimit: 640, testLimit: 200}\nfp32: " + fpOut.resolve("best.zip")
                + "\nquantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: PACT, bits: 4}}\n"
                + "distillation: {weight: 0.5, temperature: 4}\n"
                + "spark: {workers: 2, averagingFrequency: 2}\n"
                + "train: {epochs: 1, learningRate: 0.0005, batchSize: 32, freezeBatchNormAfterEpoch: 0}\n");
        Path qOut = dir.resolve("runs/qat");
        String[] q = run("qat", qat.toString(), "--out", qOut.toString(), "--spark", "local[2]");
        assertEquals("0", q[0], q[1] + q[2]);
        assertTrue(q[1].contains("distillation from") && q[1].contains("Spark local[2]: 2 workers, averaging every 2 minibatches")
                && q[1].contains("Spark: 5 averaging rounds") && q[1].contains("INT8 runtime"), q[1]);
        for (String f : new String[] {"best.zip", "checkpoint.zip", "metrics.csv", "model.q4j", "summary.json", "provenance.json"}) {
            assertTrue(Files.exists(qOut.resolve(f)), f);
        }
        Map<String, Object> summary = new ObjectMapper().readValue(qOut.resolve("summary.json").toFile(), Map.class);
        Map<String, Object> spark = (Map<String, Object>) summary.get("spark");
        assertEquals(2, spark.get("workers"));
        assertEquals(5, spark.get("rounds"));
        assertTrue(((Number) summary.get("argmaxAgreement")).doubleValue() >= 0.9, summary.toString());
        assertTrue(((Number) summary.get("qatAccuracy")).doubleValue() > 0.5, summary.toString());
    }

    @Test
    void aMasterSparkDoesNotTakeIsAUsageError() throws IOException {
        Path fp32 = write("fp32", "name: fp32\ndata: {source: bundled, trainLimit: 64, testLimit: 64}\ntrain: {epochs: 1, learningRate: 0.002}\n");
        String[] t = run("train", fp32.toString(), "--out", dir.resolve("runs/x").toString(), "--spark", "locale[2]");
        assertEquals("2", t[0], t[1] + t[2]);
        assertTrue(t[2].contains("qat4j train: --spark: the master must be a Spark master URL") && t[2].contains("'locale[2]'"), t[2]);
    }
}
