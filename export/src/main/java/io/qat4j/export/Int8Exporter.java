package io.qat4j.export;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationHardSigmoid;
import org.nd4j.linalg.activations.impl.ActivationHardTanH;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftPlus;
import org.nd4j.linalg.activations.impl.ActivationSoftSign;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationSwish;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizerReadout;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.TableFunction;
import io.qat4j.ste.BitWidths;

/**
 * Turns a trained QAT {@link MultiLayerNetwork} or {@link org.deeplearning4j.nn.graph.ComputationGraph}
 * into an {@link Int8Graph}. Both go through one walk, {@link GraphExporter} (a layer list is seen
 * as a chain of layer vertices); this class holds what the walk emits per layer.
 *
 * <p>Each quantized weighted layer becomes one Conv2D or Dense node: integer weight codes and
 * per-channel weight scales from its weight quantizer (a fused conv+BN uses its folded weights and
 * bias, i.e. frozen statistics), int32 bias {@code round(b/(s_x s_w))}, and per-channel multipliers
 * {@code M = s_x s_w / s_y} ({@link FixedPoint#quantizeMultiplier}). The input scale {@code s_x} is
 * the layer's own input quantizer; the output scale {@code s_y} is the quantizer that consumes the
 * output (the next weighted layer's input quantizer), whose code range together with a ReLU/ReLU6
 * (on the layer or in activation layers before it) becomes the node's clamp. Unsigned codes are
 * stored as int8 shifted by -128. An output dense/output layer becomes a DenseLogits node (its int32
 * accumulators dequantized, never saturated). The other layers and vertices map as {@link GraphExporter} says;
 * anything else is an error naming the layer. Quantizer state is read through
 * {@link io.qat4j.layers.QuantizerReadout}.
 */
public final class Int8Exporter {

    private static final String WEIGHT = org.deeplearning4j.nn.params.DefaultParamInitializer.WEIGHT_KEY;

    /**
     * The exported graph and what was decided along the way (for logs and reports).
     *
     * @param weightScales per node of the graph: the real weight scale of each output channel of a
     *                     Conv2D/Dense node ({@code s_w}, what the integer multipliers were computed
     *                     from; the ONNX export needs them), {@code null} for other nodes
     * @param nodeVertices per node of the graph: the name of the network vertex it was emitted for (a
     *                     layer's convolution or dense node under the layer's name, the identity
     *                     requantization of the network input under the input's name, an Add under the
     *                     vertex's name); nodes that commute with quantization and are emitted on a
     *                     pending output's path (max pooling, reshapes, padding, cropping, upsampling) and
     *                     requantizations carry the name of the consumer that quantized them; {@code null}
     *                     where unknown (a graph built by hand). For per-layer diagnostics.
     */
    public record Result(Int8Graph graph, List<String> notes, List<double[]> weightScales, List<String> nodeVertices) {
        public Result {
            notes = List.copyOf(notes);
            weightScales = java.util.Collections.unmodifiableList(new ArrayList<>(weightScales));
            nodeVertices = java.util.Collections.unmodifiableList(new ArrayList<>(nodeVertices));
            if (weightScales.size() != graph.nodes().size() || nodeVertices.size() != graph.nodes().size()) {
                throw new IllegalArgumentException("Int8Exporter.Result: " + graph.nodes().size() + " nodes but " + weightScales.size()
                        + " weight-scale entries and " + nodeVertices.size() + " vertex names (one of each per node)");
            }
        }

        /** A result without vertex names (a graph built by hand). */
        public Result(Int8Graph graph, List<String> notes, List<double[]> weightScales) {
            this(graph, notes, weightScales, java.util.Collections.nCopies(graph.nodes().size(), null));
        }

        static Result of(Int8Graph graph, List<String> notes, Map<Int8Graph.Node, double[]> scales, List<String> vertices) {
            List<double[]> perNode = new ArrayList<>();
            for (Int8Graph.Node n : graph.nodes()) {
                perNode.add(scales.get(n));
            }
            return new Result(graph, notes, perNode, vertices);
        }
    }

    /** int8 view of a quantizer: scale, zero point and the int8 code range it produces. */
    record Codes(double scale, int zeroPoint, int min, int max) {
    }

    private Int8Exporter() {
    }

    /**
     * {@link #export(MultiLayerNetwork, INDArray, FixedPoint.Rounding)} with single-rounding
     * requantization: at 2-3 bits accumulators are a few units, where TFLite's default double
     * rounding lands up to 3/4 of an output step away from {@code acc M} and the integer model
     * drifts from the fake-quant network it was trained as.
     */
    public static Result export(MultiLayerNetwork net, INDArray calibration) {
        return export(net, calibration, FixedPoint.Rounding.SINGLE);
    }

    /**
     * Exports a QAT {@link org.deeplearning4j.nn.graph.ComputationGraph} with residual Adds (rules:
     * {@link GraphExporter}); single-rounding requantization.
     */
    public static Result export(org.deeplearning4j.nn.graph.ComputationGraph graph, INDArray calibration) {
        return export(graph, calibration, FixedPoint.Rounding.SINGLE);
    }

    /** {@link #export(org.deeplearning4j.nn.graph.ComputationGraph, INDArray)} with the given rounding. */
    public static Result export(org.deeplearning4j.nn.graph.ComputationGraph graph, INDArray calibration, FixedPoint.Rounding rounding) {
        return GraphExporter.export(graph, calibration, rounding);
    }

    /**
     * @param net         trained QAT network (quantized weighted layers with input quantizers)
     * @param calibration a few input samples (NCHW or [N, F]); their shape gives the integer graph's input shape
     * @param rounding    requantization rounding of the exported graph ({@code DOUBLE} is TFLite's
     *                    default build, {@code SINGLE} its {@code TFLITE_SINGLE_ROUNDING} build)
     */
    public static Result export(MultiLayerNetwork net, INDArray calibration, FixedPoint.Rounding rounding) {
        return GraphExporter.export(GraphExporter.Network.of(net), calibration, rounding);
    }

    /**
     * Exports either kind of network ({@link MultiLayerNetwork} or
     * {@link org.deeplearning4j.nn.graph.ComputationGraph}) with single-rounding requantization.
     *
     * @throws IllegalArgumentException naming the layer or vertex the integer model cannot hold
     */
    public static Result export(org.deeplearning4j.nn.api.Model net, INDArray calibration) {
        if (net instanceof MultiLayerNetwork m) {
            return export(m, calibration);
        }
        if (net instanceof org.deeplearning4j.nn.graph.ComputationGraph g) {
            return export(g, calibration);
        }
        throw new IllegalArgumentException("the integer export takes a MultiLayerNetwork or a ComputationGraph, got "
                + (net == null ? "null" : net.getClass().getName()));
    }

    /** The int8 clamp {@code [lo, hi]} of an output with {@code codes} and a fused ReLU/ReLU6 (the codes' range for none). */
    static int[] fusedClamp(Codes codes, Activation act) {
        int lo = codes.min();
        int hi = codes.max();
        if (act != Activation.NONE) {
            lo = Math.max(lo, codes.zeroPoint());
        }
        if (act == Activation.RELU6) {
            hi = (int) Math.min(hi, codes.zeroPoint() + Math.rint(6 / codes.scale()));
        }
        return new int[] {lo, hi};
    }

    /**
     * A pooling window as DL4J configures it: kernel, stride, padding and convolution mode, resolved
     * against an input map by {@link #window}; {@link #global} covers the whole map.
     */
    record PoolGeometry(int[] kernel, int[] stride, int[] padding, ConvolutionMode mode) {
        static PoolGeometry of(SubsamplingLayer s, String name) {
            if (s.getDilation() != null && (s.getDilation()[0] != 1 || s.getDilation()[1] != 1)) {
                throw new IllegalArgumentException("layer " + name + ": dilated pooling is not supported by the integer export");
            }
            return new PoolGeometry(s.getKernelSize(), s.getStride(), s.getPadding(), s.getConvolutionMode());
        }

        static PoolGeometry global() {
            return new PoolGeometry(null, null, null, null);
        }

        Int8Graph.Window window(Int8Graph.Tensor in, String name) {
            if (in.dims().length != 3) {
                throw new IllegalArgumentException("layer " + name + ": pooling needs a [C, H, W] input, got " + in);
            }
            if (kernel == null) {
                return Int8Graph.Window.pool(in.dims()[1], in.dims()[2], 1, 1, 0, 0, 0, 0);
            }
            int[] p = pads(mode, padding, kernel, stride, new int[] {1, 1}, in);
            return Int8Graph.Window.pool(kernel[0], kernel[1], stride[0], stride[1], p[0], p[1], p[2], p[3]);
        }
    }

    /** Appends a max pooling node reading tensor {@code current} (same scale and zero point out); returns the new tensor id. */
    static int addMaxPool(PoolGeometry pool, String name, int current, List<Int8Graph.Tensor> tensors, List<Int8Graph.Node> nodes) {
        Int8Graph.Tensor in = tensors.get(current);
        Int8Graph.Window window = pool.window(in, name);
        tensors.add(new Int8Graph.Tensor(new int[] {in.dims()[0], window.outputH(in.dims()[1]), window.outputW(in.dims()[2])}, in.scale(),
                in.zeroPoint()));
        int out = tensors.size() - 1;
        nodes.add(new Int8Graph.MaxPool(current, out, window));
        return out;
    }

    /**
     * Appends a Flatten node: {@code [C, H, W]} to {@code [C*H*W]} ({@code dims == null}) or, C order
     * kept, to {@code dims} (DL4J's FeedForwardToCnnPreProcessor); returns the new tensor id.
     */
    static int addReshape(int current, int[] dims, List<Int8Graph.Tensor> tensors, List<Int8Graph.Node> nodes) {
        Int8Graph.Tensor t = tensors.get(current);
        int[] to = dims == null ? new int[] {(int) t.elements()} : dims.clone();
        long n = 1;
        for (int d : to) {
            n *= d;
        }
        if (n != t.elements()) {
            throw new IllegalArgumentException("reshape of " + t + " to " + java.util.Arrays.toString(to) + ": element counts differ");
        }
        if (java.util.Arrays.equals(to, t.dims())) {
            return current;
        }
        tensors.add(new Int8Graph.Tensor(to, t.scale(), t.zeroPoint()));
        nodes.add(new Int8Graph.Flatten(current, tensors.size() - 1));
        return tensors.size() - 1;
    }

    /** Activations that fuse into the clamp of the node before them. */
    enum Activation { NONE, RELU, RELU6 }

    /**
     * The clamp an activation fuses into, or null when it is no clamp (LeakyReLU, the table
     * functions): identity and softmax are NONE (softmax on the logits runs outside the integer graph).
     */
    static Activation fusedActivation(IActivation a) {
        if (a == null || a instanceof ActivationIdentity || a instanceof ActivationSoftmax) {
            return Activation.NONE;
        }
        if (a instanceof ActivationReLU r) {
            boolean plain = (r.getMax() == null || r.getMax() == 0) && (r.getThreshold() == null || r.getThreshold() == 0)
                    && (r.getNegativeSlope() == null || r.getNegativeSlope() == 0);
            return plain ? Activation.RELU : null;
        }
        if (a instanceof ActivationReLU6) {
            return Activation.RELU6;
        }
        return null;
    }

    /** Builds the integer node of an elementwise activation that reads an int8 tensor and writes its consumer's codes. */
    interface Elementwise {
        Int8Graph.Node node(int in, int out, Int8Graph.Tensor inTensor, Int8Graph.Tensor outTensor, int lo, int hi,
                            FixedPoint.Rounding rounding);
    }

    /**
     * The integer node of an activation that is no clamp: TFLite's LeakyRelu, or a 256-entry lookup
     * table of the DL4J function (sigmoid, tanh, ELU, hard sigmoid, swish, softplus, softsign, hard
     * tanh) clamped to the consumer's code range.
     *
     * @throws IllegalArgumentException naming the layer for any other activation
     */
    static Elementwise elementwise(IActivation a, String layer) {
        if (a instanceof ActivationLReLU l) {
            double alpha = l.getAlpha();
            return (in, out, ti, to, lo, hi, r) -> Int8Graph.LeakyRelu.of(in, out, ti, to, alpha, lo, hi);
        }
        TableFunction f;
        double parameter = 0;
        if (a instanceof ActivationSigmoid) {
            f = TableFunction.SIGMOID;
        } else if (a instanceof ActivationTanH) {
            f = TableFunction.TANH;
        } else if (a instanceof ActivationELU e) {
            f = TableFunction.ELU;
            parameter = e.getAlpha();
        } else if (a instanceof ActivationHardSigmoid) {
            f = TableFunction.HARD_SIGMOID;
        } else if (a instanceof ActivationSwish) {
            f = TableFunction.SWISH;
        } else if (a instanceof ActivationSoftPlus) {
            f = TableFunction.SOFTPLUS;
        } else if (a instanceof ActivationSoftSign) {
            f = TableFunction.SOFTSIGN;
        } else if (a instanceof ActivationHardTanH) {
            f = TableFunction.HARD_TANH;
        } else {
            throw new IllegalArgumentException("layer " + layer + ": activation " + a + " has no integer implementation (supported: "
                    + "identity, ReLU, ReLU6, LeakyReLU, sigmoid, tanh, ELU, hard sigmoid, swish, softplus, softsign, hard tanh; "
                    + "softmax on the network output)");
        }
        TableFunction fn = f;
        double p = parameter;
        return (in, out, ti, to, lo, hi, r) -> {
            byte[] t = Int8Graph.LookupTable.of(in, out, ti, to, fn, p, r).table();
            for (int i = 0; i < t.length; i++) {
                t[i] = (byte) Math.max(lo, Math.min(hi, t[i]));
            }
            return new Int8Graph.LookupTable(in, out, fn, p, t);
        };
    }

    private static String name(MultiLayerNetwork net, int i) {
        String n = net.getLayer(i).conf().getLayer().getLayerName();
        return "'" + (n == null ? "layer" + i : n) + "'";
    }

    /**
     * Widest uniform weights the integer model holds (FIXED or LSQ, {@link BitWidths} for the INT8 runtime:
     * 2..8 bits; BINARY and TERNARY are 1 and 2 bits).
     */
    public static final int MAX_WEIGHT_BITS = BitWidths.INT8_RUNTIME_MAX_BITS;
    /** Widest quantized inputs (activations) the integer model holds: codes are int8, 1..8 bits (FIXED, LSQ or PACT). */
    public static final int MAX_INPUT_BITS = BitWidths.INT8_RUNTIME_MAX_BITS;

    /**
     * Why layers quantized with {@code s} cannot be exported, or null when they can: the rule this
     * exporter applies to every layer (weights FIXED or LSQ at up to {@value #MAX_WEIGHT_BITS} bits, BINARY
     * or TERNARY; inputs FIXED, LSQ or PACT at up to {@value #MAX_INPUT_BITS} bits). For checking a
     * configuration before a run that ends in an export starts.
     */
    public static String exportProblem(QuantSettings s) {
        String w = weightProblem(s);
        return w != null ? w : inputProblem(s);
    }

    /** Why the integer model cannot take these weights, or null: the one wording of that rule. */
    static String weightProblem(QuantSettings s) {
        return switch (s.getWeightMode()) {
            case FIXED, LSQ -> !BitWidths.isWeightBits(s.getWeightBits(), BitWidths.Target.INT8_RUNTIME) ? s.getWeightBits() + "-bit weights do not fit the int8 runtime "
                    + "(uniform weights take " + BitWidths.weightRange(BitWidths.Target.INT8_RUNTIME) + " bits)" : null;
            case BINARY, TERNARY -> null;
            case NONE, LSQ_PLUS -> "weight mode " + s.getWeightMode() + " cannot be exported to integer weights (use FIXED, LSQ, BINARY or TERNARY)";
        };
    }

    /** Why the integer model cannot take these inputs, or null: the one wording of that rule. */
    static String inputProblem(QuantSettings s) {
        return switch (s.getInputMode()) {
            case FIXED, LSQ, PACT -> !BitWidths.isInputBits(s.getInputBits(), BitWidths.Target.INT8_RUNTIME) ? s.getInputBits() + "-bit inputs do not fit the int8 runtime "
                    + "(inputs take " + BitWidths.inputRange(BitWidths.Target.INT8_RUNTIME) + " bits)" : null;
            case LSQ_PLUS, NONE -> s.getInputMode() + " inputs have a real-valued offset that no integer zero point represents exactly; "
                    + "use LSQ, FIXED or PACT";
        };
    }

    /** The int8 codes a layer's input quantizer produces. */
    static Codes inputCodes(Layer layer, String name) {
        QuantSettings s = QuantizerReadout.settings(layer);
        if (!s.quantizesInputs()) {
            throw new IllegalArgumentException("layer " + name + ": its input is not quantized (input mode " + s.getInputMode()
                    + ", enabled " + s.isEnabled() + "); an integer model needs a scale for every tensor");
        }
        if (s.getInputBits() > MAX_INPUT_BITS) {
            throw new IllegalArgumentException("layer " + name + ": " + inputProblem(s));
        }
        if (!QuantizerReadout.inputObserved(layer)) {
            throw new IllegalArgumentException("layer " + name + ": its input quantizer has never seen data; train or calibrate first");
        }
        int shift = s.isInputSigned() ? 0 : -128;   // unsigned codes [0, 2^b-1] are stored as int8 minus 128
        return switch (s.getInputMode()) {
            case FIXED, LSQ, PACT -> {
                QuantizerReadout.InputGrid g = QuantizerReadout.inputGrid(layer, name);
                yield new Codes(g.scale(), g.zeroPoint() + shift, g.qmin() + shift, g.qmax() + shift);
            }
            case LSQ_PLUS, NONE -> throw new IllegalArgumentException("layer " + name + ": " + inputProblem(s));
        };
    }

    /**
     * The QAT network's logits (the last layer's pre-activations) for {@code x}, computed with the
     * layer's fake-quantized input and weights in float64: what the integer model's dequantized
     * output approximates.
     */
    public static INDArray fakeQuantLogits(MultiLayerNetwork net, INDArray x) {
        return preActivations(net, net.getnLayers() - 1, x);
    }

    /**
     * What the exported model's output approximates, for either kind of network: the output
     * dense/output layer's pre-activations in float64 with fake-quantized input and weights, or, for
     * a network that ends otherwise (an activation quantizer on the logits, then softmax), the
     * activations reaching its output vertex.
     *
     * @param x a batch of inputs, {@code [N, ...]} as the network takes them
     * @return {@code [N, classes]}
     */
    public static INDArray fakeQuantLogits(org.deeplearning4j.nn.api.Model net, INDArray x) {
        GraphExporter.Network view = net instanceof MultiLayerNetwork m ? GraphExporter.Network.of(m)
                : GraphExporter.Network.of((org.deeplearning4j.nn.graph.ComputationGraph) net);
        String out = view.outputs().get(0);
        for (GraphExporter.Vertex v : view.vertices()) {
            if (v.key().equals(out)) {
                INDArray in = view.inputActivations(v, x);
                InputPreProcessor pre = v.conf() instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv ? lv.getPreProcessor() : null;
                if (v.layer() != null && v.layer().conf().getLayer() instanceof QuantizedLayerConf
                        && v.layer().getParam(WEIGHT) != null && v.layer().getParam(WEIGHT).rank() == 2) {
                    return preActivations(v.layer(), in, pre, "'" + v.name() + "'");
                }
                return in.castTo(DataType.DOUBLE);
            }
        }
        throw new IllegalStateException("output vertex " + out + " not found");
    }


    private static INDArray preActivations(MultiLayerNetwork net, int i, INDArray calibration) {
        INDArray in = i == 0 ? calibration : net.feedForwardToLayer(i - 1, calibration, false).get(i);
        return preActivations(net.getLayer(i), in, net.getLayerWiseConfigurations().getInputPreProcess(i), name(net, i));
    }

    /**
     * A dense/output layer's pre-activations for its input {@code in} (before its preprocessor), in
     * float64 with its fake-quantized input, weights and bias.
     */
    static INDArray preActivations(Layer layer, INDArray in, InputPreProcessor pre, String name) {
        if (!(layer.conf().getLayer() instanceof QuantizedLayerConf) || layer.getParam(WEIGHT) == null || layer.getParam(WEIGHT).rank() != 2) {
            throw new IllegalArgumentException("layer " + name + ": the last layer must be a quantized dense/output layer");
        }
        if (pre != null) {
            in = pre.preProcess(in, (int) in.size(0), org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces());
        }
        return QuantizerReadout.fakeQuantDenseOutput(layer, in, name);
    }

    static Int8Graph.Tensor outputTensor(org.deeplearning4j.nn.conf.layers.Layer lc, Int8Graph.Tensor in, Codes out) {
        if (lc instanceof QuantizedDepthwiseConvolutionLayer c) {
            int[] k = c.getKernelSize();
            int[] st = c.getStride();
            int[] d = c.getDilation();
            int[] pads = pads(c.getConvolutionMode(), c.getPadding(), k, st, d, in);
            int oh = Int8Graph.outputSize(in.dims()[1], k[0], st[0], pads[0], pads[2], d[0]);
            int ow = Int8Graph.outputSize(in.dims()[2], k[1], st[1], pads[1], pads[3], d[1]);
            return new Int8Graph.Tensor(new int[] {in.dims()[0] * c.getDepthMultiplier(), oh, ow}, out.scale(), out.zeroPoint());
        }
        if (lc instanceof QuantizedConvolutionLayer c) {
            int[] k = c.getKernelSize();
            int[] st = c.getStride();
            int[] d = c.getDilation();
            int[] pads = pads(c, in);
            int oh = Int8Graph.outputSize(in.dims()[1], k[0], st[0], pads[0], pads[2], d[0]);
            int ow = Int8Graph.outputSize(in.dims()[2], k[1], st[1], pads[1], pads[3], d[1]);
            return new Int8Graph.Tensor(new int[] {(int) c.getNOut(), oh, ow}, out.scale(), out.zeroPoint());
        }
        if (lc instanceof org.deeplearning4j.nn.conf.layers.ConvolutionLayer) {
            throw new IllegalArgumentException("layer " + lc.getLayerName() + ": " + lc.getClass().getSimpleName()
                    + " is not supported by the integer export (" + GraphExporter.SUPPORTED + ")");
        }
        return new Int8Graph.Tensor(new int[] {(int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) lc).getNOut()}, out.scale(),
                out.zeroPoint());
    }

    /** {top, left, bottom, right} padding of a convolution, including DL4J's Same mode. */
    private static int[] pads(QuantizedConvolutionLayer c, Int8Graph.Tensor in) {
        return pads(c.getConvolutionMode(), c.getPadding(), c.getKernelSize(), c.getStride(), c.getDilation(), in);
    }

    /**
     * {top, left, bottom, right} padding of a convolution or pooling window over {@code in}: the
     * configured padding on both sides, or DL4J's Same mode (output {@code ceil(size/stride)}, the total
     * padding split with the extra unit at the bottom/right). The one home of that rule in the exporter.
     */
    private static int[] pads(ConvolutionMode mode, int[] p, int[] k, int[] st, int[] d, Int8Graph.Tensor in) {
        if (mode != ConvolutionMode.Same) {
            return new int[] {p[0], p[1], p[0], p[1]};
        }
        int[] result = new int[4];
        for (int a = 0; a < 2; a++) {
            int size = in.dims()[1 + a];
            int out = (size + st[a] - 1) / st[a];
            int total = Math.max(0, (out - 1) * st[a] + (k[a] - 1) * d[a] + 1 - size);
            result[a] = total / 2;
            result[2 + a] = total - total / 2;
        }
        return result;
    }

    /** Integer weight codes and per-output-channel weight scales. */
    record Weights(byte[] codes, double[] scales, int bits) {
    }

    static Weights weights(Layer layer, QuantSettings s, INDArray w, int outAxis, String name) {
        String problem = weightProblem(s);
        if (problem != null) {
            throw new IllegalArgumentException("layer " + name + ": " + problem);
        }
        return weights(QuantizerReadout.weightCodes(layer, w, outAxis, name), s, outAxis, name);
    }

    /**
     * Runtime-layout weights from read-out codes: {@code [out, in]} for dense (DL4J stores
     * {@code [in, out]}, {@code outAxis} 1), else the codes' own C order with the output channel first.
     */
    static Weights weights(QuantizerReadout.WeightCodes read, QuantSettings s, int outAxis, String name) {
        if (!s.isEnabled()) {
            throw new IllegalArgumentException("layer " + name + ": quantization is disabled; enable it (and train) before exporting");
        }
        INDArray codes = read.codes();
        double[] scales = read.scales();
        long out = codes.size(outAxis);
        double[] perChannel = new double[(int) out];
        for (int c = 0; c < out; c++) {
            perChannel[c] = scales.length == 1 ? scales[0] : scales[c];
            if (!(perChannel[c] > 0)) {
                perChannel[c] = io.qat4j.lsq.LsqQuantizer.MIN_STEP;   // an all-zero channel (alpha 0): any scale, codes are 0
            }
        }
        INDArray ordered = outAxis == 1 ? codes.transpose().dup('c') : codes.dup('c');
        int[] ints = ordered.data().asInt();
        byte[] b = new byte[ints.length];
        for (int i = 0; i < ints.length; i++) {
            b[i] = (byte) ints[i];
        }
        return new Weights(b, perChannel, read.bits());
    }

    /**
     * The int32 bias code an all-zero weight channel's bias gets at most ({@code 2^24}): its scale is
     * raised to {@code |b| / (s_x 2^24)} when the learned one is smaller, which leaves the bias within
     * {@code 2^-25 |b|} of its float value and every multiplier representable.
     */
    static final double ZERO_CHANNEL_BIAS_CODE = 1 << 24;

    private static boolean allZero(byte[] codes, int from, int n) {
        for (int i = from; i < from + n; i++) {
            if (codes[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Per output channel: the int32 bias {@code round(b / (s_x s_w))} and the accumulator's real step
     * {@code s_x s_w} (an all-zero channel's weight scale raised so that its bias fits, see
     * {@link #ZERO_CHANNEL_BIAS_CODE}; {@code ws.scales()} is updated to match).
     *
     * @param bias the layer's bias, or null for none
     */
    private record Accumulators(int[] bias, double[] step) {
    }

    private static Accumulators accumulators(Weights ws, INDArray bias, Codes inCodes, String name) {
        int channels = ws.scales().length;
        int[] qBias = new int[channels];
        double[] step = new double[channels];
        int perChannel = ws.codes().length / channels;
        for (int c = 0; c < channels; c++) {
            double b = bias == null ? 0 : bias.getDouble(c);
            if (allZero(ws.codes(), c * perChannel, perChannel)) {
                // any scale represents an all-zero (pruned) channel: take one at which the bias fits int32 with 24 bits to spare
                ws.scales()[c] = Math.max(ws.scales()[c], Math.abs(b) / (inCodes.scale() * ZERO_CHANNEL_BIAS_CODE));
            }
            double accScale = inCodes.scale() * ws.scales()[c];
            double qb = Math.rint(b / accScale);
            if (!(Math.abs(qb) <= Integer.MAX_VALUE)) {
                throw new IllegalArgumentException("layer " + name + ": bias " + b + " of output channel " + c + " is " + Math.abs(b / accScale)
                        + " steps of the accumulator scale s_x s_w = " + inCodes.scale() + " x " + ws.scales()[c] + " = " + accScale
                        + ", beyond int32: the channel's weight step is far too small for its bias. Usual causes: a batch norm whose "
                        + "variance collapsed (trained on batches with one value per channel), or a learned step that shrank; retrain "
                        + "with larger batches, more weight bits, per-tensor weights, or a lower learning rate for the quantizer steps");
            }
            qBias[c] = (int) qb;
            step[c] = accScale;
        }
        return new Accumulators(qBias, step);
    }

    /** Per-channel requantization {@code M = s_x s_w / s_y} of accumulators with steps {@code acc.step()}. */
    private static Int8Graph.Requant requant(Accumulators acc, Codes outCodes, int lo, int hi) {
        int n = acc.step().length;
        int[] mult = new int[n];
        int[] shift = new int[n];
        for (int c = 0; c < n; c++) {
            FixedPoint.QuantizedMultiplier m = FixedPoint.quantizeMultiplier(acc.step()[c] / outCodes.scale());
            mult[c] = m.multiplier();
            shift[c] = m.shift();
        }
        return new Int8Graph.Requant(mult, shift, lo, hi);
    }

    private static INDArray doubles(INDArray a) {
        return a == null ? null : a.castTo(DataType.DOUBLE);
    }

    static Int8Graph.Node weighted(Layer layer, org.deeplearning4j.nn.conf.layers.Layer lc, QuantSettings s, String name, int in,
                                   Int8Graph.Tensor inTensor, int out, Codes inCodes, Codes outCodes, int lo, int hi,
                                   Map<Int8Graph.Node, double[]> weightScales) {
        if (lc instanceof QuantizedConvBatchNormLayer fused && !fused.isFreezeBatchNorm()) {
            throw new IllegalArgumentException("layer " + name + ": freeze the batch-norm statistics (setFreezeBatchNorm(true)) "
                    + "and fine-tune before exporting, so that training saw the folded computation the integer model runs");
        }
        if (lc instanceof QuantizedDepthwiseConvolutionLayer dw) {
            Int8Graph.Node node = depthwiseNode(layer, s, dw.getKernelSize(), dw.getStride(), dw.getPadding(), dw.getDilation(),
                    dw.getConvolutionMode(), dw.getDepthMultiplier(), doubles(QuantizerReadout.bias(layer)), name, in, inTensor, out,
                    inCodes, outCodes, lo, hi, weightScales);
            return node;
        }
        boolean conv = lc instanceof QuantizedConvolutionLayer;
        INDArray w = QuantizerReadout.weights(layer).castTo(DataType.DOUBLE);
        Weights ws = weights(layer, s, w, conv ? 0 : 1, name);
        Accumulators acc = accumulators(ws, doubles(QuantizerReadout.bias(layer)), inCodes, name);
        Int8Graph.Requant requant = requant(acc, outCodes, lo, hi);
        Int8Graph.Node node;
        if (conv) {
            QuantizedConvolutionLayer c = (QuantizedConvolutionLayer) lc;
            int[] k = c.getKernelSize();
            int[] st = c.getStride();
            int[] d = c.getDilation();
            int[] p = pads(c, inTensor);
            Int8Graph.Window window = new Int8Graph.Window(k[0], k[1], st[0], st[1], p[0], p[1], p[2], p[3], d[0], d[1]);
            node = new Int8Graph.Conv2D(in, out, (int) c.getNOut(), (int) c.getNIn(), window, ws.bits(), ws.codes(), acc.bias(), requant);
        } else {
            org.deeplearning4j.nn.conf.layers.FeedForwardLayer f = (org.deeplearning4j.nn.conf.layers.FeedForwardLayer) lc;
            node = new Int8Graph.Dense(in, out, (int) f.getNOut(), (int) f.getNIn(), ws.bits(), ws.codes(), acc.bias(), requant);
        }
        weightScales.put(node, ws.scales());
        return node;
    }

    private static Int8Graph.Node depthwiseNode(Layer layer, QuantSettings s, int[] k, int[] st, int[] p0, int[] d, ConvolutionMode mode,
                                                int mult, INDArray bias, String name, int in, Int8Graph.Tensor inTensor, int out,
                                                Codes inCodes, Codes outCodes, int lo, int hi, Map<Int8Graph.Node, double[]> weightScales) {
        String problem = weightProblem(s);
        if (problem != null) {
            throw new IllegalArgumentException("layer " + name + ": " + problem);
        }
        Weights ws = weights(QuantizerReadout.depthwiseWeightCodes(layer, name), s, 0, name);
        Accumulators acc = accumulators(ws, bias, inCodes, name);
        int[] p = pads(mode, p0, k, st, d, inTensor);
        Int8Graph.Window window = new Int8Graph.Window(k[0], k[1], st[0], st[1], p[0], p[1], p[2], p[3], d[0], d[1]);
        Int8Graph.Node node = new Int8Graph.DepthwiseConv2D(in, out, inTensor.dims()[0], mult, window, ws.bits(), ws.codes(), acc.bias(),
                requant(acc, outCodes, lo, hi));
        weightScales.put(node, ws.scales());
        return node;
    }

    /** The int8 codes of a separable convolution's mid quantizer (its depthwise output). */
    static Codes midCodes(Layer layer, QuantizedSeparableConvolutionLayer sep, String name) {
        if (!QuantizerReadout.midInputObserved(layer, name)) {
            throw new IllegalArgumentException("layer " + name + ": its mid quantizer has never seen data; train or calibrate first");
        }
        QuantizerReadout.InputGrid g = QuantizerReadout.midInputGrid(layer, name);
        int shift = sep.midQuantizerSettings().isInputSigned() ? 0 : -128;
        return new Codes(g.scale(), g.zeroPoint() + shift, g.qmin() + shift, g.qmax() + shift);
    }

    /**
     * The depthwise half of a separable convolution: a DepthwiseConv2D (no bias: the layer's bias is
     * added after the pointwise half) writing a new tensor at the mid quantizer's codes.
     */
    static Int8Graph.Node depthwise(Layer layer, QuantizedSeparableConvolutionLayer sep, String name, int in, Int8Graph.Tensor x,
                                    Codes inCodes, Codes mid, List<Int8Graph.Tensor> tensors, Map<Int8Graph.Node, double[]> weightScales) {
        int[] k = sep.getKernelSize();
        int[] st = sep.getStride();
        int[] d = sep.getDilation();
        int[] p = pads(sep.getConvolutionMode(), sep.getPadding(), k, st, d, x);
        int oh = Int8Graph.outputSize(x.dims()[1], k[0], st[0], p[0], p[2], d[0]);
        int ow = Int8Graph.outputSize(x.dims()[2], k[1], st[1], p[1], p[3], d[1]);
        tensors.add(new Int8Graph.Tensor(new int[] {x.dims()[0] * sep.getDepthMultiplier(), oh, ow}, mid.scale(), mid.zeroPoint()));
        int out = tensors.size() - 1;
        return depthwiseNode(layer, sep.getQuant(), k, st, sep.getPadding(), d, sep.getConvolutionMode(), sep.getDepthMultiplier(), null,
                name, in, x, out, inCodes, mid, mid.min(), mid.max(), weightScales);
    }

    /** The pointwise half of a separable convolution: a 1x1 Conv2D from the mid tensor with the layer's bias. */
    static Int8Graph.Node pointwise(Layer layer, QuantizedSeparableConvolutionLayer sep, String name, int in, Int8Graph.Tensor midTensor,
                                    int out, Codes mid, Codes outCodes, int lo, int hi, Map<Int8Graph.Node, double[]> weightScales) {
        Weights ws = weights(QuantizerReadout.pointwiseWeightCodes(layer, name), sep.getQuant(), 0, name);
        Accumulators acc = accumulators(ws, doubles(QuantizerReadout.bias(layer)), mid, name);
        Int8Graph.Window window = new Int8Graph.Window(1, 1, 1, 1, 0, 0, 0, 0, 1, 1);
        Int8Graph.Node node = new Int8Graph.Conv2D(in, out, (int) sep.getNOut(), midTensor.dims()[0], window, ws.bits(), ws.codes(),
                acc.bias(), requant(acc, outCodes, lo, hi));
        weightScales.put(node, ws.scales());
        return node;
    }

    /**
     * The network's output dense layer as a {@link Int8Graph.DenseLogits} node: int32 accumulators
     * dequantized with {@code s_x s_w[c]}, so the exported logits never saturate.
     */
    static Int8Graph.Node denseLogits(Layer layer, QuantSettings s, String name, int in, Int8Graph.Tensor x, Codes inCodes,
                                      List<Int8Graph.Tensor> tensors, Map<Int8Graph.Node, double[]> weightScales) {
        INDArray w = QuantizerReadout.weights(layer).castTo(DataType.DOUBLE);
        Weights ws = weights(layer, s, w, 1, name);
        Accumulators acc = accumulators(ws, doubles(QuantizerReadout.bias(layer)), inCodes, name);
        int classes = ws.scales().length;
        tensors.add(new Int8Graph.Tensor(new int[] {classes}, 1, 0));
        int out = tensors.size() - 1;
        Int8Graph.Node node = new Int8Graph.DenseLogits(in, out, classes, (int) (ws.codes().length / classes), ws.bits(), ws.codes(),
                acc.bias(), acc.step());
        weightScales.put(node, ws.scales());
        return node;
    }
}
