/**
 * Plain {@code double[]} reference implementations of the quantizer ops
 * ({@link io.qat4j.ste.reference.QuantReference}), written from DESIGN.md's formulas element by
 * element, that the tests of {@code ste}, {@code lsq} and {@code layers} compare the INDArray ops and
 * kernels against. Published in this module's test-jar. May depend on the JDK and on
 * {@link io.qat4j.ste.QuantSpec}'s raw fields only (no ND4J arithmetic), so that it stays independent of
 * what it checks.
 */
package io.qat4j.ste.reference;
