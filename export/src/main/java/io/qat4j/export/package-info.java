/**
 * Export of trained QAT networks (MultiLayerNetwork or ComputationGraph): the runtime's integer
 * graph ({@link io.qat4j.export.Int8Exporter}, one walk for both network kinds in
 * {@code GraphExporter}, producing an {@link io.qat4j.runtime.Int8Graph}), ONNX QDQ
 * ({@link io.qat4j.export.OnnxExporter}, built with {@code OnnxGraph}) and float ONNX of any float
 * network ({@link io.qat4j.export.FloatOnnxExporter}). The only place that knows both where the
 * scales live in the DL4J layers and how the runtime consumes them.
 *
 * <p>May depend on {@code runtime}, {@code ste}, {@code lsq} (its step constants), the public API of {@code layers} (configs,
 * {@link io.qat4j.layers.QuantSettings}, {@link io.qat4j.layers.QuantizerReadout} for quantizer state;
 * never {@code io.qat4j.layers.impl}) and deeplearning4j-nn (with the ONNX protobuf classes that
 * nd4j-api carries).
 */
package io.qat4j.export;
