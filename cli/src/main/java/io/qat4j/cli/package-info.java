/**
 * The {@code qat4j} command line (picocli), the application on top of the libraries: one
 * {@code Callable<Integer>} per subcommand ({@link io.qat4j.cli.Qat4jCommand} lists them); what the
 * run commands share: reading their configuration and, for the commands that quantize a trained
 * model, its FP32 model and data ({@code RunInputs}), the checks of {@code --out}, {@code --resume}
 * and {@code --force} before any work ({@code OutputDirectory}), JSON outputs ({@code JsonFiles}),
 * console progress ({@code ProgressBars}: per-epoch bars implementing
 * {@link io.qat4j.training.Trainer.Progress}, the per-epoch lines); the experiment report
 * ({@code ExperimentReport}: {@code report.md}, {@code results.csv}, plots through XChart;
 * {@code results.json} is written by {@link io.qat4j.training.experiment.ExperimentResults}); and
 * {@code qat4j bench} (JMH and ONNX Runtime through module {@code bench}). Commands read
 * configurations, check the output directory and report errors in the user's words; the work is
 * done by {@code io.qat4j.training} and the library modules below it.
 *
 * <p>May depend on every qat4j module; it is the only package that depends on picocli, XChart and
 * progressbar, and the only one besides {@code bench} on JMH and ONNX Runtime. Nothing depends on it.
 * Exit codes: 0 success, 1 a check or run failed, 2 bad usage or input.
 */
package io.qat4j.cli;
