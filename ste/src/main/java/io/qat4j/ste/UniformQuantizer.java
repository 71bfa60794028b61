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
 * {@link QuantGroups}. Computation is in float64; results take the input's data type.
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
        INDArray rows = codeRows(groups, x, qp);
        if (rows.isNaN().any()) {
            double[] flat = x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            for (int i = 0; i < flat.length; i++) {
                if (Double.isNaN(flat[i])) {
                    throw new IllegalArgumentException("UniformQuantizer.quantize: element " + i + " of the input is NaN and has no "
                            + "integer code; fakeQuant keeps NaN, quantize cannot");
                }
            }
        }
        return groups.fromRows(rows, DataType.INT32);
    }

    /** {@code s (q - z)} as an array of {@code type}. */
    public INDArray dequantize(INDArray q, QParams qp, DataType type) {
        QuantGroups groups = groupsFor(q, qp);
        INDArray rows = groups.toRows(q);
        rows.subiColumnVector(column(qp, false)).muliColumnVector(column(qp, true));
        return groups.fromRows(rows, type);
    }

    /**
     * {@code dequantize(quantize(x))} in {@code x}'s data type: {@code +inf} gives
     * {@code s (qmax - z)}, {@code -inf} gives {@code s (qmin - z)}, NaN stays NaN.
     */
    public INDArray fakeQuant(INDArray x, QParams qp) {
        QuantGroups groups = groupsFor(x, qp);
        INDArray rows = codeRows(groups, x, qp);
        rows.subiColumnVector(column(qp, false)).muliColumnVector(column(qp, true));
        return groups.fromRows(rows, x.dataType());
    }

    /**
     * Clipped STE: {@code gradOut} where {@code qmin <= x/s + z <= qmax}, 0 elsewhere, in
     * {@code gradOut}'s data type.
     */
    public INDArray backward(INDArray x, INDArray gradOut, QParams qp) {
        QuantGroups groups = groupsFor(x, qp);
        INDArray v = groups.toRows(x).diviColumnVector(column(qp, true)).addiColumnVector(column(qp, false));
        INDArray mask = v.gte(spec.qmin()).castTo(DataType.DOUBLE).muli(v.lte(spec.qmax()).castTo(DataType.DOUBLE));
        INDArray g = groups.toRows(gradOut).muli(mask);
        return groups.fromRows(g, gradOut.dataType());
    }

    private QuantGroups groupsFor(INDArray x, QParams qp) {
        QuantGroups groups = QuantGroups.of(spec, x.shape());
        if (qp.size() != groups.groups()) {
            throw new IllegalArgumentException("UniformQuantizer: qparams have " + qp.size() + " entries but " + spec.granularity()
                    + " quantization of shape " + java.util.Arrays.toString(x.shape()) + " needs " + groups.groups());
        }
        return groups;
    }

    /** Codes in the row layout, float64. */
    private INDArray codeRows(QuantGroups groups, INDArray x, QParams qp) {
        INDArray v = groups.toRows(x).diviColumnVector(column(qp, true));
        INDArray noise = spec.rounding() == Rounding.STOCHASTIC ? groups.toRows(uniformNoise(x.shape())) : null;
        INDArray r = RoundingOps.round(spec.rounding(), v, noise);
        r.addiColumnVector(column(qp, false));
        return RoundingOps.clamp(r, spec.qmin(), spec.qmax());   // keeps NaN (ND4J's max/min turn it into a bound)
    }

    private INDArray uniformNoise(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        double[] u = new double[Math.toIntExact(n)];
        synchronized (random) {
            for (int i = 0; i < u.length; i++) {
                u[i] = random.nextDouble();
            }
        }
        return Nd4j.createFromArray(u).reshape('c', shape);
    }

    private static INDArray column(QParams qp, boolean scale) {
        double[] c = new double[qp.size()];
        for (int g = 0; g < c.length; g++) {
            c[g] = scale ? qp.scale(g) : qp.zeroPoint(g);
        }
        return Nd4j.createFromArray(c).reshape(c.length, 1);
    }
}
