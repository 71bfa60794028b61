/**
 * DL4J integration: quantized layers, BN folding ({@link io.qat4j.layers.BatchNormFolding}),
 * {@code QuantizedModel.wrap} with graph-mode preparation (activation quantizers placed where the
 * integer model needs them, {@link io.qat4j.layers.PlacementRule}; one algorithm for
 * MultiLayerNetwork and ComputationGraph in {@code GraphPreparation}), {@code QuantizedModel.calibrate},
 * and {@link io.qat4j.layers.QuantizerReadout}, the public read-out of
 * quantizer state that the {@code export} module reads instead of {@code layers.impl}.
 * Depends on ste, lsq and deeplearning4j-nn (not on runtime: the integer export lives in {@code export}).
 */
package io.qat4j.layers;
