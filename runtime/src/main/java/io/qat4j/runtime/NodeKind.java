package io.qat4j.runtime;

/**
 * The closed set of integer node types of an {@link Int8Graph}, one constant per {@link Int8Graph.Node}
 * record. Every place that treats node types differently (validation, the file reader and writer,
 * costs, kernels, exporters) does so in a {@code switch (node.kind())} expression without a
 * {@code default}, so a new constant does not compile until each of them handles it.
 *
 * <p>{@link #code()} is the node's type byte in the model file (runtime/FORMAT.md); codes never change.
 */
public enum NodeKind {
    CONV2D(1, "Conv2D"),
    DENSE(2, "Dense"),
    MAX_POOL(3, "MaxPool"),
    AVG_POOL(4, "AvgPool"),
    FLATTEN(5, "Flatten"),
    ADD(6, "Add"),
    REQUANTIZE(7, "Requantize");

    private final int code;
    private final String label;

    NodeKind(int code, String label) {
        this.code = code;
        this.label = label;
    }

    /** The type byte a model file stores before the node's fields. */
    public int code() {
        return code;
    }

    /** The node record's name, as messages and profiles print it ({@code "Conv2D"}). */
    public String label() {
        return label;
    }

    /** The kind whose file type byte is {@code code}, or null for a byte no kind has. */
    public static NodeKind ofCode(int code) {
        for (NodeKind k : values()) {
            if (k.code == code) {
                return k;
            }
        }
        return null;
    }
}
