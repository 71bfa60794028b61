package io.qat4j.ste;

/**
 * How {@code x/s} becomes an integer code.
 *
 * <ul>
 *   <li>{@link #HALF_EVEN}: ties to the even integer (default; matches ONNX QuantizeLinear and
 *       {@link Math#rint}).</li>
 *   <li>{@link #HALF_AWAY}: ties away from zero (C {@code round}, TFLite's {@code TfLiteRound},
 *       ND4J's {@code round}).</li>
 *   <li>{@link #STOCHASTIC}: {@code floor(v) + [u < v - floor(v)]} with {@code u ~ U[0,1)} drawn
 *       from a generator seeded by {@link QuantSpec#seed()}; unbiased: {@code E[round(v)] = v}.</li>
 * </ul>
 */
public enum Rounding {
    HALF_EVEN,
    HALF_AWAY,
    STOCHASTIC
}
