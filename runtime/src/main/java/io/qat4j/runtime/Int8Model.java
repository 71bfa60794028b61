package io.qat4j.runtime;

import java.io.IOException;
import java.nio.file.Path;

import io.qat4j.runtime.reference.ReferenceKernels;

/**
 * A loaded integer model, ready to run. Immutable and thread-safe: every {@link #run} call uses its
 * own buffers. Input floats are quantized with the input tensor's scale and zero point
 * ({@code clamp(floor(x/s + 1/2) + z, -128, 127)} in single-rounding files, ties toward +infinity as every
 * requantization in them, see {@link #roundHalfUp}; {@code rint}, ties to even, in double-rounding files,
 * as before format version 2); outputs are the
 * final int8 tensor, or its dequantized values {@code s (q - z)}; where a {@link Int8Graph.DenseLogits} node
 * writes the output, its int32 accumulators (4 little-endian bytes each, {@link #outputBytes()}) and the
 * logits {@code scale[c] acc[c]}, which never saturate.
 *
 * <p>Bad input is refused, never turned into numbers: a graph beyond its {@link ModelLimits} before
 * anything is prepared, data whose shape or class count does not fit ({@link #checkInput},
 * {@link #checkClasses}) and NaN/infinite inputs with a {@link ModelInputException}.
 */
public final class Int8Model {

    /** Which kernels run the graph; both give identical bytes. */
    public enum Kernels {
        /** One plain loop per kernel ({@code io.qat4j.runtime.reference}): the definition. */
        REFERENCE,
        /** im2col + blocked int8 dot products ({@code io.qat4j.runtime.optimized}), the default. */
        OPTIMIZED
    }

    private final Int8Graph graph;
    private final Kernels kernels;
    private final int threads;
    private final ModelLimits limits;
    private final ModelCost cost;
    /**
     * Samples per pass of {@link #runChunk}: a pass keeps every tensor of its samples, so a batch runs in
     * passes of {@code min(maxSampleBytes, MAX_PASS_BYTES) / sampleBytes} samples (at least one).
     */
    private final int samplesPerPass;
    /** The kernels with what they prepared for this graph's nodes. */
    private final KernelSet kernelSet;
    /** The node writing dequantized logits as the output, or null where the output is an int8 tensor. */
    private final Int8Graph.DenseLogits logits;

    public Int8Model(Int8Graph graph) {
        this(graph, Kernels.OPTIMIZED);
    }

    public Int8Model(Int8Graph graph, Kernels kernels) {
        this(graph, kernels, 1);
    }

    /**
     * @param threads samples of a batch are split into this many contiguous chunks run in parallel
     *                (each sample's bytes do not depend on the split); 1 runs on the calling thread
     */
    public Int8Model(Int8Graph graph, Kernels kernels, int threads) {
        this(graph, kernels, threads, ModelLimits.defaults());
    }

    /**
     * @param limits memory and work the model may take ({@link ModelCost} of the graph), checked before
     *               anything is prepared
     * @throws IllegalArgumentException for an invalid graph, or one beyond {@code limits} (the message
     *                                  says by how much and how to raise them)
     */
    public Int8Model(Int8Graph graph, Kernels kernels, int threads, ModelLimits limits) {
        if (threads < 1) {
            throw new IllegalArgumentException("Int8Model: threads must be >= 1, got " + threads);
        }
        graph.validate();
        ModelCost cost = ModelCost.of(graph);
        limits.check(cost);
        this.graph = graph;
        this.kernels = kernels;
        this.threads = threads;
        this.limits = limits;
        this.cost = cost;
        this.logits = graph.logitsNode();
        this.samplesPerPass = (int) Math.max(1, Math.min(limits.maxSampleBytes(), MAX_PASS_BYTES) / cost.sampleBytes());
        this.kernelSet = switch (kernels) {
            case REFERENCE -> ReferenceKernels.prepare(graph);
            case OPTIMIZED -> io.qat4j.runtime.optimized.OptimizedKernels.prepare(graph);
        };
    }

    public Kernels kernels() {
        return kernels;
    }

    /** Reads and validates a model file ({@link ModelFile}) within {@link ModelLimits#defaults()}; optimized kernels. */
    public static Int8Model load(Path path) throws IOException {
        return load(path, ModelLimits.defaults());
    }

    /**
     * Reads and validates a model file within {@code limits}; optimized kernels.
     *
     * @throws ModelFormatException with {@link ModelFormatException.Problem#EXCEEDS_LIMITS} for a model beyond them
     */
    public static Int8Model load(Path path, ModelLimits limits) throws IOException {
        return new Int8Model(ModelFile.read(path, limits), Kernels.OPTIMIZED, 1, limits);
    }

    /** What the model costs to hold and run, as checked against its limits. */
    public ModelCost cost() {
        return cost;
    }

    public Int8Graph graph() {
        return graph;
    }

    /** Per-sample shape of the input, e.g. {@code [1, 28, 28]} or {@code [784]}. */
    public int[] inputShape() {
        return graph.tensors().get(graph.input()).dims().clone();
    }

    /** Per-sample shape of the output, e.g. {@code [10]}. */
    public int[] outputShape() {
        return graph.tensors().get(graph.output()).dims().clone();
    }

    /**
     * Checks data of shape {@code [N, dims...]} (as an NCHW array's shape) against the input: the per-sample
     * dims must equal {@link #inputShape()}, not only their product ([1, 14, 56] is not [1, 28, 28]).
     *
     * @return {@code N}
     * @throws ModelInputException ({@link ModelInputException.Problem#SHAPE}) naming both shapes
     */
    public int checkInput(long[] batchShape) {
        int[] want = inputShape();
        boolean same = batchShape.length == want.length + 1 && batchShape[0] >= 0 && batchShape[0] <= Integer.MAX_VALUE;
        for (int i = 0; same && i < want.length; i++) {
            same = batchShape[i + 1] == want[i];
        }
        if (!same) {
            long[] sample = java.util.Arrays.copyOfRange(batchShape, Math.min(1, batchShape.length), batchShape.length);
            throw new ModelInputException(ModelInputException.Problem.SHAPE, "the model takes samples of shape "
                    + java.util.Arrays.toString(want) + ", the data's samples have shape " + java.util.Arrays.toString(sample) + " (data "
                    + java.util.Arrays.toString(batchShape) + ", first dimension the samples); use data of the shape the model was "
                    + "exported for, or export the model for this data");
        }
        return (int) batchShape[0];
    }

    /**
     * Checks that the model has one output per class of a data set of {@code classes} classes.
     *
     * @throws ModelInputException ({@link ModelInputException.Problem#CLASSES}) naming both counts
     */
    public void checkClasses(int classes) {
        if (outputSize() != classes) {
            throw new ModelInputException(ModelInputException.Problem.CLASSES, "the model has " + outputSize() + " outputs per sample "
                    + java.util.Arrays.toString(outputShape()) + ", the data has " + classes + " classes; a classifier's outputs must "
                    + "be one per class (is this the model for this data set?)");
        }
    }

    /** Elements of one input sample. */
    public int inputSize() {
        return (int) graph.tensors().get(graph.input()).elements();
    }

    /** Elements of one output sample. */
    public int outputSize() {
        return (int) graph.tensors().get(graph.output()).elements();
    }

    /**
     * Bytes of one output sample from {@link #runQuantized}: {@link #outputSize()} int8 codes, or, where a
     * {@link Int8Graph.DenseLogits} node writes the output, 4 per element (its int32 accumulators, little-endian).
     */
    public int outputBytes() {
        return logits == null ? outputSize() : 4 * outputSize();
    }

    /** Whether the output is a DenseLogits node's int32 accumulators rather than int8 codes. */
    public boolean outputsLogits() {
        return logits != null;
    }

    /**
     * Quantizes {@code n} float samples (C order, back to back) with the input tensor's parameters.
     *
     * @throws ModelInputException ({@link ModelInputException.Problem#NON_FINITE}) for a NaN or infinite
     *                             value, naming its sample and element (it has no int8 code: NaN would
     *                             become 0 and a class would still be predicted)
     */
    public byte[] quantizeInput(float[] x, int n) {
        checkLength("input", x.length, n, inputSize());
        Int8Graph.Tensor t = graph.tensors().get(graph.input());
        byte[] q = new byte[x.length];
        boolean single = graph.rounding() == FixedPoint.Rounding.SINGLE;   // files with flags 0 keep their half-to-even inputs
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) {
                throw new ModelInputException(ModelInputException.Problem.NON_FINITE, "input sample " + i / inputSize() + ", element "
                        + i % inputSize() + " (of " + inputSize() + " per sample, shape " + java.util.Arrays.toString(inputShape()) + ") is "
                        + x[i] + "; the INT8 runtime takes finite values only: clean or impute the data first");
            }
            double v = (single ? roundHalfUp(x[i] / t.scale()) : Math.rint(x[i] / t.scale())) + t.zeroPoint();
            q[i] = (byte) Math.max(-128, Math.min(127, v));
        }
        return q;
    }

    /**
     * {@code floor(v + 1/2)} computed exactly: ties toward +infinity, the rule of every other
     * activation code in the model (single-rounding requantization) and of qat4j's fake-quant
     * activation quantizers, so a network input exactly between two codes gets the same code in
     * training and here. (ONNX QuantizeLinear rounds such ties to even.)
     */
    static double roundHalfUp(double v) {
        double r = Math.floor(v);
        return v - r >= 0.5 ? r + 1 : r;
    }

    /** The same model running batches on {@code threads} threads. */
    public Int8Model withThreads(int threads) {
        return new Int8Model(graph, kernels, threads, limits);
    }

    /**
     * Runs {@code n} quantized samples through the graph; returns the int8 output tensor, or the int32
     * accumulators of a {@link Int8Graph.DenseLogits} output as 4 little-endian bytes each ({@link #outputBytes()}
     * per sample either way; {@link #dequantize} turns them into floats).
     */
    public byte[] runQuantized(byte[] input, int n) {
        checkLength("input", input.length, n, inputSize());
        int chunks = Math.min(threads, n);
        if (chunks <= 1) {
            return runChunk(input, n, null);
        }
        int in = inputSize();
        int out = outputBytes();
        byte[] result = new byte[Math.multiplyExact(n, out)];
        java.util.List<java.util.concurrent.CompletableFuture<Void>> parts = new java.util.ArrayList<>();
        for (int c = 0; c < chunks; c++) {
            int from = (int) ((long) n * c / chunks);
            int to = (int) ((long) n * (c + 1) / chunks);
            Runnable chunk = () -> {
                byte[] y = runChunk(java.util.Arrays.copyOfRange(input, from * in, to * in), to - from, null);
                System.arraycopy(y, 0, result, from * out, y.length);
            };
            if (c == chunks - 1) {
                chunk.run();   // the calling thread takes the last chunk (the common pool has cores - 1 workers)
            } else {
                parts.add(java.util.concurrent.CompletableFuture.runAsync(chunk));
            }
        }
        for (java.util.concurrent.CompletableFuture<Void> p : parts) {
            p.join();
        }
        return result;
    }

    /**
     * Runs {@code n} quantized samples on the calling thread and returns the nanoseconds each node's
     * kernel took (with the allocation of its output; a flatten allocates none): a profile of where the time goes.
     */
    public long[] profileQuantized(byte[] input, int n) {
        checkLength("input", input.length, n, inputSize());
        long[] nanos = new long[graph.nodes().size()];
        runChunk(input, n, nanos);
        return nanos;
    }

    /** Most bytes of activations and scratch one pass over a batch holds, whatever the limits (Java arrays stay below 2^31). */
    static final long MAX_PASS_BYTES = 1L << 30;

    /**
     * Runs the graph over one chunk of samples, in passes of {@link #samplesPerPass} (each sample's bytes
     * do not depend on the split); with {@code nanos} non-null, adds each node's kernel time to it.
     */
    private byte[] runChunk(byte[] input, int n, long[] nanos) {
        if (n <= samplesPerPass) {
            return runPass(input, n, nanos);
        }
        int in = inputSize();
        int out = outputBytes();
        byte[] result = new byte[Math.multiplyExact(n, out)];
        for (int from = 0; from < n; from += samplesPerPass) {
            int m = Math.min(samplesPerPass, n - from);
            byte[] y = runPass(java.util.Arrays.copyOfRange(input, from * in, (from + m) * in), m, nanos);
            System.arraycopy(y, 0, result, from * out, y.length);
        }
        return result;
    }

    private byte[] runPass(byte[] input, int n, long[] nanos) {
        byte[][] values = new byte[graph.tensors().size()][];
        values[graph.input()] = input;
        for (int index = 0; index < graph.nodes().size(); index++) {
            long start = nanos == null ? 0 : System.nanoTime();
            values[graph.nodes().get(index).output()] = kernelSet.run(index, values, n);
            if (nanos != null) {
                nanos[index] += System.nanoTime() - start;
            }
        }
        return values[graph.output()];
    }

    /**
     * Quantizes, runs and dequantizes {@code n} samples: the model's float outputs (e.g. logits). Only the
     * element count is checked; {@link #run(float[], long[])} checks the shape.
     */
    public float[] run(float[] input, int n) {
        return dequantize(runQuantized(quantizeInput(input, n), n), n);
    }

    /**
     * {@link #runQuantized}'s outputs of {@code n} samples as floats: {@code s (q - z)} for int8 codes, the
     * logits {@code scale[c] acc[c]} for a {@link Int8Graph.DenseLogits} output.
     */
    public float[] dequantize(byte[] outputs, int n) {
        checkLength("outputs", outputs.length, n, outputBytes());
        int size = outputSize();
        float[] y = new float[n * size];
        if (logits != null) {
            for (int i = 0; i < y.length; i++) {
                y[i] = (float) logits.logit(i % size, io.qat4j.runtime.reference.ReferenceKernels.logitAccumulator(outputs, i));
            }
            return y;
        }
        Int8Graph.Tensor t = graph.tensors().get(graph.output());
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) (t.scale() * (outputs[i] - t.zeroPoint()));
        }
        return y;
    }

    /** {@link #run(float[], int)} on data of shape {@code [N, dims...]}, checked by {@link #checkInput}. */
    public float[] run(float[] input, long[] batchShape) {
        return run(input, checkInput(batchShape));
    }

    /** Index of the largest output per sample. Only the element count is checked; {@link #predict(float[], long[])} checks the shape. */
    public int[] predict(float[] input, int n) {
        return predictions(runQuantized(quantizeInput(input, n), n), n);
    }

    /** {@link #predict(float[], int)} on data of shape {@code [N, dims...]}, checked by {@link #checkInput}. */
    public int[] predict(float[] input, long[] batchShape) {
        return predict(input, checkInput(batchShape));
    }

    /**
     * Index of the largest output per sample of {@link #runQuantized}'s outputs: of the int8 codes (the same as
     * on the dequantized outputs: the output scale is positive), or of the logits {@code scale[c] acc[c]} (in
     * double) of a {@link Int8Graph.DenseLogits} output; ties go to the first class.
     */
    public int[] predictions(byte[] outputs, int n) {
        int classes = outputSize();
        checkLength("outputs", outputs.length, n, outputBytes());
        int[] p = new int[n];
        if (logits != null) {
            for (int b = 0; b < n; b++) {
                int best = 0;
                double bestLogit = logits.logit(0, io.qat4j.runtime.reference.ReferenceKernels.logitAccumulator(outputs, b * classes));
                for (int k = 1; k < classes; k++) {
                    double v = logits.logit(k, io.qat4j.runtime.reference.ReferenceKernels.logitAccumulator(outputs, b * classes + k));
                    if (v > bestLogit) {
                        best = k;
                        bestLogit = v;
                    }
                }
                p[b] = best;
            }
            return p;
        }
        for (int b = 0; b < n; b++) {
            int best = 0;
            for (int k = 1; k < classes; k++) {
                if (outputs[b * classes + k] > outputs[b * classes + best]) {
                    best = k;
                }
            }
            p[b] = best;
        }
        return p;
    }

    private static void checkLength(String what, int length, int n, int perSample) {
        if (n < 0 || (long) n * perSample != length) {
            throw new IllegalArgumentException(what + " has " + length + " values; " + n + " samples of " + perSample
                    + " need " + (long) n * perSample);
        }
    }
}
