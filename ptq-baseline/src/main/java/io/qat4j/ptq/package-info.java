/**
 * Post-training quantization: calibration, PTQ passes, sensitivity analysis and bit allocation
 * ({@link io.qat4j.ptq.BitAllocator}). Depends on {@code io.qat4j.layers}.
 */
package io.qat4j.ptq;
