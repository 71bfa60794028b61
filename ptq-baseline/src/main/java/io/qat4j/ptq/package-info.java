/**
 * Post-training quantization: activation calibration ({@link io.qat4j.ptq.Calibration}, calibrators
 * in {@code calibration}), the PTQ passes (BN folding, cross-layer equalization, weight ranges, bias
 * correction, AdaRound) in the order a {@link io.qat4j.ptq.PtqRecipe} gives, run by
 * {@link io.qat4j.ptq.PostTrainingQuantizer}; sensitivity analysis
 * ({@link io.qat4j.ptq.SensitivityAnalysis}) and bit allocation ({@link io.qat4j.ptq.BitAllocator});
 * per-layer diagnostics against the integer model ({@link io.qat4j.ptq.LayerDiagnostics}); and the
 * plan they produce, {@link io.qat4j.ptq.QuantPlan} (JSON). Every pass takes a MultiLayerNetwork or
 * a ComputationGraph and runs one algorithm for both through {@link io.qat4j.ptq.NetworkView}, keyed
 * by layer and tensor names.
 *
 * <p>May depend on {@code io.qat4j.layers} (its public API, and from {@code layers.impl} the input
 * quantizer and the separable convolution's depthwise output, which calibration runs), {@code ste},
 * {@code io.qat4j.runtime} (its atomic file writer, and the integer model that
 * {@code LayerDiagnostics} compares with), deeplearning4j-nn and jackson-databind (the plan file).
 */
package io.qat4j.ptq;
