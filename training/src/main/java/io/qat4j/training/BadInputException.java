package io.qat4j.training;

import java.io.IOException;

/**
 * Input the user gave (configuration, data files, model, output directory) that cannot be used; the
 * message names the file, key or value and what to do. Commands answer it with
 * {@link Qat4jCommand#EXIT_USAGE}.
 */
final class BadInputException extends IOException {

    private static final long serialVersionUID = 1L;

    BadInputException(String message) {
        super(message);
    }
}
