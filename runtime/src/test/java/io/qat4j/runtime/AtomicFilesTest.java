package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

    @TempDir
    Path dir;

    @Test
    void writeCreatesParentsAndReplacesTheTarget() throws IOException {
        Path f = dir.resolve("a/b/model.bin");
        AtomicFiles.write(f, new byte[] {1, 2, 3});
        AtomicFiles.write(f, out -> out.write("new".getBytes(StandardCharsets.UTF_8)));
        assertEquals("new", Files.readString(f));
        assertFalse(Files.exists(AtomicFiles.temporaryFor(f)));
    }

    @Test
    void aFailedWriteLeavesTheOldContentAndNoTemporaryFile() throws IOException {
        Path f = dir.resolve("plan.json");
        AtomicFiles.write(f, new byte[] {7});
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> {
            out.write(new byte[] {9, 9});
            throw new IOException("disk full");
        }));
        assertEquals("disk full", e.getMessage());
        assertArrayEquals(new byte[] {7}, Files.readAllBytes(f));
        assertFalse(Files.exists(AtomicFiles.temporaryFor(f)));
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(f, out -> {
            throw new IllegalStateException("serializer bug");
        }));
        assertArrayEquals(new byte[] {7}, Files.readAllBytes(f));
        assertFalse(Files.exists(AtomicFiles.temporaryFor(f)));
    }

    @Test
    void aRejectedCheckAbandonsTheWrite() throws IOException {
        Path f = dir.resolve("images.gz");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(f, out -> out.write(1), written -> {
            assertEquals(1, Files.size(written));
            throw new IOException("hash mismatch");
        }));
        assertEquals("hash mismatch", e.getMessage());
        assertFalse(Files.exists(f));
        assertFalse(Files.exists(AtomicFiles.temporaryFor(f)));
    }
}
