package io.qat4j.layers.conf;

import org.deeplearning4j.nn.conf.layers.BaseLayer;

/** Checks for DL4J layer features the quantized layers do not implement (package-private). */
final class Support {

    private Support() {
    }

    static void requireSupported(BaseLayer base, String name, boolean layerNorm) {
        String layer = name == null ? "(unnamed)" : name;
        if (base.getIDropout() != null) {
            throw new IllegalArgumentException("layer '" + layer + "': dropout on a quantized layer is not supported; "
                    + "remove it or put a DropoutLayer before the layer");
        }
        if (base.getWeightNoise() != null) {
            throw new IllegalArgumentException("layer '" + layer + "': weight noise (DropConnect etc.) on a quantized layer is not supported");
        }
        if (layerNorm) {
            throw new IllegalArgumentException("layer '" + layer + "': layer normalization on a quantized dense layer is not supported");
        }
    }
}
