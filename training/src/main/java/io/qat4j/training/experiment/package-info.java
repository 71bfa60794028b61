/**
 * The experiment runner's Java API: {@link io.qat4j.training.experiment.Experiment} runs an
 * {@link io.qat4j.training.config.ExperimentConfig} (read from YAML or built in code) and returns
 * typed results ({@link io.qat4j.training.experiment.ExperimentResults}: an
 * {@link io.qat4j.training.experiment.Fp32Result} and one
 * {@link io.qat4j.training.experiment.VariantResult} per variant, each with its status and its own
 * {@link io.qat4j.training.experiment.StageProvenance}), also written as {@code results.json} with
 * paths relative to the output directory. Depends on the rest of {@code training} and the library
 * modules; rendering the results (Markdown, CSV, plots) is the command line's, in module {@code cli}.
 */
package io.qat4j.training.experiment;
