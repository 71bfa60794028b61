package io.qat4j.training.config;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Inputs the parser fuzzing (issue 14 §8-9) turned up, each kept as a regression test. */
class ConfigParseRobustnessTest {

    @TempDir
    Path dir;

    /** Issue 14 §9: {@code classes: 2000000000} passed validation and ran out of memory reading the CSV. */
    @Test
    void hugeCsvClassCountIsAConfigErrorNamingTheKey() throws Exception {
        Path f = dir.resolve("csv.yaml");
        Files.writeString(f, ConfigLoaderFuzzTest.CSV_RUN.replace("classes: 10", "classes: 2000000000"));
        String m = assertThrows(ConfigException.class, () -> ConfigLoader.load(f)).getMessage();
        assertTrue(m.startsWith(f + ":") && m.contains("data.csv.classes") && m.contains("2000000000"), m);
    }
}
