package io.qat4j.layers;

/** How a quantized layer fake-quantizes the activations that enter it. */
public enum InputQuantMode {
    /** Float inputs. */
    NONE,
    /** Affine per-tensor quantizer, range from a moving-average min-max observer (c = averagingConstant). */
    FIXED,
    /** LSQ: learned step, initialized from the first training batch or a calibrated range. */
    LSQ,
    /** LSQ+: learned step and offset. */
    LSQ_PLUS,
    /** PACT: learned clipping level alpha with L2 decay (unsigned inputs only). */
    PACT
}
