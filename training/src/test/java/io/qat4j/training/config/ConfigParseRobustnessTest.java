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

    /** Found by the YAML fuzzer: values were coerced into other types (1.9 read as 1, 1 as true, 0 as the first enum constant). */
    @Test
    void valuesAreNeverCoercedIntoAnotherType() throws Exception {
        String qat = "name: q\nfp32: a.zip\nquantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: LSQ, bits: 4}}\n"
                + "train: {epochs: 2, learningRate: 0.001}\n";
        ConfigLoader.load(write("ok.yaml", qat));   // the baseline loads
        for (String[] bad : new String[][] {
                {"epochs: 2", "epochs: 1.9", "epochs"},
                {"bits: 4}, inputs", "bits: 4.7}, inputs", "bits"},
                {"{mode: LSQ, bits: 4}, inputs", "{mode: LSQ, bits: 4, perChannel: 1}, inputs", "perChannel"},
                {"{mode: LSQ, bits: 4}, inputs", "{mode: 0, bits: 4}, inputs", "mode"},
                {"epochs: 2", "epochs: \"2\"", "epochs"}}) {
            Path f = write("bad.yaml", qat.replace(bad[0], bad[1]));
            String m = assertThrows(ConfigException.class, () -> ConfigLoader.load(f), bad[1]).getMessage();
            assertTrue(m.startsWith(f + ":") && m.contains(bad[2]), bad[1] + ": " + m);
        }
    }

    private Path write(String name, String yaml) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, yaml);
        return f;
    }
}
