package io.qat4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qat4j export RUN/best.zip} says which epoch it exports and whether the run's own
 * {@code model.q4j} (the last epoch) is another one, from the run's {@code checkpoint.json}.
 */
class ExportEpochNoteTest {

    @TempDir
    Path dir;

    private Path run(int epochsDone, int epochsSinceBest, boolean withModel) throws IOException {
        Path run = Files.createDirectories(dir.resolve("run-" + epochsDone + "-" + epochsSinceBest + "-" + withModel));
        Files.writeString(run.resolve("checkpoint.json"), "{\"epochsDone\": " + epochsDone + ", \"bestValidationAccuracy\": 0.8725, "
                + "\"epochsSinceBest\": " + epochsSinceBest + ", \"referenceLoss\": 2.3, \"modelSha256\": \"" + "ab".repeat(32) + "\"}");
        Files.writeString(run.resolve("best.zip"), "a network");
        if (withModel) {
            Files.writeString(run.resolve("model.q4j"), "an integer model");
        }
        return run;
    }

    @Test
    void bestZipOfAnEarlierEpochThanTheLastIsNamedAsSuch() throws IOException {
        Path r = run(3, 1, true);
        assertEquals(r.resolve("best.zip") + " is epoch 2 of the 3 trained (the best validation accuracy, 0.8725); " + r.resolve("model.q4j")
                + " beside it holds epoch 3, the last, so the two integer models differ", ExportCommand.epochNote(r.resolve("best.zip")));
        Path same = run(3, 0, true);
        assertEquals(same.resolve("best.zip") + " is epoch 3 of the 3 trained (the best validation accuracy, 0.8725); "
                + same.resolve("model.q4j") + " beside it holds the same epoch", ExportCommand.epochNote(same.resolve("best.zip")));
        Path alone = run(4, 3, false);
        assertEquals(alone.resolve("best.zip") + " is epoch 1 of the 4 trained (the best validation accuracy, 0.8725)",
                ExportCommand.epochNote(alone.resolve("best.zip")));
    }

    @Test
    void otherFilesGetNoNote() throws IOException {
        Path r = run(3, 1, true);
        Files.copy(r.resolve("best.zip"), r.resolve("mine.zip"));
        assertNull(ExportCommand.epochNote(r.resolve("mine.zip")));
        Path bare = Files.createDirectories(dir.resolve("bare"));
        Files.writeString(bare.resolve("best.zip"), "a network");
        assertNull(ExportCommand.epochNote(bare.resolve("best.zip")), "no checkpoint.json: not a run directory");
    }
}
