package io.qat4j.training.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code spark:} section: defaults, the command line's master, and errors that name the key. */
class SparkSectionTest {

    @Test
    void defaultsAndTheCommandLinesMaster() {
        RunConfig.Spark s = new RunConfig.Spark(null, null, null, null, null, null);
        assertNull(s.master());
        assertEquals(RunConfig.Spark.DEFAULT_AVERAGING_FREQUENCY, s.averagingFrequency());
        assertTrue(s.saveUpdater() && s.scaleLearningRate());
        RunConfig c = new RunConfig("r", 1L, null, null, RunConfig.Train.of(1, 1e-3), null, null, null, null,
                new RunConfig.Spark("yarn", 8, 64, 10, false, false));
        RunConfig local = c.withSparkMaster(" local[2] ");
        assertEquals("local[2]", local.spark().master());
        assertEquals(8, local.spark().workers());
        assertEquals(10, local.spark().averagingFrequency());
        assertEquals("local[*]", new RunConfig("r", 1L, null, null, RunConfig.Train.of(1, 1e-3), null, null, null, null, null)
                .withSparkMaster("local[*]").spark().master());
    }

    @Test
    void badValuesNameTheKey() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RunConfig.Spark("locale[2]", null, null, null, null, null))
                .getMessage().startsWith("spark.master must be a Spark master URL"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RunConfig.Spark("local[0]", null, null, null, null, null))
                .getMessage().contains("spark.master local[0] has no threads"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RunConfig.Spark(null, 0, null, null, null, null))
                .getMessage().startsWith("spark.workers must be >= 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RunConfig.Spark(null, null, 0, null, null, null))
                .getMessage().startsWith("spark.batchPerWorker must be >= 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RunConfig.Spark(null, null, null, 0, null, null))
                .getMessage().startsWith("spark.averagingFrequency must be >= 1"));
    }

    @Test
    void aConfigurationFileSectionIsReadAndCheckedWithItsLine(@TempDir Path dir) throws Exception {
        Path ok = Files.writeString(dir.resolve("ok.yaml"), "name: r\ntrain: {epochs: 1, learningRate: 0.001}\n"
                + "spark: {master: 'spark://head:7077', workers: 4, averagingFrequency: 8}\n");
        RunConfig c = ConfigLoader.load(ok);
        assertEquals("spark://head:7077", c.spark().master());
        assertEquals(4, c.spark().workers());
        assertEquals(8, c.spark().averagingFrequency());
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "name: r\ntrain: {epochs: 1, learningRate: 0.001}\nspark: {workers: -1}\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(bad));
        assertTrue(e.getMessage().contains("spark.workers must be >= 1"), e.getMessage());
        Path ptq = Files.writeString(dir.resolve("ptq.yaml"), "name: r\nfp32: m.zip\nptq: {}\nspark: {master: 'local[2]'}\n");
        ConfigException p = assertThrows(ConfigException.class, () -> ConfigLoader.load(ptq));
        assertTrue(p.getMessage().contains("remove the spark section"), p.getMessage());
    }
}
