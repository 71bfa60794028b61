package io.qat4j.layers.conf;

import io.qat4j.layers.QuantSettings;

/** A DL4J layer configuration that carries {@link QuantSettings}. */
public interface QuantizedLayerConf {

    QuantSettings getQuant();

    void setQuant(QuantSettings quant);

    /** The layer name, or a placeholder when DL4J has not named it. */
    default String nameForMessages(String layerName) {
        return layerName == null ? "(unnamed)" : layerName;
    }
}
