/**
 * Learnable quantizers with hand-derived gradients for the input and for their own parameters:
 * {@link io.qat4j.lsq.LsqQuantizer} (learned step size), {@link io.qat4j.lsq.LsqPlusQuantizer}
 * (learned step and offset) and {@link io.qat4j.lsq.PactQuantizer} (learned clipping level).
 *
 * <p>The arithmetic lives once, in {@link io.qat4j.lsq.LsqKernels} and {@link io.qat4j.lsq.PactKernels}
 * ({@code double[]}, tested element by element against {@code LearnedReference}); the INDArray
 * quantizers and the DL4J layers both run it.
 *
 * <p>Depends on {@code io.qat4j.ste} (specs, groupings, exact rounding) and nd4j-api. Parameters
 * travel as {@code double[]} (one entry per quantization group); DL4J layers copy them from and
 * their gradients into their parameter views.
 */
package io.qat4j.lsq;
