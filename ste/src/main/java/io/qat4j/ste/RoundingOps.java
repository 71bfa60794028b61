package io.qat4j.ste;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Exact rounding of float64 arrays to integers in each {@link Rounding} mode, whatever ND4J's
 * own {@code round} does. Inputs must be float64 (the quantizers convert first); results are new
 * float64 arrays holding integers.
 */
public final class RoundingOps {

    private RoundingOps() {
    }

    /**
     * Rounds {@code v} in {@code mode}; {@code noise} ({@code u ~ U[0,1)}, same shape) is used only
     * by {@link Rounding#STOCHASTIC} and may be null otherwise.
     */
    public static INDArray round(Rounding mode, INDArray v, INDArray noise) {
        return switch (mode) {
            case HALF_EVEN -> roundHalfEven(v);
            case HALF_AWAY -> roundHalfAway(v);
            case STOCHASTIC -> {
                if (noise == null) {
                    throw new IllegalArgumentException("RoundingOps: stochastic rounding needs a noise array");
                }
                yield roundStochastic(v, noise);
            }
        };
    }

    /**
     * Ties to even, exactly: with {@code r = floor(v)} and {@code f = v - r} (exact in float64),
     * {@code r + [f > 1/2] + [f == 1/2][r odd]}. ({@code floor(v + 0.5)} would misround
     * 0.49999999999999994.)
     */
    public static INDArray roundHalfEven(INDArray v) {
        INDArray r = Transforms.floor(v, true);
        INDArray f = v.sub(r);
        INDArray odd = r.sub(Transforms.floor(r.div(2), false).muli(2));
        INDArray tie = f.eq(0.5).castTo(DataType.DOUBLE).muli(odd);
        return r.addi(f.gt(0.5).castTo(DataType.DOUBLE)).addi(tie);
    }

    /** Ties away from zero, exactly: {@code sign(v) (floor|v| + [|v| - floor|v| >= 1/2])}. */
    public static INDArray roundHalfAway(INDArray v) {
        INDArray a = Transforms.abs(v, true);
        INDArray r = Transforms.floor(a, true);
        INDArray up = a.subi(r).gte(0.5).castTo(DataType.DOUBLE);
        return r.addi(up).muli(Transforms.sign(v, true));
    }

    /** {@code floor(v) + [u < v - floor(v)]}. */
    public static INDArray roundStochastic(INDArray v, INDArray u) {
        INDArray r = Transforms.floor(v, true);
        INDArray f = v.sub(r);
        return r.addi(u.lt(f).castTo(DataType.DOUBLE));
    }
}
