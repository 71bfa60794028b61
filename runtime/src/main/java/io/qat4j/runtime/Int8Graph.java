package io.qat4j.runtime;

import java.util.Arrays;
import java.util.List;

/**
 * An integer-only inference graph: quantized tensors (per-sample shapes, one scale and zero point
 * each, int8 storage) and nodes in execution order. Immutable once built; {@link #validate()}
 * checks every shape and parameter, so kernels can trust what they are given.
 *
 * <p>Real value of an int8 activation {@code q}: {@code scale (q - zeroPoint)} (TFLite's asymmetric
 * int8). Weights are int8 codes with zero point 0 and a real multiplier per output channel that
 * already combines input, weight and output scales ({@code M = s_x s_w / s_y}, stored as Q31
 * multiplier and shift, {@link FixedPoint#quantizeMultiplier}).
 *
 * @param tensors tensor table; index = tensor id
 * @param nodes   nodes in execution order
 * @param input   id of the input tensor (quantized from float by {@link Int8Model})
 * @param output  id of the output tensor (dequantized to float logits by {@link Int8Model})
 * @param rounding how every {@code MultiplyByQuantizedMultiplier} of the graph rounds (weighted
 *                 layers' requantization and Add's rescaling)
 */
public record Int8Graph(List<Tensor> tensors, List<Node> nodes, int input, int output, FixedPoint.Rounding rounding) {

    /** Largest element count of one tensor per sample (guards allocations from hostile files). */
    public static final long MAX_TENSOR_ELEMENTS = 1L << 26;
    /** Largest single dimension. */
    public static final int MAX_DIMENSION = 1 << 16;

    public Int8Graph {
        tensors = List.copyOf(tensors);
        nodes = List.copyOf(nodes);
        java.util.Objects.requireNonNull(rounding, "rounding");
    }

    /** A graph with TFLite's default double-rounding requantization (what version-1 files without flags hold). */
    public Int8Graph(List<Tensor> tensors, List<Node> nodes, int input, int output) {
        this(tensors, nodes, input, output, FixedPoint.Rounding.DOUBLE);
    }

    /**
     * A quantized tensor, per sample.
     *
     * @param dims      {@code [C, H, W]} for feature maps, {@code [F]} for vectors
     * @param scale     positive, finite
     * @param zeroPoint in [-128, 127]
     */
    public record Tensor(int[] dims, double scale, int zeroPoint) {
        public Tensor {
            dims = dims.clone();
        }

        public long elements() {
            long n = 1;
            for (int d : dims) {
                n *= d;
            }
            return n;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && Arrays.equals(dims, t.dims) && Double.compare(scale, t.scale) == 0 && zeroPoint == t.zeroPoint;
        }

        @Override
        public int hashCode() {
            return 31 * (31 * Arrays.hashCode(dims) + Double.hashCode(scale)) + zeroPoint;
        }

        @Override
        public String toString() {
            return "Tensor" + Arrays.toString(dims) + "(scale=" + scale + ", zp=" + zeroPoint + ")";
        }
    }

    /**
     * A graph node reading one tensor (or two) and writing another. The set is closed: each record
     * answers its {@link NodeKind}, and code that treats kinds differently switches on {@link #kind()}.
     */
    public sealed interface Node permits Conv2D, Dense, MaxPool, AvgPool, Flatten, Add, Requantize {
        /** Which record this is; {@code switch (node.kind())} expressions without a default handle every kind. */
        NodeKind kind();

        int input();

        int output();

        /** Every tensor the node reads (the first is {@link #input()}). */
        default int[] inputs() {
            return new int[] {input()};
        }
    }

    /**
     * Where a convolution or pooling window reads, per spatial axis: kernel size, stride, explicit
     * (possibly asymmetric) padding and dilation. Output row {@code oy} reads input rows
     * {@code oy strideH - padTop + ky dilationH} for {@code ky < kernelH}; rows outside the input are
     * padding. Pooling windows have dilation 1 ({@link #pool}).
     */
    public record Window(int kernelH, int kernelW, int strideH, int strideW, int padTop, int padLeft, int padBottom, int padRight,
                         int dilationH, int dilationW) {

        /** An undilated window, as pooling uses. */
        public static Window pool(int kernelH, int kernelW, int strideH, int strideW, int padTop, int padLeft, int padBottom,
                                  int padRight) {
            return new Window(kernelH, kernelW, strideH, strideW, padTop, padLeft, padBottom, padRight, 1, 1);
        }

        /** Output rows for {@code inH} input rows. */
        public int outputH(int inH) {
            return outputSize(inH, kernelH, strideH, padTop, padBottom, dilationH);
        }

        /** Output columns for {@code inW} input columns. */
        public int outputW(int inW) {
            return outputSize(inW, kernelW, strideW, padLeft, padRight, dilationW);
        }

        /** Elements of one window, {@code kernelH kernelW}. */
        public int area() {
            return kernelH * kernelW;
        }

        /** Rows of the zero-padded input that {@code outH} output rows read: at least {@code padTop + inH}. */
        public long paddedH(int inH, int outH) {
            return Math.max((long) padTop + inH, (outH - 1L) * strideH + (kernelH - 1L) * dilationH + 1);
        }

        /** Columns of the zero-padded input that {@code outW} output columns read: at least {@code padLeft + inW}. */
        public long paddedW(int inW, int outW) {
            return Math.max((long) padLeft + inW, (outW - 1L) * strideW + (kernelW - 1L) * dilationW + 1);
        }
    }

    /**
     * Requantization of an int32 accumulator per output channel:
     * {@code clamp(outputZeroPoint + MBQM(acc, multiplier[c], shift[c]), activationMin, activationMax)};
     * a fused ReLU/ReLU6 is just a tighter {@code [activationMin, activationMax]}.
     */
    public record Requant(int[] multiplier, int[] shift, int activationMin, int activationMax) {
        public Requant {
            multiplier = multiplier.clone();
            shift = shift.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Requant r && Arrays.equals(multiplier, r.multiplier) && Arrays.equals(shift, r.shift)
                    && activationMin == r.activationMin && activationMax == r.activationMax;
        }

        @Override
        public int hashCode() {
            return 31 * (31 * Arrays.hashCode(multiplier) + Arrays.hashCode(shift)) + activationMin * 257 + activationMax;
        }
    }

    /**
     * The per-sample geometry of a node between two feature maps ({@code [C, H, W]} in and out): the
     * prologue every convolution and pooling kernel shares (reference, im2col, Vector API).
     */
    public record MapShape(int inC, int inH, int inW, int outC, int outH, int outW) {
        /** The shape of {@code in -> out}; both tensors are {@code [C, H, W]}. */
        public static MapShape of(Tensor in, Tensor out) {
            return new MapShape(in.dims()[0], in.dims()[1], in.dims()[2], out.dims()[0], out.dims()[1], out.dims()[2]);
        }

        /** Output positions per channel, {@code outH outW}. */
        public int positions() {
            return outH * outW;
        }

        /** Input values per sample, {@code inC inH inW}. */
        public int inSize() {
            return inC * inH * inW;
        }

        /** Output values per sample, {@code outC outH outW}. */
        public int outSize() {
            return outC * outH * outW;
        }
    }

    /**
     * 2-D convolution, NCHW, weights {@code [out, in, kh, kw]} as int8 codes (zero point 0),
     * int32 bias {@code round(b / (s_x s_w))}, explicit (possibly asymmetric) padding in {@code window}.
     *
     * @param weightBits bits the codes were quantized to (1..8), which the file packs them at
     */
    public record Conv2D(int input, int output, int outChannels, int inChannels, Window window, int weightBits, byte[] weights, int[] bias,
                         Requant requant) implements Node {
        public Conv2D {
            java.util.Objects.requireNonNull(window, "window");
            weights = weights.clone();
            bias = bias.clone();
        }

        @Override
        public NodeKind kind() {
            return NodeKind.CONV2D;
        }

        /** Inputs per output value, {@code inChannels kernelH kernelW}. */
        public int reduction() {
            return inChannels * window.area();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Conv2D c && input == c.input && output == c.output && outChannels == c.outChannels
                    && inChannels == c.inChannels && window.equals(c.window) && weightBits == c.weightBits
                    && Arrays.equals(weights, c.weights) && Arrays.equals(bias, c.bias) && requant.equals(c.requant);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(weights) * 31 + Arrays.hashCode(bias);
        }
    }

    /** Fully connected, weights {@code [out, in]} int8 codes (zero point 0), int32 bias. */
    public record Dense(int input, int output, int outFeatures, int inFeatures, int weightBits, byte[] weights, int[] bias,
                        Requant requant) implements Node {
        public Dense {
            weights = weights.clone();
            bias = bias.clone();
        }

        @Override
        public NodeKind kind() {
            return NodeKind.DENSE;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Dense d && input == d.input && output == d.output && outFeatures == d.outFeatures
                    && inFeatures == d.inFeatures && weightBits == d.weightBits && Arrays.equals(weights, d.weights)
                    && Arrays.equals(bias, d.bias) && requant.equals(d.requant);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(weights) * 31 + Arrays.hashCode(bias);
        }
    }

    /**
     * Max pooling on int8 directly (monotonic: input and output share scale and zero point); padding never wins.
     * The window has dilation 1.
     */
    public record MaxPool(int input, int output, Window window) implements Node {
        public MaxPool {
            java.util.Objects.requireNonNull(window, "window");
        }

        @Override
        public NodeKind kind() {
            return NodeKind.MAX_POOL;
        }
    }

    /**
     * Average pooling over the valid (unpadded) window, rounding division half away from zero; same scale in and out.
     * The window has dilation 1.
     */
    public record AvgPool(int input, int output, Window window) implements Node {
        public AvgPool {
            java.util.Objects.requireNonNull(window, "window");
        }

        @Override
        public NodeKind kind() {
            return NodeKind.AVG_POOL;
        }
    }

    /** {@code [C, H, W]} to {@code [C*H*W]} in C order (DL4J's CNN-to-dense order); same quantization. */
    public record Flatten(int input, int output) implements Node {
        @Override
        public NodeKind kind() {
            return NodeKind.FLATTEN;
        }
    }

    /**
     * Elementwise addition of two tensors of the same shape with their own scales (residual add),
     * TFLite's integer scheme: each input, offset by its zero point and shifted left by
     * {@code leftShift} (20), is rescaled to {@code 2 max(s1, s2)} by its multiplier, the sum is
     * rescaled to the output scale, offset by the output zero point and clamped (a fused ReLU).
     */
    public record Add(int input, int input2, int output, int leftShift, int multiplier1, int shift1, int multiplier2, int shift2,
                      int outputMultiplier, int outputShift, int activationMin, int activationMax) implements Node {
        @Override
        public NodeKind kind() {
            return NodeKind.ADD;
        }

        @Override
        public int[] inputs() {
            return new int[] {input, input2};
        }

        /** The multipliers TFLite derives from the three scales. */
        public static Add of(int input, int input2, int output, Tensor a, Tensor b, Tensor out, int activationMin, int activationMax) {
            int leftShift = 20;
            double twiceMax = 2 * Math.max(a.scale(), b.scale());
            FixedPoint.QuantizedMultiplier m1 = FixedPoint.quantizeMultiplier(a.scale() / twiceMax);
            FixedPoint.QuantizedMultiplier m2 = FixedPoint.quantizeMultiplier(b.scale() / twiceMax);
            FixedPoint.QuantizedMultiplier mo = FixedPoint.quantizeMultiplier(twiceMax / ((1 << leftShift) * out.scale()));
            return new Add(input, input2, output, leftShift, m1.multiplier(), m1.shift(), m2.multiplier(), m2.shift(), mo.multiplier(),
                    mo.shift(), activationMin, activationMax);
        }
    }

    /**
     * Elementwise change of scale and zero point (TFLite's int8-to-int8 QUANTIZE):
     * {@code y = clamp(z_out + MBQM(q - z_in, multiplier, shift), min, max)} with
     * {@code M = s_in / s_out}; where a QAT network quantizes an already quantized tensor again
     * with another quantizer (a layer's own input quantizer after an activation quantizer).
     */
    public record Requantize(int input, int output, int multiplier, int shift, int activationMin, int activationMax) implements Node {
        @Override
        public NodeKind kind() {
            return NodeKind.REQUANTIZE;
        }

        /** The multiplier for {@code in -> out}, clamped to the output's int8 codes {@code [min, max]}. */
        public static Requantize of(int input, int output, Tensor in, Tensor out, int activationMin, int activationMax) {
            FixedPoint.QuantizedMultiplier m = FixedPoint.quantizeMultiplier(in.scale() / out.scale());
            return new Requantize(input, output, m.multiplier(), m.shift(), activationMin, activationMax);
        }
    }

    /** Output size of a strided, padded, dilated window along one axis. */
    public static int outputSize(int in, int kernel, int stride, int padBefore, int padAfter, int dilation) {
        long effective = (long) dilation * (kernel - 1) + 1;
        long n = in + (long) padBefore + padAfter - effective;
        return n < 0 ? 0 : (int) (n / stride + 1);
    }

    /**
     * Checks the whole graph: ids in range, every tensor a node reads written before it (by the input or
     * an earlier node), one writer per tensor, the output written, every node's input/output shapes
     * consistent with its parameters, weight/bias/requant array sizes, pooling tensors sharing quantization, sane ranges.
     *
     * @throws IllegalArgumentException naming the node or tensor and the problem
     */
    public void validate() {
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("graph has no tensors");
        }
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            if (t.dims.length < 1 || t.dims.length > 3) {
                throw new IllegalArgumentException("tensor " + i + ": rank " + t.dims.length + "; expected [F] or [C, H, W]");
            }
            for (int d : t.dims) {
                if (d < 1 || d > MAX_DIMENSION) {
                    throw new IllegalArgumentException("tensor " + i + ": dimension " + d + " outside 1.." + MAX_DIMENSION);
                }
            }
            if (t.elements() > MAX_TENSOR_ELEMENTS) {
                throw new IllegalArgumentException("tensor " + i + ": " + t.elements() + " elements per sample exceed " + MAX_TENSOR_ELEMENTS);
            }
            if (!(t.scale > 0) || Double.isInfinite(t.scale)) {
                throw new IllegalArgumentException("tensor " + i + ": scale " + t.scale + " must be positive and finite");
            }
            if (t.zeroPoint < -128 || t.zeroPoint > 127) {
                throw new IllegalArgumentException("tensor " + i + ": zero point " + t.zeroPoint + " outside int8");
            }
        }
        checkId("input", input);
        checkId("output", output);
        // dataflow: nodes run in list order, so each tensor a node reads must be the input or an earlier node's output
        int[] writer = new int[tensors.size()];   // 0 = not written, -1 = the graph input, n + 1 = node n
        writer[input] = -1;
        for (int n = 0; n < nodes.size(); n++) {
            Node node = nodes.get(n);
            String where = "node " + n + " (" + node.kind().label() + ")";
            for (int id : node.inputs()) {
                checkId(where + " input", id);
                if (writer[id] == 0) {
                    throw new IllegalArgumentException(where + " reads tensor " + id + " before any node writes it (the graph input is "
                            + "tensor " + input + "; nodes run in file order, so a tensor's writer must come before its readers)");
                }
            }
            checkId(where + " output", node.output());
            if (writer[node.output()] != 0) {
                throw new IllegalArgumentException(where + " writes tensor " + node.output() + ", which "
                        + (writer[node.output()] < 0 ? "is the graph input" : "node " + (writer[node.output()] - 1) + " already writes")
                        + "; every tensor has one writer");
            }
            writer[node.output()] = n + 1;
            Tensor in = tensors.get(node.input());
            Tensor out = tensors.get(node.output());
            // a switch expression without a default (each case returns the node it checked): the compiler checks every kind is handled
            Node checked = switch (node.kind()) {
                case CONV2D -> checkConv2D(where, (Conv2D) node, in, out);
                case DENSE -> checkDense(where, (Dense) node, in, out);
                case MAX_POOL -> checkPool(where, node, ((MaxPool) node).window(), in, out);
                case AVG_POOL -> checkPool(where, node, ((AvgPool) node).window(), in, out);
                case FLATTEN -> checkFlatten(where, (Flatten) node, in, out);
                case ADD -> checkAdd(where, (Add) node, in, out);
                case REQUANTIZE -> checkRequantize(where, (Requantize) node, in, out);
            };
        }
        if (writer[output] == 0) {
            throw new IllegalArgumentException("no node writes the output tensor " + output + " (and it is not the input tensor " + input + ")");
        }
    }

    private static Node checkConv2D(String where, Conv2D c, Tensor in, Tensor out) {
        positive(where, c.outChannels, c.inChannels);
        checkWindow(where, c.window);
        expectDims(where + " input", in, c.inChannels, -1, -1);
        expectDims(where + " output", out, c.outChannels, c.window.outputH(in.dims[1]), c.window.outputW(in.dims[2]));
        expectLength(where + " weights", c.weights.length, (long) c.outChannels * c.inChannels * c.window.kernelH() * c.window.kernelW());
        weights(where, c.weightBits, c.weights);
        expectLength(where + " bias", c.bias.length, c.outChannels);
        requant(where, c.requant, c.outChannels);
        return c;
    }

    private static Node checkDense(String where, Dense d, Tensor in, Tensor out) {
        positive(where, d.outFeatures, d.inFeatures);
        expectDims(where + " input", in, d.inFeatures);
        expectDims(where + " output", out, d.outFeatures);
        expectLength(where + " weights", d.weights.length, (long) d.outFeatures * d.inFeatures);
        weights(where, d.weightBits, d.weights);
        expectLength(where + " bias", d.bias.length, d.outFeatures);
        requant(where, d.requant, d.outFeatures);
        return d;
    }

    private Node checkAdd(String where, Add a, Tensor in, Tensor out) {
        Tensor in2 = tensors.get(a.input2);
        if (!Arrays.equals(in.dims, in2.dims) || !Arrays.equals(in.dims, out.dims)) {
            throw new IllegalArgumentException(where + ": inputs " + Arrays.toString(in.dims) + " and " + Arrays.toString(in2.dims)
                    + " and output " + Arrays.toString(out.dims) + " must have the same shape");
        }
        if (a.leftShift < 0 || a.leftShift > 24) {
            throw new IllegalArgumentException(where + ": left shift " + a.leftShift + " outside 0..24");
        }
        requant(where, new Requant(new int[] {a.multiplier1, a.multiplier2, a.outputMultiplier},
                new int[] {a.shift1, a.shift2, a.outputShift}, a.activationMin, a.activationMax), 3);
        return a;
    }

    private static Node checkRequantize(String where, Requantize q, Tensor in, Tensor out) {
        if (!Arrays.equals(in.dims, out.dims)) {
            throw new IllegalArgumentException(where + ": input " + Arrays.toString(in.dims) + " and output "
                    + Arrays.toString(out.dims) + " must have the same shape");
        }
        requant(where, new Requant(new int[] {q.multiplier}, new int[] {q.shift}, q.activationMin, q.activationMax), 1);
        return q;
    }

    private static Node checkFlatten(String where, Flatten f, Tensor in, Tensor out) {
        if (out.dims.length != 1 || out.elements() != in.elements()) {
            throw new IllegalArgumentException(where + ": output " + Arrays.toString(out.dims) + " must be the flat "
                    + in.elements() + " elements of " + Arrays.toString(in.dims));
        }
        sameQuantization(where, in, out);
        return f;
    }

    private static void checkWindow(String where, Window w) {
        positive(where, w.kernelH, w.kernelW, w.strideH, w.strideW, w.dilationH, w.dilationW);
        nonNegative(where, w.padTop, w.padLeft, w.padBottom, w.padRight);
    }

    private void checkId(String what, int id) {
        if (id < 0 || id >= tensors.size()) {
            throw new IllegalArgumentException(what + " tensor id " + id + " outside 0.." + (tensors.size() - 1));
        }
    }

    private static void positive(String where, int... values) {
        for (int v : values) {
            if (v < 1 || v > MAX_DIMENSION) {
                throw new IllegalArgumentException(where + ": size/stride/dilation " + v + " outside 1.." + MAX_DIMENSION);
            }
        }
    }

    private static void nonNegative(String where, int... values) {
        for (int v : values) {
            if (v < 0 || v > MAX_DIMENSION) {
                throw new IllegalArgumentException(where + ": padding " + v + " outside 0.." + MAX_DIMENSION);
            }
        }
    }

    private static void expectDims(String where, Tensor t, int... expected) {
        boolean ok = t.dims.length == expected.length;
        for (int i = 0; ok && i < expected.length; i++) {
            ok = expected[i] < 0 || expected[i] == t.dims[i];
        }
        if (!ok) {
            throw new IllegalArgumentException(where + ": shape " + Arrays.toString(t.dims) + " does not match expected "
                    + Arrays.toString(expected) + " (-1 = any)");
        }
    }

    private static void expectLength(String where, long actual, long expected) {
        if (actual != expected) {
            throw new IllegalArgumentException(where + ": " + actual + " values, expected " + expected);
        }
    }

    private static void weights(String where, int bits, byte[] w) {
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException(where + ": weight bits " + bits + " outside 1..8");
        }
        int hi = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
        int lo = bits == 1 ? -1 : -hi;
        for (int i = 0; i < w.length; i++) {
            if (w[i] < lo || w[i] > hi || (bits == 1 && w[i] == 0)) {
                throw new IllegalArgumentException(where + ": weight code " + w[i] + " at " + i + " is not a " + bits + "-bit code");
            }
        }
    }

    private static void requant(String where, Requant r, int channels) {
        expectLength(where + " multipliers", r.multiplier.length, channels);
        expectLength(where + " shifts", r.shift.length, channels);
        for (int c = 0; c < channels; c++) {
            if (r.multiplier[c] != 0 && r.multiplier[c] < (1 << 30)) {
                throw new IllegalArgumentException(where + ": multiplier " + r.multiplier[c] + " of channel " + c
                        + " is neither 0 nor in [2^30, 2^31)");
            }
            if (r.shift[c] < FixedPoint.MIN_SHIFT || r.shift[c] > FixedPoint.MAX_SHIFT) {
                throw new IllegalArgumentException(where + ": shift " + r.shift[c] + " of channel " + c + " outside ["
                        + FixedPoint.MIN_SHIFT + ", " + FixedPoint.MAX_SHIFT + "]");
            }
        }
        if (r.activationMin < -128 || r.activationMax > 127 || r.activationMin > r.activationMax) {
            throw new IllegalArgumentException(where + ": activation range [" + r.activationMin + ", " + r.activationMax
                    + "] must lie within int8 with min <= max");
        }
    }

    private static Node checkPool(String where, Node pool, Window w, Tensor in, Tensor out) {
        checkWindow(where, w);
        if (w.dilationH != 1 || w.dilationW != 1) {
            throw new IllegalArgumentException(where + ": pooling windows have dilation 1, got " + w.dilationH + "x" + w.dilationW);
        }
        if (w.padTop >= w.kernelH || w.padBottom >= w.kernelH || w.padLeft >= w.kernelW || w.padRight >= w.kernelW) {
            throw new IllegalArgumentException(where + ": padding must be smaller than the window");
        }
        if (in.dims.length != 3) {
            throw new IllegalArgumentException(where + ": input must be [C, H, W], got " + Arrays.toString(in.dims));
        }
        expectDims(where + " output", out, in.dims[0], w.outputH(in.dims[1]), w.outputW(in.dims[2]));
        sameQuantization(where, in, out);
        return pool;
    }

    private static void sameQuantization(String where, Tensor in, Tensor out) {
        if (Double.compare(in.scale, out.scale) != 0 || in.zeroPoint != out.zeroPoint) {
            throw new IllegalArgumentException(where + ": input and output must share scale and zero point");
        }
    }
}
