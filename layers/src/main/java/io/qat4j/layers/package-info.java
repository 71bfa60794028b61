/**
 * DL4J integration: quantized layers, BN folding ({@link io.qat4j.layers.BatchNormFolding}),
 * {@code QuantizedModel.wrap}, and {@link io.qat4j.layers.QuantizerReadout}, the public read-out of
 * quantizer state that the {@code export} module reads instead of {@code layers.impl}.
 * Depends on ste, lsq and deeplearning4j-nn (not on runtime: the integer export lives in {@code export}).
 */
package io.qat4j.layers;
