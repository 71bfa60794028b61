package io.qat4j.runtime;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The one way qat4j writes a file (model files, plans, ONNX models, dataset downloads, checkpoints,
 * reports): readers see the old content or the new, never a half-written file. The content goes to
 * {@code <name>.tmp} beside the target, which is then renamed over the target with
 * {@link StandardCopyOption#ATOMIC_MOVE}; a failed write deletes the temporary file and leaves the
 * target as it was. Parent directories are created. JDK only, like the rest of this module.
 *
 * <p>Writers with a protocol of their own (a checkpoint commits its network only after recording
 * the network's hash) use {@link #temporaryFor} and {@link #commit} directly.
 */
public final class AtomicFiles {

    /** Writes a file's content to a stream; the helper opens and closes the stream. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /** Inspects the fully written temporary file before it replaces the target; throws to abandon the write. */
    @FunctionalInterface
    public interface Check {
        void verify(Path written) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Replaces {@code target} with {@code bytes} atomically. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    /** Replaces {@code target} atomically with what {@code content} writes. */
    public static void write(Path target, Content content) throws IOException {
        write(target, content, written -> { });
    }

    /**
     * Replaces {@code target} atomically with what {@code content} writes, if {@code check} accepts
     * the written file (a download verified by its hash); otherwise the target stays as it was.
     */
    public static void write(Path target, Content content, Check check) throws IOException {
        Path abs = target.toAbsolutePath();
        if (abs.getParent() != null) {
            Files.createDirectories(abs.getParent());
        }
        Path tmp = temporaryFor(abs);
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                content.writeTo(out);
            }
            check.verify(tmp);
            commit(tmp, abs);
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** The temporary sibling {@code <name>.tmp} a writer fills before {@link #commit}. */
    public static Path temporaryFor(Path target) {
        Path abs = target.toAbsolutePath();
        return abs.resolveSibling(abs.getFileName() + ".tmp");
    }

    /** Atomically renames the fully written temporary file {@code tmp} over {@code target}. */
    public static void commit(Path tmp, Path target) throws IOException {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
