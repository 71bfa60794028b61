package io.qat4j.ste;

import java.util.stream.IntStream;

/**
 * Runs an element loop over {@code [0, n)} in fixed chunks of {@link #CHUNK} elements, in parallel
 * when there is more than one. Chunk boundaries depend on {@code n} only, so a kernel that keeps one
 * partial sum per chunk and adds them in chunk order gets the same result whatever the thread timing.
 */
public final class ChunkedLoop {

    /** Elements per chunk; smaller tensors run on the calling thread. */
    public static final int CHUNK = 1 << 16;

    /** A loop body over {@code [from, to)}. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private ChunkedLoop() {
    }

    /** Number of chunks of a loop over {@code n} elements (at least 1). */
    public static int chunks(int n) {
        return Math.max(1, (n + CHUNK - 1) / CHUNK);
    }

    /** The chunk that holds element {@code from} (the start of a chunk). */
    public static int chunkOf(int from) {
        return from / CHUNK;
    }

    /** Runs {@code body} over {@code [0, n)}, chunk by chunk. */
    public static void forEach(int n, Range body) {
        int chunks = (n + CHUNK - 1) / CHUNK;
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        IntStream.range(0, chunks).parallel().forEach(c -> body.run(c * CHUNK, Math.min(n, (c + 1) * CHUNK)));
    }
}
