package io.qat4j.runtime;

import java.io.IOException;

/** A model file that cannot be loaded; {@link #problem()} says which check failed, the message where. */
public final class ModelFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    /** What is wrong with the file. */
    public enum Problem {
        /** Shorter than its prelude or its declared body. */
        TRUNCATED,
        /** Does not start with the qat4j magic. */
        BAD_MAGIC,
        /** A format version or flags this runtime does not read. */
        UNSUPPORTED_VERSION,
        /** The CRC32 of the body does not match: bits flipped in storage or transfer. */
        CHECKSUM_MISMATCH,
        /** A count, size, id or value in the header is impossible, or bytes are left over. */
        INVALID_HEADER,
        /** The graph's shapes or parameters are inconsistent. */
        INVALID_GRAPH,
        /** A valid model that needs more memory or work than {@link ModelLimits} allow; the message says how to raise them. */
        EXCEEDS_LIMITS
    }

    private final Problem problem;

    public ModelFormatException(Problem problem, String message) {
        super(problem + ": " + message);
        this.problem = problem;
    }

    public Problem problem() {
        return problem;
    }
}
