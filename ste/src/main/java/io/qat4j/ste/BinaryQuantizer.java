package io.qat4j.ste;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * 1-bit weights: {@code w_b = alpha_g sign(w)} with {@code sign(0) = +1}.
 *
 * <ul>
 *   <li>{@link Scaling#NONE}: BinaryConnect (Courbariaux et al. 2015), {@code alpha = 1}.</li>
 *   <li>{@link Scaling#MEAN_ABS}: BWN / XNOR-Net (Rastegari et al. 2016),
 *       {@code alpha_g = mean(|w|)} over each group (per output channel for per-channel).</li>
 * </ul>
 *
 * <p>Backward: hard-tanh STE, {@code dL/dw = dL/dw_b * [|w| <= 1]}: gradients of latent weights
 * outside {@code [-1, 1]} are zeroed; {@code alpha} is treated as a constant (as Larq and most
 * BWN implementations do). The latent float weights are kept and updated by the optimizer.
 * NaN or infinite weights are an {@link IllegalArgumentException} naming the element (no binary code).
 */
public final class BinaryQuantizer {

    /** How the ±1 codes are scaled. */
    public enum Scaling { NONE, MEAN_ABS }

    private final Scaling scaling;
    private final Granularity granularity;
    private final int axis;

    /**
     * @param scaling     NONE (BinaryConnect) or MEAN_ABS (BWN)
     * @param granularity PER_TENSOR or PER_CHANNEL (groups share one alpha)
     * @param axis        channel axis for PER_CHANNEL, ignored for PER_TENSOR
     */
    public BinaryQuantizer(Scaling scaling, Granularity granularity, int axis) {
        if (scaling == null || granularity == null) {
            throw new IllegalArgumentException("BinaryQuantizer: scaling and granularity must not be null");
        }
        if (granularity == Granularity.PER_GROUP) {
            throw new IllegalArgumentException("BinaryQuantizer: granularity must be PER_TENSOR or PER_CHANNEL, got PER_GROUP");
        }
        if (granularity == Granularity.PER_CHANNEL && axis < 0) {
            throw new IllegalArgumentException("BinaryQuantizer: per-channel scaling needs axis >= 0, got " + axis);
        }
        this.scaling = scaling;
        this.granularity = granularity;
        this.axis = granularity == Granularity.PER_CHANNEL ? axis : -1;
    }

    /** Codes {@code sign(w)} in {-1, +1} as INT32. */
    public INDArray codes(INDArray w) {
        FiniteCheck.requireFinite("BinaryQuantizer", w);
        return signOf(w.castTo(DataType.DOUBLE)).castTo(DataType.INT32);
    }

    /** One alpha per group: 1 for NONE, {@code mean|w|} for MEAN_ABS. */
    public double[] scales(INDArray w) {
        FiniteCheck.requireFinite("BinaryQuantizer", w);
        QuantGroups groups = QuantGroups.of(granularity, axis, 0, w.shape());
        return alphaColumn(groups.toRows(w), groups.groups()).toDoubleVector();
    }

    /** {@code alpha_g sign(w)} in {@code w}'s data type. */
    public INDArray forward(INDArray w) {
        FiniteCheck.requireFinite("BinaryQuantizer", w);
        QuantGroups groups = QuantGroups.of(granularity, axis, 0, w.shape());
        INDArray rows = groups.toRows(w);
        INDArray alpha = alphaColumn(rows, groups.groups());
        return groups.fromRows(signOf(rows).muliColumnVector(alpha), w.dataType());
    }

    /** Hard-tanh STE: {@code gradOut * [|w| <= 1]}. */
    public INDArray backward(INDArray w, INDArray gradOut) {
        INDArray inside = Transforms.abs(w.castTo(DataType.DOUBLE), false).lte(1.0).castTo(DataType.DOUBLE);
        return gradOut.castTo(DataType.DOUBLE).muli(inside).castTo(gradOut.dataType());
    }

    private INDArray alphaColumn(INDArray rows, int groups) {
        return switch (scaling) {
            case NONE -> Nd4j.ones(DataType.DOUBLE, groups, 1);
            case MEAN_ABS -> Transforms.abs(rows, true).mean(1).reshape(groups, 1);
        };
    }

    private static INDArray signOf(INDArray d) {
        return d.gte(0.0).castTo(DataType.DOUBLE).muli(2).subi(1);
    }
}
