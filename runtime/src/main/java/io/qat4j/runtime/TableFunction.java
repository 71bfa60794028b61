package io.qat4j.runtime;

/**
 * Which real function an {@link Int8Graph.LookupTable} tabulates: a label stored with the table (the
 * table alone decides the output codes) so that exporters can emit the matching float operator
 * between {@code DequantizeLinear} and {@code QuantizeLinear}, and so that a model file says what it
 * computes. {@link #code()} is the byte a version-3 model file stores (runtime/FORMAT.md); codes never
 * change.
 *
 * <p>Each constant's {@link #apply} is the function as Deeplearning4j 1.0.0-M2.1 defines the
 * activation of the same name ({@code org.nd4j.linalg.activations.impl}); {@link #parameter} says what
 * the node's {@code parameter} field means for it (0 where the function has none).
 */
public enum TableFunction {
    /** A function the exporter computed and did not name; exporters of other formats cannot map it. Parameter 0. */
    CUSTOM(0, false),
    /** {@code 1 / (1 + e^-x)}; ONNX {@code Sigmoid}. Parameter 0. */
    SIGMOID(1, false),
    /** {@code tanh(x)}; ONNX {@code Tanh}. Parameter 0. */
    TANH(2, false),
    /** {@code x} for {@code x > 0}, else {@code alpha (e^x - 1)} (DL4J {@code ActivationELU}, default alpha 1); ONNX {@code Elu(alpha)}. Parameter alpha. */
    ELU(3, true),
    /**
     * {@code min(1, max(0, 0.2 x + 0.5))} (DL4J {@code ActivationHardSigmoid}, Keras); ONNX {@code HardSigmoid} with its
     * defaults alpha 0.2, beta 0.5. Parameter 0.
     */
    HARD_SIGMOID(4, false),
    /** {@code x / (1 + e^-x)} (DL4J {@code ActivationSwish}); ONNX {@code Mul(x, Sigmoid(x))}. Parameter 0. */
    SWISH(5, false),
    /** {@code log(1 + e^x)} (DL4J {@code ActivationSoftPlus}); ONNX {@code Softplus}. Parameter 0. */
    SOFTPLUS(6, false),
    /** {@code x / (1 + |x|)} (DL4J {@code ActivationSoftSign}); ONNX {@code Softsign}. Parameter 0. */
    SOFTSIGN(7, false),
    /** {@code min(1, max(-1, x))} (DL4J {@code ActivationHardTanH}); ONNX {@code Clip(-1, 1)}. Parameter 0. */
    HARD_TANH(8, false);

    private final int code;
    private final boolean parameter;

    TableFunction(int code, boolean parameter) {
        this.code = code;
        this.parameter = parameter;
    }

    /** The byte a model file stores for this function. */
    public int code() {
        return code;
    }

    /** Whether the node's {@code parameter} means something for this function (ELU's alpha); if not it must be 0. */
    public boolean parameter() {
        return parameter;
    }

    /** The function whose file byte is {@code code}, or null for a byte no function has. */
    public static TableFunction ofCode(int code) {
        for (TableFunction f : values()) {
            if (f.code == code) {
                return f;
            }
        }
        return null;
    }

    /**
     * The real function at {@code x}.
     *
     * @param parameter ELU's alpha; ignored by the others
     * @throws UnsupportedOperationException for {@link #CUSTOM}, which has no formula here (the exporter supplies it)
     */
    public double apply(double x, double parameter) {
        return switch (this) {
            case CUSTOM -> throw new UnsupportedOperationException("TableFunction.CUSTOM has no formula: build the table with "
                    + "Int8Graph.LookupTable.of(..., DoubleUnaryOperator f, ...) from the function itself");
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
            case ELU -> x > 0 ? x : parameter * Math.expm1(x);
            case HARD_SIGMOID -> Math.min(1, Math.max(0, 0.2 * x + 0.5));
            case SWISH -> x / (1 + Math.exp(-x));
            case SOFTPLUS -> x > 30 ? x : Math.log1p(Math.exp(x));   // beyond 30, log(1 + e^x) = x in double
            case SOFTSIGN -> x / (1 + Math.abs(x));
            case HARD_TANH -> Math.min(1, Math.max(-1, x));
        };
    }
}
