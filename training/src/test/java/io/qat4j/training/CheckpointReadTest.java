package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Checkpoint#read} reads a run's committed state without touching the directory; {@link Checkpoint#bestEpoch} is best.zip's epoch. */
class CheckpointReadTest {

    @TempDir
    Path dir;

    @Test
    void readsTheCommittedStateAndLeavesTheDirectoryAsItIs() throws IOException {
        assertNull(Checkpoint.read(dir), "no checkpoint.json: no run");
        Files.writeString(dir.resolve(Checkpoint.STATE), "{\"epochsDone\": 5, \"bestValidationAccuracy\": 0.9, \"epochsSinceBest\": 2, "
                + "\"referenceLoss\": 2.3, \"modelSha256\": \"" + "0f".repeat(32) + "\"}");
        Path pending = dir.resolve("checkpoint.zip.tmp");
        Files.writeString(pending, "an uncommitted epoch");   // forResume would delete it; read must not
        Checkpoint c = Checkpoint.read(dir);
        assertEquals(5, c.epochsDone());
        assertEquals(3, c.bestEpoch(), "two epochs since the best of five: best.zip holds epoch 3");
        assertTrue(Files.exists(pending));
        assertEquals(0, Checkpoint.STARTED.bestEpoch());
        Files.writeString(dir.resolve(Checkpoint.STATE), "{\"epochsDone\": 2, \"epochsSinceBest\": 5}");
        assertThrows(Checkpoint.InvalidCheckpointException.class, () -> Checkpoint.read(dir));
    }
}
