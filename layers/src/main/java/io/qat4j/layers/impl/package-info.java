/**
 * The layer implementations of qat4j's quantized DL4J layers ({@code activate}, {@code backpropGradient},
 * {@code applyConstraints}) and the glue between DL4J's parameter views and the quantizer kernels:
 * {@link io.qat4j.layers.impl.InputQuantization} (activations: signedness from the data, step floors),
 * {@link io.qat4j.layers.impl.WeightQuantization} (the one source of weight steps) and
 * {@link io.qat4j.layers.impl.BiasQuantization} (the int32 bias grid). The quantizer math itself lives in
 * {@code ste} and {@code lsq}; this package only calls it.
 *
 * <p>May depend on {@code ste}, {@code lsq}, deeplearning4j-nn and the rest of {@code io.qat4j.layers}.
 * Nothing outside {@code layers} should import it: exporters read quantizer state through
 * {@link io.qat4j.layers.QuantizerReadout}.
 */
package io.qat4j.layers.impl;
