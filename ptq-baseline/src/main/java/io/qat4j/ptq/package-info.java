/**
 * Post-training quantization: calibration, PTQ passes, sensitivity analysis and bit allocation
 * ({@link io.qat4j.ptq.BitAllocator}). Depends on {@code io.qat4j.layers} and {@code io.qat4j.runtime} (its atomic file writer only).
 */
package io.qat4j.ptq;
