/**
 * The configuration classes of qat4j's quantized DL4J layers (JSON-serializable, DL4J's builder
 * conventions): {@code QuantizedDenseLayer}, {@code QuantizedOutputLayer},
 * {@code QuantizedConvolutionLayer}, {@code QuantizedConvBatchNormLayer} (QAT-time folded conv + BN),
 * {@code QuantizedDepthwiseConvolutionLayer}, {@code QuantizedSeparableConvolutionLayer} (with its
 * quantizer between the depthwise and pointwise parts) and {@code ActivationQuantizerLayer}, each
 * carrying its {@link io.qat4j.layers.QuantSettings} ({@link io.qat4j.layers.conf.QuantizedLayerConf}).
 * What they do alike is shared by delegation, since they extend different DL4J classes:
 * {@code LayerParamWiring} (implementation wired to its parameters, updaters and regularization of
 * quantizer parameters), {@code UnsupportedFeatures} (DL4J features refused with the layer's name)
 * and {@code ConfigCopy} (a stock DL4J configuration copied into its quantized subclass).
 *
 * <p>May depend on deeplearning4j-nn, {@code io.qat4j.layers} and its {@code impl} and {@code params}
 * packages (a configuration instantiates its implementation and parameter initializer).
 */
package io.qat4j.layers.conf;
