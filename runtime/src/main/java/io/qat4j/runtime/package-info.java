/**
 * The qat4j INT8 runtime: fixed-point arithmetic ({@link io.qat4j.runtime.FixedPoint}) with
 * TFLite/gemmlowp semantics; the integer graph ({@link io.qat4j.runtime.Int8Graph}) whose node types form
 * the closed set {@link io.qat4j.runtime.NodeKind} (every place that treats kinds differently switches
 * on it without a default); the model file ({@link io.qat4j.runtime.ModelFile}: a reader and a writer);
 * and {@link io.qat4j.runtime.Int8Model}, which runs a graph on a {@link io.qat4j.runtime.KernelSet}
 * (reference or optimized kernels with their per-node prepared state).
 * It also holds the one atomic file writer every qat4j module uses ({@link io.qat4j.runtime.AtomicFiles}).
 *
 * <p>Depends on the JDK only; the build enforces it (maven-enforcer {@code bannedDependencies}
 * in this module's pom): nothing here may import ND4J, DL4J or any other library.
 */
package io.qat4j.runtime;
