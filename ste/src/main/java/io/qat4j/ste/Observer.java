package io.qat4j.ste;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Collects range statistics of tensors and turns them into {@link QParams} for a {@link QuantSpec}
 * (the observer role of PyTorch's quantization: statistics in, qparams out; applying them is
 * {@link UniformQuantizer}'s job). Observers are stateful and not thread-safe.
 */
public interface Observer {

    /** Updates the statistics with one tensor (e.g. one batch of activations). */
    void observe(INDArray x);

    /** True once {@link #observe} has been called since construction or {@link #reset}. */
    boolean hasObserved();

    /** Current per-group minimum (a copy). */
    double[] min();

    /** Current per-group maximum (a copy). */
    double[] max();

    /** Qparams for the observed range under this observer's spec. */
    QParams qparams();

    /** Forgets everything observed. */
    void reset();
}
