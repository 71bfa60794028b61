package io.qat4j.ste;

/**
 * Exponential moving average of per-batch minima and maxima (TensorFlow/PyTorch QAT activation
 * observer): the first batch sets the range, later ones move it by
 * {@code min += c (min_batch - min)}, {@code max += c (max_batch - max)}.
 */
public final class MovingAverageMinMaxObserver extends MinMaxObserver {

    /** Default averaging constant c (PyTorch's {@code averaging_constant}). */
    public static final double DEFAULT_AVERAGING_CONSTANT = 0.01;

    private final double c;

    public MovingAverageMinMaxObserver(QuantSpec spec) {
        this(spec, DEFAULT_AVERAGING_CONSTANT);
    }

    /** @param averagingConstant c in (0, 1]; 1 keeps only the latest batch */
    public MovingAverageMinMaxObserver(QuantSpec spec, double averagingConstant) {
        super(spec);
        if (!(averagingConstant > 0 && averagingConstant <= 1)) {
            throw new IllegalArgumentException("MovingAverageMinMaxObserver: averagingConstant must be in (0, 1] (default 0.01), got "
                    + averagingConstant);
        }
        this.c = averagingConstant;
    }

    public double averagingConstant() {
        return c;
    }

    @Override
    protected void update(double[] batchMin, double[] batchMax) {
        for (int g = 0; g < min.length; g++) {
            min[g] = average(min[g], batchMin[g], c);
            max[g] = average(max[g], batchMax[g], c);
        }
    }

    /**
     * One moving-average step {@code current + c (batch - current)}: the update of this observer and
     * of the FIXED input quantizer of a QAT layer, which keeps its range in the layer's parameters.
     */
    public static double average(double current, double batch, double c) {
        return current + c * (batch - current);
    }
}
