/**
 * YAML run configurations mapped to typed, validated records ({@link io.qat4j.training.config.RunConfig})
 * by {@link io.qat4j.training.config.ConfigLoader}, with errors that name the file, line and key.
 */
package io.qat4j.training.config;
