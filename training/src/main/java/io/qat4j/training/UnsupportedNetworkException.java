package io.qat4j.training;

/**
 * A step that takes only one kind of DL4J network (so far: PTQ, sensitivity and the float ONNX export
 * take a MultiLayerNetwork) was given the other kind. The message names the step, what it takes and
 * what it was given; the command line answers it as bad input (exit code 2).
 */
public final class UnsupportedNetworkException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public UnsupportedNetworkException(String message) {
        super(message);
    }
}
