package io.qat4j.training.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.fuzz.FuzzReport;
import io.qat4j.fuzz.Fuzzer;

/**
 * Fuzz target for {@link ConfigLoader#load}: token-aware mutants of the shipped configs/*.yaml and
 * of a CSV-data run config, loaded as an {@link ExperimentConfig} when the text has a top-level
 * {@code variants:} key, else as a {@link RunConfig} (as the CLI's experiment and run commands do).
 * The dictionary is every key of the seeds plus YAML syntax (anchors, aliases, merge keys, tags,
 * block scalars, flow collections). Only a {@link ConfigException} naming the file may escape.
 */
class ConfigLoaderFuzzTest {

    @TempDir
    Path dir;

    static final String CSV_RUN = """
            name: csv-run
            seed: 3
            fp32: runs/fp32/best.zip
            data:
              csv: {train: a.csv, test: b.csv, labelColumn: -1, classes: 10, skipLines: 1, delimiter: ";", shape: [1, 28, 28], scale: 0.5}
            train: {epochs: 1, batchSize: 8, learningRate: 0.01}
            quantization:
              weights: {mode: LSQ, bits: 4, perChannel: true}
              inputs: {mode: PACT, bits: 4}
            distillation: {weight: 0.5, temperature: 4}
            """;

    static final List<String> YAML_TOKENS = List.of("&a ", "*a", "<<: *a", "!!int ", "!!str ", "!!float ", "!!binary ", "!!map ",
            "!!seq ", "!!set ", "!!omap ", "!!java.io.File ", "---\n", "...\n", "|\n  ", ">-\n  ", "? ", "- ", "~", "null", ".nan",
            ".inf", "-.inf", "0o17", "0x1F", "1_000", "yes", "on", "true", "'", "\"", "\\x00", "\t", "%YAML 1.1\n", "%TAG ! !x\n",
            "[[[[[[[[[[[[", "{a: {a: {a: {a: ", "\ufeff", "é", "\u2028");

    static List<byte[]> seeds() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        try (Stream<Path> s = Files.list(ConfigLoaderTest.configsDir())) {
            for (Path f : s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                seeds.add(Files.readAllBytes(f));
            }
        }
        seeds.add(CSV_RUN.getBytes(StandardCharsets.UTF_8));
        return seeds;
    }

    /** Every key that appears in the seeds, as "key: " tokens. */
    static List<String> keys(List<byte[]> seeds) {
        TreeSet<String> keys = new TreeSet<>();
        Matcher m = Pattern.compile("([A-Za-z][A-Za-z0-9]*):").matcher("");
        for (byte[] s : seeds) {
            m.reset(new String(s, StandardCharsets.UTF_8));
            while (m.find()) {
                keys.add(m.group(1) + ": ");
            }
        }
        return List.copyOf(keys);
    }

    @Test
    @Timeout(150)
    void onlyConfigExceptionNamingTheFileEscapesLoad() throws Exception {
        List<byte[]> seeds = seeds();
        assertTrue(seeds.size() >= 7, "configs found: " + seeds.size());
        List<String> tokens = new ArrayList<>(keys(seeds));
        tokens.addAll(YAML_TOKENS);
        Path file = dir.resolve("fuzz.yaml");
        FuzzReport report = Fuzzer.target("yaml-config")
                .seeds(seeds)
                .text(tokens)
                .allow(ConfigException.class)
                .maxInputBytes(1 << 13)
                .maxAllocatedBytes(64L << 20)
                .iterations(Fuzzer.iterations(40_000))
                .run(input -> {
                    Files.write(file, input);
                    boolean experiment = new String(input, StandardCharsets.ISO_8859_1).contains("\nvariants:");
                    try {
                        Class<?> type = experiment ? ExperimentConfig.class : RunConfig.class;
                        ConfigLoader.load(file, type);
                    } catch (ConfigException e) {
                        if (!e.getMessage().startsWith(file.toString())) {
                            throw new AssertionError("the message does not start with the file: " + e.getMessage(), e);
                        }
                        throw e;
                    }
                });
        System.out.println(report.summary());
        assertEquals(0, report.findingCount(), report::describeFindings);
    }
}
