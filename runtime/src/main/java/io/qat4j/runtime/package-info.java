/**
 * The qat4j INT8 runtime: fixed-point arithmetic ({@link io.qat4j.runtime.FixedPoint}) with
 * TFLite/gemmlowp semantics, and (as it lands) the integer model format and kernels. Also the
 * one atomic file writer every qat4j module uses ({@link io.qat4j.runtime.AtomicFiles}).
 *
 * <p>Depends on the JDK only; the build enforces it (maven-enforcer {@code bannedDependencies}
 * in this module's pom): nothing here may import ND4J, DL4J or any other library.
 */
package io.qat4j.runtime;
