/**
 * The coverage matrix of issue 16 (test only): the architectures users bring
 * ({@link io.qat4j.cli.coverage.CoverageNetworks}) through wrap, calibration, QAT steps, integer
 * export, both kernel sets and ONNX Runtime ({@link io.qat4j.cli.coverage.CoverageMatrixTest}),
 * written to {@code cli/target/coverage-matrix.md}. May depend on every qat4j module, ONNX Runtime
 * and deeplearning4j-zoo.
 */
package io.qat4j.cli.coverage;
