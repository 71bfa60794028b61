package io.qat4j.layers;

/** How a quantized layer fake-quantizes its weights during training and inference. */
public enum WeightQuantMode {
    /** Float weights. */
    NONE,
    /** Symmetric narrow-range uniform quantizer, scale from the current min-max of the weights, clipped STE. */
    FIXED,
    /** LSQ: learned step per tensor or per output channel (Esser et al. 2020). */
    LSQ,
    /** LSQ+: learned step and offset (Bhalgat et al. 2020). */
    LSQ_PLUS,
    /** BWN: {@code mean|w| sign(w)} per tensor or output channel, hard-tanh STE. */
    BINARY,
    /** TWN: {@code alpha {-1, 0, 1}} with {@code delta = 0.7 mean|w|}, straight-through gradient. */
    TERNARY
}
