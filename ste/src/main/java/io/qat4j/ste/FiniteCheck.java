package io.qat4j.ste;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The non-finite-value check of the quantizers whose scale is a statistic of the tensor (binary, ternary). */
final class FiniteCheck {

    private FiniteCheck() {
    }

    /**
     * @throws IllegalArgumentException naming the first NaN or infinite element (flat C-order index):
     *         a mean over the weights has no meaning then, so there is no code to give
     */
    static void requireFinite(String who, INDArray w) {
        if (w.isNaN().any() || w.isInfinite().any()) {
            double[] flat = w.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            for (int i = 0; i < flat.length; i++) {
                if (!Double.isFinite(flat[i])) {
                    throw new IllegalArgumentException(who + ": weight element " + i + " is " + flat[i] + "; the scale is a mean over "
                            + "the weights, so a non-finite weight leaves no code to give. The training diverged: lower the learning "
                            + "rate and resume from an earlier checkpoint");
                }
            }
        }
    }
}
