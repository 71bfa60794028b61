package io.qat4j.datasets;

import java.io.IOException;

/** An IDX file that cannot be read as such; the message names the file and what is wrong. */
public final class IdxFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    public IdxFormatException(String message) {
        super(message);
    }
}
