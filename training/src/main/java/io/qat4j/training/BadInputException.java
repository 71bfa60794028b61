package io.qat4j.training;

import java.io.IOException;

/**
 * Input the user gave (configuration, data files, model, output directory) that cannot be used; the
 * message names the file, key or value and what to do. The command line answers it with its usage
 * exit code (2); a program calling the library shows the message to whoever chose the input.
 */
public final class BadInputException extends IOException {

    private static final long serialVersionUID = 1L;

    public BadInputException(String message) {
        super(message);
    }
}
