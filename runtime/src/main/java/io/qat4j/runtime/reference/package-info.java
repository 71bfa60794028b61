/**
 * Reference integer kernels: one plain loop per kernel over an int32 accumulator, requantized with
 * {@link io.qat4j.runtime.FixedPoint} (TFLite semantics). These define the runtime's exact output;
 * the optimized kernels ({@code io.qat4j.runtime.optimized}) must reproduce them byte for byte.
 * May depend on {@code io.qat4j.runtime} and the JDK only.
 */
package io.qat4j.runtime.reference;
