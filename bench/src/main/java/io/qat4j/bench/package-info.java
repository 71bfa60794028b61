/**
 * JMH benchmarks. Benchmarks return their results (JMH consumes them), never print timings, and
 * are never run as unit tests. Depends on runtime, ste and layers.
 */
package io.qat4j.bench;
