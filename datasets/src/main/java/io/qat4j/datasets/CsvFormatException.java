package io.qat4j.datasets;

import java.io.IOException;

/** A CSV file that cannot be read as labelled examples; the message starts with {@code file:line:} and says what to fix. */
public final class CsvFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    public CsvFormatException(String message) {
        super(message);
    }

    public CsvFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
