/**
 * A seeded, deterministic mutation fuzzer for the parsers a user can feed (model file, YAML
 * configuration, QuantPlan JSON, IDX, CSV). Depends on the JDK only; published in the runtime test-jar so every
 * module's fuzz target shares one implementation. {@link io.qat4j.fuzz.Fuzzer} runs a target,
 * {@link io.qat4j.fuzz.Mutator} makes the inputs, {@link io.qat4j.fuzz.FuzzReport} counts the outcomes.
 */
package io.qat4j.fuzz;
