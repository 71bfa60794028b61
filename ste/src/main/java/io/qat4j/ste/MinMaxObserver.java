package io.qat4j.ste;

import java.util.Arrays;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.BooleanIndexing;
import org.nd4j.linalg.indexing.conditions.Conditions;

/**
 * Running minimum and maximum per quantization group: {@code min = min(min, min(x_g))},
 * {@code max = max(max, max(x_g))}. The grouping (per-tensor/channel/group) comes from the spec;
 * the number of groups must stay the same between batches (the batch size may change).
 */
public class MinMaxObserver implements Observer {

    protected final QuantSpec spec;
    protected double[] min;
    protected double[] max;

    public MinMaxObserver(QuantSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": spec must not be null");
        }
        this.spec = spec;
    }

    public QuantSpec spec() {
        return spec;
    }

    @Override
    public void observe(INDArray x) {
        QuantGroups groups = QuantGroups.of(spec, x.shape());
        INDArray rows = groups.toRows(x);
        // ND4J's min/max skip NaN, so look for NaN/Inf explicitly
        if (BooleanIndexing.or(rows, Conditions.isNan()) || BooleanIndexing.or(rows, Conditions.isInfinite())) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": the observed tensor of shape "
                    + Arrays.toString(x.shape()) + " holds NaN or Inf; check the input data or the training for divergence");
        }
        double[] batchMin = rows.min(1).toDoubleVector();
        double[] batchMax = rows.max(1).toDoubleVector();
        if (min == null) {
            min = batchMin;
            max = batchMax;
            return;
        }
        if (batchMin.length != min.length) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": this tensor has " + batchMin.length
                    + " quantization groups, earlier ones had " + min.length + " (shape " + Arrays.toString(x.shape()) + ")");
        }
        update(batchMin, batchMax);
    }

    /** Merges one batch's per-group range into the running statistics. */
    protected void update(double[] batchMin, double[] batchMax) {
        for (int g = 0; g < min.length; g++) {
            min[g] = Math.min(min[g], batchMin[g]);
            max[g] = Math.max(max[g], batchMax[g]);
        }
    }

    @Override
    public boolean hasObserved() {
        return min != null;
    }

    @Override
    public double[] min() {
        requireObserved();
        return min.clone();
    }

    @Override
    public double[] max() {
        requireObserved();
        return max.clone();
    }

    @Override
    public QParams qparams() {
        requireObserved();
        return QParams.fromRange(spec, min, max);
    }

    @Override
    public void reset() {
        min = null;
        max = null;
    }

    private void requireObserved() {
        if (min == null) {
            throw new IllegalStateException(getClass().getSimpleName()
                    + ": no data observed yet; call observe(x) on calibration batches before asking for qparams");
        }
    }
}
