package io.qat4j.ste;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Ternary weight networks (TWN, Li et al. 2016): per group,
 * {@code delta = r mean|w|} (r = {@link #DEFAULT_THRESHOLD_RATIO} = 0.7 by default),
 * {@code t = sign(w) [|w| > delta]} in {-1, 0, +1}, {@code alpha = mean(|w| : |w| > delta)}
 * (0 if no weight exceeds delta), {@code w_t = alpha t}.
 *
 * <p>Backward: straight-through, {@code dL/dw = dL/dw_t} unchanged everywhere (TWN applies the
 * gradient of the ternary weights to the latent float weights; nothing is zeroed).
 */
public final class TernaryQuantizer {

    /** TWN's approximation of the optimal threshold, {@code delta ~= 0.7 E|w|}. */
    public static final double DEFAULT_THRESHOLD_RATIO = 0.7;

    private final double thresholdRatio;
    private final Granularity granularity;
    private final int axis;

    public TernaryQuantizer(Granularity granularity, int axis) {
        this(DEFAULT_THRESHOLD_RATIO, granularity, axis);
    }

    /**
     * @param thresholdRatio r in {@code delta = r mean|w|}, in (0, 1] (0.7 in TWN)
     * @param granularity    PER_TENSOR (TWN) or PER_CHANNEL
     * @param axis           channel axis for PER_CHANNEL
     */
    public TernaryQuantizer(double thresholdRatio, Granularity granularity, int axis) {
        if (!(thresholdRatio > 0 && thresholdRatio <= 1)) {
            throw new IllegalArgumentException("TernaryQuantizer: thresholdRatio must be in (0, 1] (TWN uses 0.7), got " + thresholdRatio);
        }
        if (granularity == null || granularity == Granularity.PER_GROUP) {
            throw new IllegalArgumentException("TernaryQuantizer: granularity must be PER_TENSOR or PER_CHANNEL, got " + granularity);
        }
        if (granularity == Granularity.PER_CHANNEL && axis < 0) {
            throw new IllegalArgumentException("TernaryQuantizer: per-channel needs axis >= 0, got " + axis);
        }
        this.thresholdRatio = thresholdRatio;
        this.granularity = granularity;
        this.axis = granularity == Granularity.PER_CHANNEL ? axis : -1;
    }

    /** Codes in {-1, 0, +1} as INT32. */
    public INDArray codes(INDArray w) {
        FiniteCheck.requireFinite("TernaryQuantizer", w);
        QuantGroups groups = QuantGroups.of(granularity, axis, 0, w.shape());
        INDArray rows = groups.toRows(w);
        return groups.fromRows(ternary(rows, aboveThreshold(rows, groups.groups())), DataType.INT32);
    }

    /** One alpha per group. */
    public double[] scales(INDArray w) {
        FiniteCheck.requireFinite("TernaryQuantizer", w);
        QuantGroups groups = QuantGroups.of(granularity, axis, 0, w.shape());
        INDArray rows = groups.toRows(w);
        return alphaColumn(rows, aboveThreshold(rows, groups.groups())).toDoubleVector();
    }

    /** {@code alpha t} in {@code w}'s data type. */
    public INDArray forward(INDArray w) {
        FiniteCheck.requireFinite("TernaryQuantizer", w);
        QuantGroups groups = QuantGroups.of(granularity, axis, 0, w.shape());
        INDArray rows = groups.toRows(w);
        INDArray mask = aboveThreshold(rows, groups.groups());
        INDArray alpha = alphaColumn(rows, mask);
        return groups.fromRows(ternary(rows, mask).muliColumnVector(alpha), w.dataType());
    }

    /** Straight-through: returns {@code gradOut} (a copy). */
    public INDArray backward(INDArray w, INDArray gradOut) {
        return gradOut.dup();
    }

    /** {@code [|w| > delta_g]} as float64 0/1, in the row layout. */
    private INDArray aboveThreshold(INDArray rows, int groups) {
        INDArray abs = Transforms.abs(rows, true);
        INDArray delta = abs.mean(1).muli(thresholdRatio).reshape(groups, 1);
        return abs.subiColumnVector(delta).gt(0.0).castTo(DataType.DOUBLE);
    }

    private static INDArray ternary(INDArray rows, INDArray mask) {
        return Transforms.sign(rows, true).muli(mask);
    }

    private static INDArray alphaColumn(INDArray rows, INDArray mask) {
        INDArray sum = Transforms.abs(rows, true).muli(mask).sum(1);
        INDArray count = mask.sum(1);
        // groups with no weight above delta (e.g. all zeros) get alpha 0: their output is 0 anyway
        INDArray safeCount = Transforms.max(count, 1.0, true);
        return sum.divi(safeCount).reshape(rows.rows(), 1);
    }
}
