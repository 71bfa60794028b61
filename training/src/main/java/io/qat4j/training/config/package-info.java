/**
 * YAML configurations mapped to typed, validated records: {@link io.qat4j.training.config.RunConfig}
 * (one command's run: data, model, training, PTQ, QAT) and
 * {@link io.qat4j.training.config.ExperimentConfig} (an FP32 stage and variants), both read by
 * {@link io.qat4j.training.config.ConfigLoader} with errors in qat4j's words that name the file, line
 * and key and say what to change ({@link io.qat4j.training.config.ConfigException}).
 *
 * <p>May depend on jackson (databind, dataformat-yaml), the option types of the library modules it
 * configures ({@code layers}, {@code ptq-baseline}, {@code datasets}, {@code export}'s export check)
 * and {@code io.qat4j.training}; not on {@code experiment} or the command line.
 */
package io.qat4j.training.config;
