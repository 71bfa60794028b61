/**
 * Training, experiments and run provenance ({@link io.qat4j.training.Provenance}); the command line
 * lives in {@code io.qat4j.training.cli}. Depends on every other qat4j module and DL4J.
 */
package io.qat4j.training;
