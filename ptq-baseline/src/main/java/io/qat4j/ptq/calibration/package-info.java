/**
 * Activation calibration: {@link io.qat4j.ptq.calibration.ActivationStatistics} gathers one
 * streaming pass of statistics per tensor (with a uniform power-of-two-width |x| histogram,
 * {@code DyadicHistogram}, and a relative-accuracy log-linear one, {@code LogLinearHistogram},
 * both independent of batch order); the {@link io.qat4j.ptq.calibration.Calibrator}s (min-max,
 * moving average, percentile, entropy/KL, MSE, ACIQ) turn them into ranges. Depends on nd4j-api
 * only.
 */
package io.qat4j.ptq.calibration;
