package io.qat4j.runtime;

/**
 * The kernels that run one graph, holding what they prepared for its nodes once per model (weight
 * sums, float weight layouts), indexed by node. Made by
 * {@code ReferenceKernels.prepare} and {@code OptimizedKernels.prepare}, chosen by
 * {@link Int8Model.Kernels}; both give identical bytes. Immutable and thread-safe: a run allocates
 * its own outputs and scratch.
 */
public interface KernelSet {

    /**
     * Runs node {@code index} over {@code n} samples.
     *
     * @param values the batch's tensors so far, by tensor id (every tensor the node reads is present:
     *               {@link Int8Graph#validate()} checked the dataflow)
     * @return the node's output tensor for the {@code n} samples (a Flatten returns its input's array)
     */
    byte[] run(int index, byte[][] values, int n);

    /** A zeroed output tensor of {@code n} samples. */
    static byte[] output(Int8Graph.Tensor out, int n) {
        return new byte[Math.multiplyExact(n, (int) out.elements())];
    }
}
