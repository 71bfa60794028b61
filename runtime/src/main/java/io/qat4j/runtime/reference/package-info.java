/**
 * Reference integer kernels: one plain loop per kernel over an int32 accumulator, requantized with
 * {@link io.qat4j.runtime.FixedPoint} (TFLite semantics). These define the runtime's exact output;
 * optimized kernels (a sibling package, later) must reproduce them byte for byte.
 */
package io.qat4j.runtime.reference;
