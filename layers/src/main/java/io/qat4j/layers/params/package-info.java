/**
 * Parameter initializers of the quantized layers: DL4J's weight and bias keys followed by the
 * quantizer parameters ({@link io.qat4j.layers.params.QuantizerParams}: weight step/offset, input range,
 * step, offset, PACT alpha, count; a separable convolution's pointwise weight quantizer and mid
 * quantizer under the prefixes {@code p} and {@code mid}), all in DL4J's flattened parameter vector
 * so that serialization, updaters and parameter averaging carry them.
 *
 * <p>May depend on deeplearning4j-nn and {@code io.qat4j.layers}.
 */
package io.qat4j.layers.params;
