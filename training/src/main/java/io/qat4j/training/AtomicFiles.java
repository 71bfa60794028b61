package io.qat4j.training;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes files so that readers see the old content or the new, never a half-written file: the bytes
 * go to {@code <name>.tmp} beside the target, which is then atomically renamed over it.
 */
public final class AtomicFiles {

    private AtomicFiles() {
    }

    public static void write(Path target, byte[] bytes) throws IOException {
        Path tmp = temporaryFor(target);
        Files.write(tmp, bytes);
        commit(tmp, target);
    }

    /** The temporary sibling a writer fills before {@link #commit}. */
    public static Path temporaryFor(Path target) {
        Path abs = target.toAbsolutePath();
        return abs.resolveSibling(abs.getFileName() + ".tmp");
    }

    /** Atomically renames a fully written temporary file over the target. */
    public static void commit(Path tmp, Path target) throws IOException {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
