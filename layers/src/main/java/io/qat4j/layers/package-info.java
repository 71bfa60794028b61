/**
 * DL4J integration, the public API of module {@code layers}: {@link io.qat4j.layers.QuantSettings}
 * (what a quantized layer does to its weights and inputs) and
 * {@link io.qat4j.layers.QuantizationPlan} (which settings where); {@code QuantizedModel.wrap} with
 * graph-mode preparation (activation quantizers placed where the integer model needs them,
 * {@link io.qat4j.layers.PlacementRule}; one algorithm for MultiLayerNetwork and ComputationGraph in
 * {@code GraphPreparation}), {@code QuantizedModel.calibrate} and {@code unwrap}; BN folding
 * ({@link io.qat4j.layers.BatchNormFolding}, with the one reader of DL4J's stored batch-norm
 * statistics, {@link io.qat4j.layers.BatchNormStatistics}); {@link io.qat4j.layers.QuantizerReadout},
 * the public read-out of quantizer state that the {@code export} module reads instead of
 * {@code layers.impl}; the warnings quantizers raise ({@link io.qat4j.layers.QuantizationWarnings});
 * and the reference CNN ({@link io.qat4j.layers.ReferenceCnn}). The layers themselves are in
 * {@code conf} (configurations), {@code impl} (implementations) and {@code params} (parameter
 * initializers).
 *
 * <p>May depend on {@code ste}, {@code lsq} and deeplearning4j-nn; not on {@code runtime} (the
 * integer export lives in {@code export}).
 */
package io.qat4j.layers;
