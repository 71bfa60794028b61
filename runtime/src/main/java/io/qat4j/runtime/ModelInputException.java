package io.qat4j.runtime;

/**
 * Data that does not fit the model it is given to: {@link #problem()} says what, the message names both
 * sides (the model's shape or class count and the data's, or the sample and element index of a
 * non-finite value). Unchecked, like any other bad argument, but typed so that a command line can tell
 * bad data from a failure.
 */
public final class ModelInputException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** What does not fit. */
    public enum Problem {
        /** The data's per-sample shape is not the model's input shape (even where the element counts agree). */
        SHAPE,
        /** The model's outputs per sample are not the data's number of classes. */
        CLASSES,
        /** An input value is NaN or infinite, which has no int8 code. */
        NON_FINITE
    }

    private final Problem problem;

    public ModelInputException(Problem problem, String message) {
        super(problem + ": " + message);
        this.problem = problem;
    }

    public Problem problem() {
        return problem;
    }
}
