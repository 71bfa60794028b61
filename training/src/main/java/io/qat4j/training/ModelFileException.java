package io.qat4j.training;

import java.io.IOException;

/**
 * A model file that {@link ModelLoader} cannot use: missing, of an unknown kind, damaged, or one
 * that DL4J cannot restore or import. The message names the file and what was found in it.
 */
public final class ModelFileException extends IOException {

    private static final long serialVersionUID = 1L;

    public ModelFileException(String message) {
        super(message);
    }

    public ModelFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
