/**
 * The {@code qat4j} command line (picocli), the application on top of the libraries: one
 * {@code Callable<Integer>} per subcommand, the experiment report ({@code report.md},
 * {@code results.csv}, plots through XChart; {@code results.json} is written by
 * {@link io.qat4j.training.experiment.ExperimentResults}), console progress bars (progressbar,
 * implementing {@link io.qat4j.training.Trainer.Progress}) and {@code qat4j bench} (JMH, ONNX Runtime
 * through module bench). Commands read configurations, check the output directory and report
 * errors in the user's words; the work is done by {@code io.qat4j.training} and the modules below
 * it. Only this package depends on picocli, XChart, progressbar, JMH and ONNX Runtime.
 * Exit codes: 0 success, 1 a check or run failed, 2 bad usage or input.
 */
package io.qat4j.cli;
