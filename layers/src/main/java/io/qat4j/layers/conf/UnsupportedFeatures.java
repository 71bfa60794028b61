package io.qat4j.layers.conf;

import org.deeplearning4j.nn.conf.layers.BaseLayer;

/**
 * Rejects the DL4J layer features the quantized layers do not implement: weight noise (DropConnect)
 * and, on dense layers, layer normalization, with an error naming the layer. Dropout
 * is implemented: the quantized layers apply DL4J's {@code IDropout} to their input in training,
 * before the input quantizer, and nothing at inference, as DL4J's own layers do.
 */
final class UnsupportedFeatures {

    private UnsupportedFeatures() {
    }

    static void requireSupported(BaseLayer base, String name, boolean layerNorm) {
        String layer = name == null ? "(unnamed)" : name;
        if (base.getWeightNoise() != null) {
            throw new IllegalArgumentException("layer '" + layer + "': weight noise (DropConnect etc.) on a quantized layer is not supported");
        }
        if (layerNorm) {
            throw new IllegalArgumentException("layer '" + layer + "': layer normalization on a quantized dense layer is not supported");
        }
    }
}
