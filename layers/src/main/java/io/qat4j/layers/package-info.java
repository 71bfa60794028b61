/**
 * DL4J integration: quantized layers, BN folding ({@link io.qat4j.layers.BatchNormFolding}) and,
 * as they land, {@code QuantizedModel.wrap} and the integer exporter.
 * Depends on ste, lsq, runtime and deeplearning4j-nn.
 */
package io.qat4j.layers;
