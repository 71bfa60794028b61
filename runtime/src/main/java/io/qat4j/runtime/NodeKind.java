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
    CONV2D(1, "Conv2D", 1),
    DENSE(2, "Dense", 1),
    MAX_POOL(3, "MaxPool", 1),
    /** The version-1 average pool on codes of one scale (kept so old files read as before); new exports use {@link #AVG_POOL_REQUANT}. */
    AVG_POOL(4, "AvgPool", 1),
    FLATTEN(5, "Flatten", 1),
    ADD(6, "Add", 1),
    REQUANTIZE(7, "Requantize", 1),
    AVG_POOL_REQUANT(8, "AvgPoolRequant", 3),
    DEPTHWISE_CONV2D(9, "DepthwiseConv2D", 3),
    CONCAT(10, "Concat", 3),
    LEAKY_RELU(11, "LeakyRelu", 3),
    LOOKUP_TABLE(12, "LookupTable", 3),
    ZERO_PAD(13, "ZeroPad", 3),
    CROP(14, "Crop", 3),
    UPSAMPLE_NEAREST(15, "UpsampleNearest", 3),
    DENSE_LOGITS(16, "DenseLogits", 3);

    private final int code;
    private final String label;
    private final int sinceVersion;

    NodeKind(int code, String label, int sinceVersion) {
        this.code = code;
        this.label = label;
        this.sinceVersion = sinceVersion;
    }

    /** The type byte a model file stores before the node's fields. */
    public int code() {
        return code;
    }

    /**
     * The first model-file format version that may hold this kind: 1 for types 1 to 7, 3 for the
     * later ones (a version-1 or -2 file holding them is refused as malformed, runtime/FORMAT.md).
     */
    public int sinceVersion() {
        return sinceVersion;
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
