package io.qat4j.ptq;

/**
 * A plan file that cannot be used: missing, not JSON, a wrong type or value, an unknown field.
 * The message starts with the file and names the layer and field. It is an
 * {@link IllegalArgumentException}, as the plan's own validation is, so callers that catch that
 * keep working.
 */
public final class QuantPlanFormatException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public QuantPlanFormatException(String message) {
        super(message);
    }

    public QuantPlanFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
