/**
 * Post-training quantization: calibration, PTQ passes, sensitivity analysis and bit allocation
 * ({@link io.qat4j.ptq.BitAllocator}). Every pass takes a MultiLayerNetwork or a ComputationGraph
 * and runs one algorithm for both through {@link io.qat4j.ptq.NetworkView}, keyed by layer and
 * tensor names. Depends on {@code io.qat4j.layers} and {@code io.qat4j.runtime} (its atomic file writer only).
 */
package io.qat4j.ptq;
