package io.qat4j.ste;

/**
 * How {@code x/s} becomes an integer code.
 *
 * <ul>
 *   <li>{@link #HALF_EVEN}: ties to the even integer (default for weights; matches ONNX
 *       QuantizeLinear and {@link Math#rint}).</li>
 *   <li>{@link #HALF_AWAY}: ties away from zero (C {@code round}, TFLite's {@code TfLiteRound},
 *       ND4J's {@code round}).</li>
 *   <li>{@link #HALF_UP}: ties toward +infinity, {@code floor(v + 1/2)} computed exactly. This is
 *       how the integer model rounds every activation code: TFLite's single-rounding requantization
 *       {@code (acc M0 + 2^(30-shift)) >> (31-shift)} and the runtime's quantization of the network
 *       input. Activation quantizers use it so that the fake-quant network and the integer model
 *       agree on exact ties (runtime/FORMAT.md, "Rounding").</li>
 *   <li>{@link #STOCHASTIC}: {@code floor(v) + [u < v - floor(v)]} with {@code u ~ U[0,1)} drawn
 *       from a generator seeded by {@link QuantSpec#seed()}; unbiased: {@code E[round(v)] = v}.</li>
 * </ul>
 * Every mode maps {@code +inf} to {@code +inf} and {@code -inf} to {@code -inf} (the quantizer's clamp
 * then gives qmax / qmin) and keeps NaN as NaN.
 */
public enum Rounding {
    HALF_EVEN,
    HALF_AWAY,
    HALF_UP,
    STOCHASTIC
}
