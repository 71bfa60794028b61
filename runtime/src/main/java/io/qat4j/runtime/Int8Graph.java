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
     * A graph node reading one tensor (two for Add, two or more for Concat) and writing another. The set is closed: each record
     * answers its {@link NodeKind}, and code that treats kinds differently switches on {@link #kind()}.
     */
    public sealed interface Node permits Conv2D, Dense, MaxPool, AvgPool, Flatten, Add, Requantize, AvgPoolRequant, DepthwiseConv2D,
            Concat, LeakyRelu, LookupTable, ZeroPad, Crop, UpsampleNearest, DenseLogits {
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

    /**
     * A reshape that keeps the C-order element sequence: {@code [C, H, W]} to {@code [C*H*W]} (DL4J's
     * CNN-to-dense order) or any other shape with as many elements ({@code [F]} to {@code [C, H, W]}:
     * DL4J's FeedForwardToCnnPreProcessor); same quantization. Version-1 and 2 files hold flattens only.
     */
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

    /**
     * Average pooling with requantization (format version 3; {@link AvgPool} stays as it was for older files).
     * Per window: {@code sum = sum (q - z_in)} over the valid (unpadded) elements in int32, {@code k} = their
     * count ({@code countIncludePad} false) or the window area {@code kernelH kernelW} ({@code countIncludePad}
     * true: padded positions count in the divisor, as real zeros), then one requantization
     * {@code y = clamp(z_out + MBQM(sum, requant.multiplier[k - 1], requant.shift[k - 1]), min, max)} with
     * {@code M_k = s_in / (k s_out)}: a single rounding of the real mean, as the fake-quant network rounds
     * once when the consumer's quantizer sees the float mean (DESIGN.md "More integer operators"). With
     * equal scales and zero points this is TFLite's average pool up to its rounding. Input and output may
     * have different scales and zero points. Global average pooling is this node with the whole map as
     * the window ({@code kernelH = H}, {@code kernelW = W}, no padding).
     *
     * <p>DL4J 1.0.0-M2.1's {@code SubsamplingLayer.Builder} sets {@code avgPoolIncludePadInDivisor} to false
     * (the divisor is the valid count, ONNX {@code count_include_pad = 0}); only a layer deserialized from
     * JSON that lacks the field gets the no-argument constructor's true.
     *
     * @param window          kernel, stride and padding; dilation 1, padding smaller than the kernel (every
     *                        window holds a valid element), area at most {@link #MAX_AREA}
     * @param countIncludePad whether padded positions count in the divisor
     * @param requant         one Q31 multiplier and shift per possible divisor {@code k = 1 .. kernelH kernelW}
     *                        (entry {@code k - 1}), and the output clamp {@code [activationMin, activationMax]}
     */
    public record AvgPoolRequant(int input, int output, Window window, boolean countIncludePad, Requant requant) implements Node {
        /** Largest window area: the int32 window sum {@code |sum| <= 255 k} stays below 2^31. */
        public static final int MAX_AREA = 1 << 23;

        public AvgPoolRequant {
            java.util.Objects.requireNonNull(window, "window");
            java.util.Objects.requireNonNull(requant, "requant");
        }

        @Override
        public NodeKind kind() {
            return NodeKind.AVG_POOL_REQUANT;
        }

        /**
         * The node for {@code in -> out}: {@code M_k = quantizeMultiplier((s_in / s_out) / k)} for each divisor
         * {@code k = 1 .. kernelH kernelW}, so that the kernels stay integer-only.
         *
         * @throws IllegalArgumentException for a window area outside {@code 1..MAX_AREA}, or scales whose ratio
         *                                  {@link FixedPoint#quantizeMultiplier} cannot represent
         */
        public static AvgPoolRequant of(int input, int output, Window window, boolean countIncludePad, Tensor in, Tensor out,
                                        int activationMin, int activationMax) {
            long area = (long) window.kernelH() * window.kernelW();
            if (area < 1 || area > MAX_AREA) {
                throw new IllegalArgumentException("AvgPoolRequant: window " + window.kernelH() + "x" + window.kernelW() + " has "
                        + area + " elements; 1.." + MAX_AREA + " are supported");
            }
            double ratio = in.scale() / out.scale();
            int[] m = new int[(int) area];
            int[] s = new int[(int) area];
            for (int k = 1; k <= area; k++) {
                FixedPoint.QuantizedMultiplier q = FixedPoint.quantizeMultiplier(ratio / k);
                m[k - 1] = q.multiplier();
                s[k - 1] = q.shift();
            }
            return new AvgPoolRequant(input, output, window, countIncludePad, new Requant(m, s, activationMin, activationMax));
        }
    }

    /**
     * Depthwise 2-D convolution, NCHW, TFLite {@code DepthwiseConv} semantics: output channel {@code o} reads
     * input channel {@code o / depthMultiplier} only, {@code acc = bias[o] + sum (x - z_x) w[o][ky][kx]} in
     * int32 over the (possibly padded, strided, dilated) window, then the per-output-channel requantization
     * as {@link Conv2D}. Weights {@code [inChannels depthMultiplier][kernelH][kernelW]} are int8 codes with
     * zero point 0, packed at {@code weightBits} bits like Conv2D's; bias is {@code round(b / (s_x s_w[o]))}.
     * A separable convolution is this node followed by a 1x1 {@link Conv2D}.
     *
     * @param inChannels      channels of the input
     * @param depthMultiplier output channels per input channel (DL4J {@code depthMultiplier}); the output has
     *                        {@link #outChannels()} {@code = inChannels depthMultiplier}
     */
    public record DepthwiseConv2D(int input, int output, int inChannels, int depthMultiplier, Window window, int weightBits, byte[] weights,
                                  int[] bias, Requant requant) implements Node {
        public DepthwiseConv2D {
            java.util.Objects.requireNonNull(window, "window");
            java.util.Objects.requireNonNull(requant, "requant");
            weights = weights.clone();
            bias = bias.clone();
        }

        @Override
        public NodeKind kind() {
            return NodeKind.DEPTHWISE_CONV2D;
        }

        /** {@code inChannels depthMultiplier} ({@link #validate()} keeps it within {@link #MAX_DIMENSION}). */
        public int outChannels() {
            return inChannels * depthMultiplier;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof DepthwiseConv2D c && input == c.input && output == c.output && inChannels == c.inChannels
                    && depthMultiplier == c.depthMultiplier && window.equals(c.window) && weightBits == c.weightBits
                    && Arrays.equals(weights, c.weights) && Arrays.equals(bias, c.bias) && requant.equals(c.requant);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(weights) * 31 + Arrays.hashCode(bias);
        }
    }

    /**
     * Concatenation along the channel axis (axis 0 of the per-sample dims: {@code [C_i, H, W]} into
     * {@code [sum C_i, H, W]}, or {@code [F_i]} into {@code [sum F_i]}), TFLite's int8 concatenation: input
     * {@code i} is copied as is when it has the output's scale and zero point, else requantized to them,
     * {@code y = clamp(z_out + MBQM(x - z_i, multiplier[i], shift[i]), -128, 127)} with {@code M_i = s_i / s_out}.
     * A copied input's multiplier is the identity ({@link #IDENTITY_MULTIPLIER}, {@link #IDENTITY_SHIFT}:
     * {@code MBQM(x, 2^30, 1) = x} in both roundings, so copying and requantizing agree).
     *
     * @param inputs     two or more tensor ids, in output order (the same id may appear twice)
     * @param multiplier Q31 multiplier per input
     * @param shift      shift per input
     */
    public record Concat(int[] inputs, int output, int[] multiplier, int[] shift) implements Node {
        /** Q31 multiplier of the real multiplier 1: {@code quantizeMultiplier(1.0)}. */
        public static final int IDENTITY_MULTIPLIER = 1 << 30;
        /** Shift of the real multiplier 1. */
        public static final int IDENTITY_SHIFT = 1;

        public Concat {
            inputs = inputs.clone();
            multiplier = multiplier.clone();
            shift = shift.clone();
        }

        @Override
        public NodeKind kind() {
            return NodeKind.CONCAT;
        }

        /** The first input ({@code -1} for a node without inputs, which {@link #validate()} refuses). */
        @Override
        public int input() {
            return inputs.length == 0 ? -1 : inputs[0];
        }

        /** Every input, in output order. */
        @Override
        public int[] inputs() {
            return inputs.clone();
        }

        @Override
        public int[] multiplier() {
            return multiplier.clone();
        }

        @Override
        public int[] shift() {
            return shift.clone();
        }

        /** Whether input tensor {@code in} is copied into {@code out} (same scale and zero point) rather than requantized. */
        public static boolean copies(Tensor in, Tensor out) {
            return Double.compare(in.scale(), out.scale()) == 0 && in.zeroPoint() == out.zeroPoint();
        }

        /**
         * The node for {@code inputs -> output}: the identity for an input at the output's scale and zero point,
         * else {@code quantizeMultiplier(s_i / s_out)}.
         *
         * @param inputTensors the tensors of {@code inputs}, in the same order
         * @throws IllegalArgumentException when the two arrays differ in length, or for a ratio
         *                                  {@link FixedPoint#quantizeMultiplier} cannot represent
         */
        public static Concat of(int[] inputs, int output, List<Tensor> inputTensors, Tensor out) {
            if (inputTensors.size() != inputs.length) {
                throw new IllegalArgumentException("Concat.of: " + inputs.length + " input ids but " + inputTensors.size() + " tensors");
            }
            int[] m = new int[inputs.length];
            int[] s = new int[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                Tensor in = inputTensors.get(i);
                FixedPoint.QuantizedMultiplier q = copies(in, out) ? new FixedPoint.QuantizedMultiplier(IDENTITY_MULTIPLIER, IDENTITY_SHIFT)
                        : FixedPoint.quantizeMultiplier(in.scale() / out.scale());
                m[i] = q.multiplier();
                s[i] = q.shift();
            }
            return new Concat(inputs, output, m, s);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Concat c && output == c.output && Arrays.equals(inputs, c.inputs) && Arrays.equals(multiplier, c.multiplier)
                    && Arrays.equals(shift, c.shift);
        }

        @Override
        public int hashCode() {
            return (Arrays.hashCode(inputs) * 31 + output) * 31 + Arrays.hashCode(multiplier);
        }

        @Override
        public String toString() {
            return "Concat[inputs=" + Arrays.toString(inputs) + ", output=" + output + ", multiplier=" + Arrays.toString(multiplier)
                    + ", shift=" + Arrays.toString(shift) + "]";
        }
    }

    /**
     * TFLite's int8 {@code LEAKY_RELU}, elementwise: with {@code d = q - z_in},
     * {@code y = clamp(z_out + MBQM(d, multiplierPositive, shiftPositive), min, max)} for {@code d >= 0} and
     * {@code clamp(z_out + MBQM(d, multiplierNegative, shiftNegative), min, max)} below, where
     * {@code M_pos = s_in / s_out} and {@code M_neg = alpha s_in / s_out}. Alpha 0 (a multiplier of 0) is a
     * ReLU to the output zero point; input and output have the same shape and may differ in scale and zero point.
     */
    public record LeakyRelu(int input, int output, int multiplierPositive, int shiftPositive, int multiplierNegative, int shiftNegative,
                            int activationMin, int activationMax) implements Node {
        @Override
        public NodeKind kind() {
            return NodeKind.LEAKY_RELU;
        }

        /**
         * The multipliers for {@code in -> out} and slope {@code alpha}.
         *
         * @param alpha the slope below zero (DL4J {@code ActivationLReLU}, default 0.01), finite and {@code >= 0}
         * @throws IllegalArgumentException for a negative, NaN or infinite alpha, or a multiplier
         *                                  {@link FixedPoint#quantizeMultiplier} cannot represent
         */
        public static LeakyRelu of(int input, int output, Tensor in, Tensor out, double alpha, int activationMin, int activationMax) {
            if (!(alpha >= 0) || Double.isInfinite(alpha)) {
                throw new IllegalArgumentException("LeakyRelu: alpha " + alpha + " must be finite and >= 0 (a negative slope has "
                        + "no int8 LeakyRelu; export it as a lookup table)");
            }
            FixedPoint.QuantizedMultiplier pos = FixedPoint.quantizeMultiplier(in.scale() / out.scale());
            FixedPoint.QuantizedMultiplier neg = FixedPoint.quantizeMultiplier(alpha * in.scale() / out.scale());
            return new LeakyRelu(input, output, pos.multiplier(), pos.shift(), neg.multiplier(), neg.shift(), activationMin, activationMax);
        }
    }

    /**
     * An elementwise function through a 256-entry table (TFLite's int8 approach for sigmoid, tanh, ELU, hard
     * sigmoid, swish...): {@code y = table[q + 128]}. Input and output have the same shape and their own
     * scale and zero point; {@link #of} builds the table once, at export.
     *
     * @param function  the real function the table holds, a label for exporters and readers (the table alone
     *                  decides the output); {@link TableFunction#CUSTOM} when it has no name here
     * @param parameter the function's parameter ({@link TableFunction#ELU}'s alpha), 0 for the others
     * @param table     256 int8 codes, entry {@code q + 128} for input code {@code q}
     */
    public record LookupTable(int input, int output, TableFunction function, double parameter, byte[] table) implements Node {
        /** Entries of a table: one per int8 code. */
        public static final int SIZE = 256;

        public LookupTable {
            java.util.Objects.requireNonNull(function, "function");
            table = table.clone();
        }

        @Override
        public NodeKind kind() {
            return NodeKind.LOOKUP_TABLE;
        }

        @Override
        public byte[] table() {
            return table.clone();
        }

        /**
         * The table of {@code f} for {@code in -> out}: entry {@code q + 128} is
         * {@code clamp(round(f(s_in (q - z_in)) / s_out) + z_out, -128, 127)}, rounded as the graph's other
         * activation codes are: ties toward +infinity, {@code floor(v + 1/2)}, for {@link FixedPoint.Rounding#SINGLE}
         * (as qat4j's fake-quant quantizers round, runtime/FORMAT.md); ties away from zero for
         * {@link FixedPoint.Rounding#DOUBLE} (TFLite's {@code LUTPopulate}, {@code std::round}).
         *
         * @param f         the real function (the exporter's own definition of the activation)
         * @param function  its name for exporters ({@link TableFunction#CUSTOM} if none fits)
         * @param parameter the function's parameter (ELU's alpha), 0 where it has none
         * @param rounding  the graph's rounding mode
         * @throws IllegalArgumentException when {@code f} returns NaN for some code (naming the code and input value)
         */
        public static LookupTable of(int input, int output, Tensor in, Tensor out, java.util.function.DoubleUnaryOperator f,
                                     TableFunction function, double parameter, FixedPoint.Rounding rounding) {
            byte[] t = new byte[SIZE];
            for (int q = -128; q < 128; q++) {
                double x = in.scale() * (q - in.zeroPoint());
                double v = f.applyAsDouble(x) / out.scale();
                if (Double.isNaN(v)) {
                    throw new IllegalArgumentException("LookupTable (" + function + "): the function is NaN at input code " + q
                            + " (real value " + x + ")");
                }
                double r = switch (rounding) {
                    case SINGLE -> Math.floor(v + 0.5);
                    case DOUBLE -> Math.signum(v) * Math.floor(Math.abs(v) + 0.5);
                };
                t[q + 128] = (byte) Math.max(-128, Math.min(127, r + out.zeroPoint()));
            }
            return new LookupTable(input, output, function, parameter, t);
        }

        /** {@link #of(int, int, Tensor, Tensor, java.util.function.DoubleUnaryOperator, TableFunction, double, FixedPoint.Rounding)} of {@link TableFunction#apply}. */
        public static LookupTable of(int input, int output, Tensor in, Tensor out, TableFunction function, double parameter,
                                     FixedPoint.Rounding rounding) {
            return of(input, output, in, out, x -> function.apply(x, parameter), function, parameter, rounding);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof LookupTable l && input == l.input && output == l.output && function == l.function
                    && Double.compare(parameter, l.parameter) == 0 && Arrays.equals(table, l.table);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(table) * 31 + function.hashCode();
        }

        @Override
        public String toString() {
            return "LookupTable[input=" + input + ", output=" + output + ", function=" + function + ", parameter=" + parameter + "]";
        }
    }

    /**
     * Zero padding of a {@code [C, H, W]} map to {@code [C, top + H + bottom, left + W + right]}, the new
     * positions holding the tensor's zero point (real 0); same scale and zero point in and out (DL4J
     * {@code ZeroPaddingLayer}, ONNX {@code Pad} with constant 0).
     */
    public record ZeroPad(int input, int output, int top, int left, int bottom, int right) implements Node {
        @Override
        public NodeKind kind() {
            return NodeKind.ZERO_PAD;
        }
    }

    /**
     * Cropping of a {@code [C, H, W]} map to {@code [C, H - top - bottom, W - left - right]} (DL4J
     * {@code Cropping2D}, ONNX {@code Slice}); same scale and zero point in and out.
     */
    public record Crop(int input, int output, int top, int left, int bottom, int right) implements Node {
        @Override
        public NodeKind kind() {
            return NodeKind.CROP;
        }
    }

    /**
     * Nearest-neighbour upsampling of a {@code [C, H, W]} map by integer factors to {@code [C, H scaleH, W scaleW]}:
     * output {@code (y, x)} copies input {@code (y / scaleH, x / scaleW)} (DL4J {@code Upsampling2D}, ONNX
     * {@code Resize} nearest); same scale and zero point in and out.
     */
    public record UpsampleNearest(int input, int output, int scaleH, int scaleW) implements Node {
        @Override
        public NodeKind kind() {
            return NodeKind.UPSAMPLE_NEAREST;
        }
    }

    /**
     * The network's last fully connected layer emitting dequantized logits instead of int8 codes, so that
     * exported logits never saturate: {@code acc[c] = bias[c] + sum (x - z_x) w[c][i]} in int32 as {@link Dense}
     * computes it, and {@code logit[c] = scale[c] acc[c]} with {@code scale[c] = s_x s_w[c]} (the accumulator's
     * real step). Its output is no int8 tensor: it must be the graph's output, no node may read it, and its
     * tensor table entry gives only the shape {@code [outFeatures]} with scale 1 and zero point 0.
     * {@link Int8Model#runQuantized} returns the accumulators as 4 little-endian bytes each, and
     * {@link Int8Model#run} the logits.
     *
     * @param scale the real step of each output's accumulator, {@code s_x s_w[c]}, positive and finite
     */
    public record DenseLogits(int input, int output, int outFeatures, int inFeatures, int weightBits, byte[] weights, int[] bias,
                              double[] scale) implements Node {
        public DenseLogits {
            weights = weights.clone();
            bias = bias.clone();
            scale = scale.clone();
        }

        @Override
        public NodeKind kind() {
            return NodeKind.DENSE_LOGITS;
        }

        @Override
        public double[] scale() {
            return scale.clone();
        }

        /** {@code scale[c] acc} for output {@code c}: the logit of accumulator {@code acc}. */
        public double logit(int c, int acc) {
            return scale[c] * acc;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof DenseLogits d && input == d.input && output == d.output && outFeatures == d.outFeatures
                    && inFeatures == d.inFeatures && weightBits == d.weightBits && Arrays.equals(weights, d.weights)
                    && Arrays.equals(bias, d.bias) && Arrays.equals(scale, d.scale);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(weights) * 31 + Arrays.hashCode(bias);
        }
    }

    /** The node that writes the graph output when it is a {@link DenseLogits}, else null (the output is an int8 tensor). */
    public DenseLogits logitsNode() {
        for (Node n : nodes) {
            if (n.output() == output && n instanceof DenseLogits d) {
                return d;
            }
        }
        return null;
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
            if (node.inputs().length == 0) {
                throw new IllegalArgumentException(where + " reads no tensor");
            }
            for (int id : node.inputs()) {
                checkId(where + " input", id);
                if (writer[id] == 0) {
                    throw new IllegalArgumentException(where + " reads tensor " + id + " before any node writes it (the graph input is "
                            + "tensor " + input + "; nodes run in file order, so a tensor's writer must come before its readers)");
                }
                if (writer[id] > 0 && nodes.get(writer[id] - 1) instanceof DenseLogits) {
                    throw new IllegalArgumentException(where + " reads tensor " + id + ", the int32 logits of node " + (writer[id] - 1)
                            + " (DenseLogits), which are no int8 codes: a DenseLogits node writes the graph output and nothing reads it");
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
                case AVG_POOL_REQUANT -> checkAvgPoolRequant(where, (AvgPoolRequant) node, in, out);
                case DEPTHWISE_CONV2D -> checkDepthwise(where, (DepthwiseConv2D) node, in, out);
                case CONCAT -> checkConcat(where, (Concat) node, out);
                case LEAKY_RELU -> checkLeakyRelu(where, (LeakyRelu) node, in, out);
                case LOOKUP_TABLE -> checkLookupTable(where, (LookupTable) node, in, out);
                case ZERO_PAD -> {
                    ZeroPad p = (ZeroPad) node;
                    yield checkMapEdit(where, p, in, out, p.top, p.left, p.bottom, p.right, 1);
                }
                case CROP -> {
                    Crop c = (Crop) node;
                    yield checkMapEdit(where, c, in, out, c.top, c.left, c.bottom, c.right, -1);
                }
                case UPSAMPLE_NEAREST -> checkUpsample(where, (UpsampleNearest) node, in, out);
                case DENSE_LOGITS -> checkDenseLogits(where, (DenseLogits) node, in, out);
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
        if (out.elements() != in.elements()) {
            throw new IllegalArgumentException(where + ": output " + Arrays.toString(out.dims) + " must hold the "
                    + in.elements() + " elements of " + Arrays.toString(in.dims) + " (a flatten or reshape keeps every element)");
        }
        sameQuantization(where, in, out);
        return f;
    }

    private static Node checkAvgPoolRequant(String where, AvgPoolRequant p, Tensor in, Tensor out) {
        Window w = p.window;
        checkPoolWindow(where, w, in, out);
        long area = (long) w.kernelH * w.kernelW;
        if (area > AvgPoolRequant.MAX_AREA) {
            throw new IllegalArgumentException(where + ": window " + w.kernelH + "x" + w.kernelW + " has " + area + " elements, more than "
                    + AvgPoolRequant.MAX_AREA + " (the int32 window sum could overflow)");
        }
        expectLength(where + " multipliers (one per divisor 1.." + area + ")", p.requant.multiplier.length, area);
        requant(where, p.requant, (int) area);
        for (int k = 1; k <= area; k++) {
            noOverflow(where, "divisor " + k, 255L * k, p.requant.shift[k - 1]);
        }
        return p;
    }

    private static Node checkDepthwise(String where, DepthwiseConv2D c, Tensor in, Tensor out) {
        positive(where, c.inChannels, c.depthMultiplier);
        long outC = (long) c.inChannels * c.depthMultiplier;
        if (outC > MAX_DIMENSION) {
            throw new IllegalArgumentException(where + ": " + c.inChannels + " channels x depth multiplier " + c.depthMultiplier + " = "
                    + outC + " output channels, more than " + MAX_DIMENSION);
        }
        checkWindow(where, c.window);
        expectDims(where + " input", in, c.inChannels, -1, -1);
        expectDims(where + " output", out, (int) outC, c.window.outputH(in.dims[1]), c.window.outputW(in.dims[2]));
        expectLength(where + " weights", c.weights.length, outC * c.window.kernelH() * c.window.kernelW());
        weights(where, c.weightBits, c.weights);
        expectLength(where + " bias", c.bias.length, outC);
        requant(where, c.requant, (int) outC);
        return c;
    }

    private Node checkConcat(String where, Concat c, Tensor out) {
        int count = c.inputs.length;
        if (count < 2) {
            throw new IllegalArgumentException(where + ": " + count + " input; a concatenation takes two or more");
        }
        expectLength(where + " multipliers", c.multiplier.length, count);
        expectLength(where + " shifts", c.shift.length, count);
        long channels = 0;
        for (int i = 0; i < count; i++) {
            Tensor t = tensors.get(c.inputs[i]);
            boolean sameRest = t.dims.length == out.dims.length;
            for (int d = 1; sameRest && d < t.dims.length; d++) {
                sameRest = t.dims[d] == out.dims[d];
            }
            if (!sameRest) {
                throw new IllegalArgumentException(where + ": input " + i + " (tensor " + c.inputs[i] + ") " + Arrays.toString(t.dims)
                        + " and output " + Arrays.toString(out.dims) + " must have the same rank and agree in every dimension "
                        + "but the first (the channel axis)");
            }
            channels += t.dims[0];
            requant(where + " input " + i, new Requant(new int[] {c.multiplier[i]}, new int[] {c.shift[i]}, -128, 127), 1);
            noOverflow(where, "input " + i, 255, c.shift[i]);
            if (Concat.copies(t, out) && (c.multiplier[i] != Concat.IDENTITY_MULTIPLIER || c.shift[i] != Concat.IDENTITY_SHIFT)) {
                throw new IllegalArgumentException(where + ": input " + i + " has the output's scale and zero point, so it is copied; "
                        + "its multiplier must be the identity " + Concat.IDENTITY_MULTIPLIER + ", shift " + Concat.IDENTITY_SHIFT + ", got "
                        + c.multiplier[i] + ", shift " + c.shift[i] + " (build the node with Concat.of)");
            }
        }
        if (channels != out.dims[0]) {
            throw new IllegalArgumentException(where + ": the inputs have " + channels + " channels in all, the output "
                    + Arrays.toString(out.dims) + " has " + out.dims[0]);
        }
        return c;
    }

    private static Node checkLeakyRelu(String where, LeakyRelu l, Tensor in, Tensor out) {
        sameShape(where, in, out);
        requant(where, new Requant(new int[] {l.multiplierPositive, l.multiplierNegative}, new int[] {l.shiftPositive, l.shiftNegative},
                l.activationMin, l.activationMax), 2);
        noOverflow(where, "positive side", 255, l.shiftPositive);
        noOverflow(where, "negative side", 255, l.shiftNegative);
        return l;
    }

    private static Node checkLookupTable(String where, LookupTable l, Tensor in, Tensor out) {
        sameShape(where, in, out);
        expectLength(where + " table", l.table.length, LookupTable.SIZE);
        if (!Double.isFinite(l.parameter) || (!l.function.parameter() && l.parameter != 0)) {
            throw new IllegalArgumentException(where + ": parameter " + l.parameter + " of " + l.function + (l.function.parameter()
                    ? " must be finite" : " must be 0 (the function takes none)"));
        }
        return l;
    }

    /** ZeroPad ({@code sign} 1) or Crop ({@code sign} -1) of a {@code [C, H, W]} map by the given margins; same quantization. */
    private static Node checkMapEdit(String where, Node node, Tensor in, Tensor out, int top, int left, int bottom, int right, int sign) {
        nonNegative(where, top, left, bottom, right);
        if (in.dims.length != 3) {
            throw new IllegalArgumentException(where + ": input must be [C, H, W], got " + Arrays.toString(in.dims));
        }
        long h = in.dims[1] + (long) sign * (top + bottom);
        long w = in.dims[2] + (long) sign * (left + right);
        if (h < 1 || w < 1) {
            throw new IllegalArgumentException(where + ": cropping " + top + "+" + bottom + " rows and " + left + "+" + right
                    + " columns leaves nothing of " + Arrays.toString(in.dims));
        }
        expectDims(where + " output", out, in.dims[0], (int) Math.min(h, Integer.MAX_VALUE), (int) Math.min(w, Integer.MAX_VALUE));
        sameQuantization(where, in, out);
        return node;
    }

    private static Node checkUpsample(String where, UpsampleNearest u, Tensor in, Tensor out) {
        positive(where, u.scaleH, u.scaleW);
        if (in.dims.length != 3) {
            throw new IllegalArgumentException(where + ": input must be [C, H, W], got " + Arrays.toString(in.dims));
        }
        long h = (long) in.dims[1] * u.scaleH;
        long w = (long) in.dims[2] * u.scaleW;
        expectDims(where + " output", out, in.dims[0], (int) Math.min(h, Integer.MAX_VALUE), (int) Math.min(w, Integer.MAX_VALUE));
        sameQuantization(where, in, out);
        return u;
    }

    private Node checkDenseLogits(String where, DenseLogits d, Tensor in, Tensor out) {
        if (d.output != output) {
            throw new IllegalArgumentException(where + " writes tensor " + d.output + ", but its int32 logits can only be the graph "
                    + "output (tensor " + output + "): put the DenseLogits node last, writing the output");
        }
        positive(where, d.outFeatures, d.inFeatures);
        expectDims(where + " input", in, d.inFeatures);
        expectDims(where + " output", out, d.outFeatures);
        if (Double.compare(out.scale, 1.0) != 0 || out.zeroPoint != 0) {
            throw new IllegalArgumentException(where + ": its output tensor " + d.output + " holds int32 accumulators, not int8 codes; "
                    + "its table entry must have scale 1 and zero point 0 (the logits' scales are the node's own), got " + out);
        }
        expectLength(where + " weights", d.weights.length, (long) d.outFeatures * d.inFeatures);
        weights(where, d.weightBits, d.weights);
        expectLength(where + " bias", d.bias.length, d.outFeatures);
        expectLength(where + " scales", d.scale.length, d.outFeatures);
        for (int c = 0; c < d.outFeatures; c++) {
            if (!(d.scale[c] > 0) || Double.isInfinite(d.scale[c])) {
                throw new IllegalArgumentException(where + ": logit scale " + d.scale[c] + " of output " + c + " must be positive and finite");
            }
        }
        return d;
    }

    /**
     * Refuses a shift with which {@code MBQM} (double rounding: {@code x 2^shift} first) of values up to {@code maxAbs}
     * would overflow int32.
     */
    private static void noOverflow(String where, String what, long maxAbs, int shift) {
        if (shift > 0 && maxAbs << shift > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(where + ": shift " + shift + " of " + what + " would overflow int32 for values up to "
                    + maxAbs + " (the ratio of the scales is too large)");
        }
    }

    private static void sameShape(String where, Tensor in, Tensor out) {
        if (!Arrays.equals(in.dims, out.dims)) {
            throw new IllegalArgumentException(where + ": input " + Arrays.toString(in.dims) + " and output "
                    + Arrays.toString(out.dims) + " must have the same shape");
        }
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
        checkPoolWindow(where, w, in, out);
        sameQuantization(where, in, out);
        return pool;
    }

    /** A pooling window (dilation 1, padding smaller than the kernel) between two {@code [C, H, W]} maps of the same channels. */
    private static void checkPoolWindow(String where, Window w, Tensor in, Tensor out) {
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
    }

    private static void sameQuantization(String where, Tensor in, Tensor out) {
        if (Double.compare(in.scale, out.scale) != 0 || in.zeroPoint != out.zeroPoint) {
            throw new IllegalArgumentException(where + ": input and output must share scale and zero point");
        }
    }
}
