/**
 * Export of trained QAT networks to the runtime's integer graph ({@link io.qat4j.runtime.Int8Graph}):
 * {@link io.qat4j.layers.export.Int8Exporter}. The only place that knows both where the scales live
 * in the DL4J layers and how the runtime consumes them.
 */
package io.qat4j.layers.export;
