package io.qat4j.training;

/**
 * The loss became NaN or infinite, or exploded (see {@link TrainSpec#divergenceFactor}); the message says
 * when, what the loss was, what to change and where the last good checkpoint is.
 */
public final class TrainingDivergedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public TrainingDivergedException(String message) {
        super(message);
    }
}
