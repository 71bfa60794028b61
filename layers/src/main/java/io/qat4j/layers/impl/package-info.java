/**
 * The layer implementations of qat4j's quantized DL4J layers ({@code activate}, {@code backpropGradient},
 * {@code applyConstraints}) and the glue between DL4J's parameter views and the quantizer kernels:
 * {@code LayerQuantizers} (one per layer instance: input and weights fake-quantized on the way in,
 * straight-through gradients and quantizer gradients on the way back),
 * {@link io.qat4j.layers.impl.InputQuantization} (activations: signedness from the data, step floors,
 * calibrated ranges), {@link io.qat4j.layers.impl.WeightQuantization} (the one source of weight
 * steps), {@link io.qat4j.layers.impl.BiasQuantization} (the int32 bias grid) and
 * {@code NativeConvolution} (libnd4j's conv2d and depthwise ops). The quantizer math itself lives in
 * {@code ste} and {@code lsq}; this package only calls it.
 *
 * <p>May depend on {@code ste}, {@code lsq}, deeplearning4j-nn and the rest of {@code io.qat4j.layers}.
 * Outside {@code layers}, only the PTQ passes of {@code ptq-baseline} call into it (they run and set
 * the input quantizers, {@code InputQuantization.forward} and {@code setRange}, and read a separable
 * convolution's depthwise output), and {@code spark}'s re-synchronisation of signedness after an
 * averaging round ({@code unsignedToSignedStepFactor}); the exporters never do: they read quantizer state through
 * {@link io.qat4j.layers.QuantizerReadout}.
 */
package io.qat4j.layers.impl;
