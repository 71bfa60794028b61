/**
 * JMH benchmarks of qat4j's costs: fake quantization ({@code FakeQuantBenchmark}), requantization
 * ({@code FixedPointBenchmark}), a QAT training step ({@code QatTrainingBenchmark}), DL4J's and
 * libnd4j's convolutions ({@code Conv2dBackendBenchmark}, {@code NativeConv2dBenchmark}), the INT8
 * runtime's kernels ({@code Int8RuntimeBenchmark}) and inference by four engines on one network
 * ({@link io.qat4j.bench.InferenceBenchmark} over {@link io.qat4j.bench.InferenceModels}: DL4J FP32,
 * the qat4j INT8 runtime, ONNX Runtime on the QDQ and on the float export); {@code NodeProfile} is
 * a per-node profile of the runtime, not a benchmark. Benchmarks return their results (JMH consumes
 * them), never print timings, and are never run as unit tests; {@code qat4j bench} (module
 * {@code cli}) runs them.
 *
 * <p>May depend on {@code runtime}, {@code ste}, {@code layers}, {@code export}, JMH and ONNX
 * Runtime; nothing in the libraries depends on this package.
 */
package io.qat4j.bench;
