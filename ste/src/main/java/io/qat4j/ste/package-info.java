/**
 * Quantizer mathematics on ND4J arrays: {@link io.qat4j.ste.QuantSpec} (what to quantize to),
 * {@link io.qat4j.ste.QParams} (scales and zero points), {@link io.qat4j.ste.UniformQuantizer}
 * (quantize, dequantize, fake-quant and the clipped straight-through-estimator backward),
 * {@link io.qat4j.ste.BinaryQuantizer} and {@link io.qat4j.ste.TernaryQuantizer}, and the
 * observers that turn statistics into qparams ({@link io.qat4j.ste.MinMaxObserver},
 * {@link io.qat4j.ste.MovingAverageMinMaxObserver}).
 *
 * <p>The arithmetic itself lives once, in the {@code double[]} kernels {@link io.qat4j.ste.UniformKernels}
 * (with {@link io.qat4j.ste.RoundingOps}, {@link io.qat4j.ste.QuantGroups#groupOf} and
 * {@link io.qat4j.ste.ChunkedLoop}); the INDArray ops and the DL4J layers copy tensors to and from
 * them ({@link io.qat4j.ste.FlatArrays}).
 *
 * <p>Depends on nd4j-api only. Every op has a plain {@code double[]} reference in this module's
 * test-jar ({@code io.qat4j.ste.reference.QuantReference}) that the tests compare against.
 *
 * <p>Arithmetic convention: ops compute in float64 internally and return the input's data type,
 * so rounding ties are decided exactly as the reference decides them, whatever ND4J's own
 * {@code round} does (it rounds half away from zero).
 */
package io.qat4j.ste;
