package io.qat4j.ste;

/**
 * The one bit-width rule of qat4j, for uniform weights and for inputs (activations), used by
 * {@link QuantSpec}, the layers' {@code QuantSettings}, the PTQ recipe and plan, and the
 * configuration files.
 *
 * <ul>
 *   <li>Uniform weights: {@value #MIN_WEIGHT_BITS}..max bits. Symmetric weights use the narrow signed
 *       range {@code [-(2^(b-1)-1), 2^(b-1)-1]}, which at 1 bit holds only the code 0, so 1-bit and
 *       ternary weights are the BINARY and TERNARY quantizers instead.</li>
 *   <li>Inputs: {@value #MIN_INPUT_BITS}..max bits (a 1-bit unsigned input has the codes {0, 1}; a
 *       signed one needs 2, which {@code QuantSettings} checks where signedness is known).</li>
 *   <li>max depends on where the numbers go ({@link Target}): {@value #MAX_BITS} for fake quantization
 *       in float (QAT, PTQ plans, sensitivity analysis), {@value #INT8_RUNTIME_MAX_BITS} for anything
 *       that ends in the INT8 runtime, whose codes are int8 (the exporter, and every configuration
 *       section, since every run ends in the integer export).</li>
 * </ul>
 */
public final class BitWidths {

    /** Fewest bits of uniform (FIXED, LSQ, LSQ+) weights. */
    public static final int MIN_WEIGHT_BITS = 2;
    /** Fewest bits of quantized inputs. */
    public static final int MIN_INPUT_BITS = 1;
    /** Most bits a fake quantizer simulates (the float mantissa keeps 16-bit codes exact). */
    public static final int MAX_BITS = 16;
    /** Most bits the INT8 runtime holds, weights and inputs alike (its codes are int8). */
    public static final int INT8_RUNTIME_MAX_BITS = 8;

    /** Where the quantized numbers go, which sets the largest width. */
    public enum Target {
        /** Fake quantization in float: QAT layers, PTQ recipes and plans, sensitivity analysis; up to {@value #MAX_BITS} bits. */
        SIMULATION,
        /** The integer model and the INT8 runtime: up to {@value #INT8_RUNTIME_MAX_BITS} bits. */
        INT8_RUNTIME;

        /** The largest width for this target. */
        public int maxBits() {
            return switch (this) {
                case SIMULATION -> MAX_BITS;
                case INT8_RUNTIME -> INT8_RUNTIME_MAX_BITS;
            };
        }
    }

    private BitWidths() {
    }

    /** Whether {@code bits} is a valid width of uniform weights for {@code target}. */
    public static boolean isWeightBits(int bits, Target target) {
        return bits >= MIN_WEIGHT_BITS && bits <= target.maxBits();
    }

    /** Whether {@code bits} is a valid input (activation) width for {@code target}. */
    public static boolean isInputBits(int bits, Target target) {
        return bits >= MIN_INPUT_BITS && bits <= target.maxBits();
    }

    /**
     * @param field the name of the value in the caller's words (e.g. {@code "ptq.weightBits"}, {@code "layer 'conv1': weightBits"})
     * @return {@code bits}
     * @throws IllegalArgumentException naming {@code field}, the allowed range and {@code bits}
     */
    public static int checkWeightBits(String field, int bits, Target target) {
        if (!isWeightBits(bits, target)) {
            throw new IllegalArgumentException(field + " must be " + weightRange(target) + " for uniform weights" + note(target) + ", got "
                    + bits + " (1-bit and ternary weights are the BINARY and TERNARY quantizers)");
        }
        return bits;
    }

    /**
     * @param field the name of the value in the caller's words (e.g. {@code "ptq.inputBits"})
     * @return {@code bits}
     * @throws IllegalArgumentException naming {@code field}, the allowed range and {@code bits}
     */
    public static int checkInputBits(String field, int bits, Target target) {
        if (!isInputBits(bits, target)) {
            throw new IllegalArgumentException(field + " must be " + inputRange(target) + note(target) + ", got " + bits);
        }
        return bits;
    }

    /** "2..16" or "2..8": the uniform weight widths of {@code target}, for messages. */
    public static String weightRange(Target target) {
        return MIN_WEIGHT_BITS + ".." + target.maxBits();
    }

    /** "1..16" or "1..8": the input widths of {@code target}, for messages. */
    public static String inputRange(Target target) {
        return MIN_INPUT_BITS + ".." + target.maxBits();
    }

    private static String note(Target target) {
        return switch (target) {
            case SIMULATION -> " (the INT8 runtime takes at most " + INT8_RUNTIME_MAX_BITS + ")";
            case INT8_RUNTIME -> " (the INT8 runtime's range)";
        };
    }
}
