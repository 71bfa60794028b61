package io.qat4j.ste;

import java.util.SplittableRandom;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Uniform affine/symmetric quantizer with the clipped straight-through estimator.
 *
 * <p>Forward: {@code q = clamp(round(x/s) + z, qmin, qmax)} ({@link #quantize}),
 * {@code x^ = s (q - z)} ({@link #dequantize}), and both at once ({@link #fakeQuant}).
 * Backward ({@link #backward}, clipped STE, DESIGN.md): {@code dx^/dx = 1} where
 * {@code qmin <= x/s + z <= qmax} and 0 elsewhere, i.e. gradients outside the clamp range are
 * <em>zeroed</em>, inside they pass through unchanged (Bengio et al. 2013; Jacob et al. 2018).
 *
 * <p>qmin/qmax and the meaning of scale/zero point per group come from {@link QuantSpec} and
 * {@link QuantGroups}. The arithmetic is {@link UniformKernels}' (float64, element by element); this
 * class copies INDArrays to and from it and draws the stochastic-rounding noise. Results take the
 * input's data type.
 *
 * <p>Stochastic rounding draws one {@code u ~ U[0,1)} per element, in C order of the input, from a
 * {@link SplittableRandom} seeded with {@link QuantSpec#seed()} when this quantizer is created; the
 * stream advances with every call, so a run is reproducible for a given seed and call sequence.
 * Thread-safe.
 */
public final class UniformQuantizer {

    private final QuantSpec spec;
    private final SplittableRandom random;

    public UniformQuantizer(QuantSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("UniformQuantizer: spec must not be null");
        }
        this.spec = spec;
        this.random = new SplittableRandom(spec.seed());
    }

    public QuantSpec spec() {
        return spec;
    }

    /**
     * Integer codes {@code clamp(round(x/s) + z, qmin, qmax)} as an INT32 array of {@code x}'s shape;
     * {@code +inf} gives qmax and {@code -inf} qmin.
     *
     * @throws IllegalArgumentException if {@code x} holds NaN (it has no code), naming its flat index
     */
    public INDArray quantize(INDArray x, QParams qp) {
        QuantGroups groups = groupsFor(x, qp);
        double[] codes = UniformKernels.quantize(FlatArrays.read(x), groups, qp.scales(), qp.zeroPoints(), spec.qmin(), spec.qmax(),
                spec.rounding(), noise(codesLength(groups)));
        int[] q = new int[codes.length];
        for (int i = 0; i < q.length; i++) {
            if (Double.isNaN(codes[i])) {
                throw new IllegalArgumentException("UniformQuantizer.quantize: element " + i + " of the input is NaN and has no "
                        + "integer code; fakeQuant keeps NaN, quantize cannot");
            }
            q[i] = (int) codes[i];
        }
        return Nd4j.createFromArray(q).reshape('c', x.shape());
    }

    /** {@code s (q - z)} as an array of {@code type}. */
    public INDArray dequantize(INDArray q, QParams qp, DataType type) {
        QuantGroups groups = groupsFor(q, qp);
        return FlatArrays.write(UniformKernels.dequantize(FlatArrays.read(q), groups, qp.scales(), qp.zeroPoints()), q.shape(), type);
    }

    /**
     * {@code dequantize(quantize(x))} in {@code x}'s data type: {@code +inf} gives
     * {@code s (qmax - z)}, {@code -inf} gives {@code s (qmin - z)}, NaN stays NaN.
     */
    public INDArray fakeQuant(INDArray x, QParams qp) {
        QuantGroups groups = groupsFor(x, qp);
        double[] out = UniformKernels.fakeQuant(FlatArrays.read(x), groups, qp.scales(), null, qp.zeroPoints(), spec.qmin(), spec.qmax(),
                spec.rounding(), noise(codesLength(groups)));
        return FlatArrays.write(out, x.shape(), x.dataType());
    }

    /**
     * Clipped STE: {@code gradOut} where {@code qmin <= x/s + z <= qmax}, 0 elsewhere (and for NaN
     * inputs), in {@code gradOut}'s data type.
     */
    public INDArray backward(INDArray x, INDArray gradOut, QParams qp) {
        QuantGroups groups = groupsFor(x, qp);
        if (!java.util.Arrays.equals(x.shape(), gradOut.shape())) {
            throw new IllegalArgumentException("UniformQuantizer.backward: gradient shape " + java.util.Arrays.toString(gradOut.shape())
                    + " differs from input shape " + java.util.Arrays.toString(x.shape()));
        }
        double[] g = FlatArrays.read(gradOut);
        UniformKernels.steBackward(FlatArrays.read(x), g, groups, qp.scales(), null, qp.zeroPoints(), spec.qmin(), spec.qmax());
        return FlatArrays.write(g, gradOut.shape(), gradOut.dataType());
    }

    private QuantGroups groupsFor(INDArray x, QParams qp) {
        QuantGroups groups = QuantGroups.of(spec, x.shape());
        if (qp.size() != groups.groups()) {
            throw new IllegalArgumentException("UniformQuantizer: qparams have " + qp.size() + " entries but " + spec.granularity()
                    + " quantization of shape " + java.util.Arrays.toString(x.shape()) + " needs " + groups.groups());
        }
        return groups;
    }

    private static int codesLength(QuantGroups groups) {
        return Math.toIntExact(groups.size());
    }

    /** One {@code u ~ U[0,1)} per element in C order for STOCHASTIC rounding, else null. */
    private double[] noise(int n) {
        if (spec.rounding() != Rounding.STOCHASTIC) {
            return null;
        }
        double[] u = new double[n];
        synchronized (random) {
            for (int i = 0; i < u.length; i++) {
                u[i] = random.nextDouble();
            }
        }
        return u;
    }
}
