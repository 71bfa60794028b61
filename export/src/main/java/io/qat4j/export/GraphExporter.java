package io.qat4j.export;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.ActivationQuantizerLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;

/**
 * The integer export of a {@link ComputationGraph}, and of a {@link MultiLayerNetwork} through the
 * same walk (its layer list seen as a chain of layer vertices, {@link Network#of(MultiLayerNetwork)}),
 * so that each rule exists once.
 *
 * <p>Every tensor of the integer graph is a point where the QAT network quantizes. The walk visits
 * the vertices in topological order and keeps, for each vertex output, either an int8 tensor with
 * its codes, or a <em>pending</em> output: a node (Conv2D, depthwise, Dense, Add, Concat, average
 * pooling, LeakyRelu, lookup table) whose output codes wait for the quantizer that consumes it (a
 * weighted layer's input quantizer or an {@link ActivationQuantizerLayer}), possibly followed by
 * ReLU/ReLU6 (fused into its clamp) and operations that commute with quantization (max pooling,
 * flatten/reshape, zero padding, cropping, nearest upsampling), applied after the requantization.
 * Rules, each broken one an error naming the vertex; {@code QuantizedModel.wrap} places the
 * quantizers so that a wrapped network keeps them:
 * <ul>
 *   <li>all consumers of one pending output quantize it identically (wrap shares one activation
 *       quantizer among them);</li>
 *   <li>both inputs of an elementwise Add, and the inputs of average pooling, LeakyReLU and the
 *       table functions, are int8 tensors (an activation quantizer before them): these nodes read
 *       codes and requantize once to their consumer's codes, as the fake-quant network rounds once
 *       when the consumer's quantizer sees their float output;</li>
 *   <li>a channel concat takes its consumer's codes: pending inputs are requantized straight to
 *       them, quantized ones through a Requantize node;</li>
 *   <li>a quantizer applied to an already quantized tensor with other codes becomes a
 *       {@link Int8Graph.Requantize} node; one with the same codes is the identity;</li>
 *   <li>the network has one input and one output; an output dense/output layer becomes a
 *       {@link Int8Graph.DenseLogits} node (dequantized int32 logits, no saturation), any other
 *       output must be an int8 tensor (an activation quantizer on the logits).</li>
 * </ul>
 */
final class GraphExporter {

    /**
     * One vertex of the walk.
     *
     * @param key    identifies the vertex among the network's vertices ({@link Network#inputs()} and {@code inputs} name keys)
     * @param name   the name errors and notes show (a graph's vertex name, a layer list's layer name)
     * @param conf   a {@link LayerVertex} (with its preprocessor) or another graph vertex configuration
     * @param inputs keys of the vertices it reads
     * @param layer  the layer of a layer vertex, else null
     */
    record Vertex(String key, String name, org.deeplearning4j.nn.conf.graph.GraphVertex conf, List<String> inputs, Layer layer) {
    }

    /** A network as the walk sees it: inputs, outputs, and its vertices other than inputs in topological order. */
    interface Network {
        List<String> inputs();

        List<String> outputs();

        List<Vertex> vertices();

        /** The float activations reaching vertex {@code v}'s single input (before its preprocessor) for {@code calibration}. */
        INDArray inputActivations(Vertex v, INDArray calibration);

        static Network of(ComputationGraph cg) {
            ComputationGraphConfiguration conf = cg.getConfiguration();
            List<Vertex> vertices = new ArrayList<>();
            for (int index : cg.topologicalSortOrder()) {
                GraphVertex v = cg.getVertices()[index];
                if (!v.isInputVertex()) {
                    String name = v.getVertexName();
                    vertices.add(new Vertex(name, name, conf.getVertices().get(name), conf.getVertexInputs().get(name), v.getLayer()));
                }
            }
            return new Network() {
                private Map<String, INDArray> activations;

                @Override
                public List<String> inputs() {
                    return conf.getNetworkInputs();
                }

                @Override
                public List<String> outputs() {
                    return conf.getNetworkOutputs();
                }

                @Override
                public List<Vertex> vertices() {
                    return vertices;
                }

                @Override
                public INDArray inputActivations(Vertex v, INDArray calibration) {
                    if (activations == null) {
                        activations = cg.feedForward(calibration, false);
                    }
                    return activations.get(v.inputs().get(0));
                }
            };
        }

        /**
         * A layer list as a chain: vertex {@code i} (key {@code "i"}, named by its layer name or
         * {@code layer<i>}) reads vertex {@code i-1}, the first one the input {@code "in"}; DL4J's
         * input preprocessor of layer {@code i} becomes its layer vertex's preprocessor.
         */
        static Network of(MultiLayerNetwork net) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
            List<Vertex> vertices = new ArrayList<>();
            for (int i = 0; i < net.getnLayers(); i++) {
                Layer layer = net.getLayer(i);
                String name = layer.conf().getLayer().getLayerName();
                vertices.add(new Vertex(String.valueOf(i), name == null ? "layer" + i : name,
                        new LayerVertex(layer.conf(), conf.getInputPreProcess(i)), List.of(i == 0 ? "in" : String.valueOf(i - 1)), layer));
            }
            return new Network() {
                @Override
                public List<String> inputs() {
                    return List.of("in");
                }

                @Override
                public List<String> outputs() {
                    return List.of(String.valueOf(net.getnLayers() - 1));
                }

                @Override
                public List<Vertex> vertices() {
                    return vertices;
                }

                @Override
                public INDArray inputActivations(Vertex v, INDArray calibration) {
                    int i = Integer.parseInt(v.key());
                    return i == 0 ? calibration : net.feedForwardToLayer(i - 1, calibration, false).get(i);
                }
            };
        }
    }

    /** What a vertex's output is in the integer graph under construction. */
    private sealed interface Value permits Quantized, Pending {
    }

    /** An int8 tensor that exists. */
    private record Quantized(int tensor, Int8Exporter.Codes codes) implements Value {
    }

    /** Builds the node that produces a pending output, once its output codes and clamp are known. */
    private interface Producer {
        /** Adds the output tensor and the node; returns the tensor id. */
        int emit(Int8Exporter.Codes out, int lo, int hi);
    }

    /** The producer of a pending output, shared by every path that leaves it. */
    private static final class Source {
        final String vertex;
        final Producer producer;
        Int8Exporter.Codes codes;
        Int8Exporter.Activation activation;
        int tensor = -1;

        Source(String vertex, Producer producer) {
            this.vertex = vertex;
            this.producer = producer;
        }
    }

    /**
     * An operation that commutes with quantization, applied to a pending output after its
     * requantization: the same codes in and out (max pooling, flattening and reshaping, zero padding
     * with the zero point, cropping, nearest upsampling).
     */
    private sealed interface Step permits MaxPoolStep, ReshapeStep, PadStep, CropStep, UpsampleStep {
        /** Emits the step's node reading tensor {@code t}; returns its output tensor. */
        int apply(GraphExporter e, int t);
    }

    private record MaxPoolStep(Int8Exporter.PoolGeometry pool, String name) implements Step {
        public int apply(GraphExporter e, int t) {
            return Int8Exporter.addMaxPool(pool, quoted(name), t, e.tensors, e.nodes);
        }
    }

    /** Flatten ({@code dims == null}: to {@code [C H W]}) or reshape to {@code dims}, C order. */
    private record ReshapeStep(int[] dims) implements Step {
        public int apply(GraphExporter e, int t) {
            return Int8Exporter.addReshape(t, dims, e.tensors, e.nodes);
        }
    }

    private record PadStep(int top, int left, int bottom, int right) implements Step {
        public int apply(GraphExporter e, int t) {
            Int8Graph.Tensor in = e.tensors.get(t);
            e.tensors.add(new Int8Graph.Tensor(new int[] {in.dims()[0], in.dims()[1] + top + bottom, in.dims()[2] + left + right},
                    in.scale(), in.zeroPoint()));
            int out = e.tensors.size() - 1;
            e.nodes.add(new Int8Graph.ZeroPad(t, out, top, left, bottom, right));
            return out;
        }
    }

    private record CropStep(int top, int left, int bottom, int right) implements Step {
        public int apply(GraphExporter e, int t) {
            Int8Graph.Tensor in = e.tensors.get(t);
            e.tensors.add(new Int8Graph.Tensor(new int[] {in.dims()[0], in.dims()[1] - top - bottom, in.dims()[2] - left - right},
                    in.scale(), in.zeroPoint()));
            int out = e.tensors.size() - 1;
            e.nodes.add(new Int8Graph.Crop(t, out, top, left, bottom, right));
            return out;
        }
    }

    private record UpsampleStep(int scaleH, int scaleW) implements Step {
        public int apply(GraphExporter e, int t) {
            Int8Graph.Tensor in = e.tensors.get(t);
            e.tensors.add(new Int8Graph.Tensor(new int[] {in.dims()[0], in.dims()[1] * scaleH, in.dims()[2] * scaleW}, in.scale(),
                    in.zeroPoint()));
            int out = e.tensors.size() - 1;
            e.nodes.add(new Int8Graph.UpsampleNearest(t, out, scaleH, scaleW));
            return out;
        }
    }

    /** A producer's float output after a fused ReLU/ReLU6 and some quantization-commuting steps, not yet quantized. */
    private record Pending(Source source, Int8Exporter.Activation activation, List<Step> steps) implements Value {
        Pending then(Step step) {
            List<Step> more = new ArrayList<>(steps);
            more.add(step);
            return new Pending(source, activation, more);
        }
    }

    private final Network net;
    private final INDArray calibration;
    private final FixedPoint.Rounding rounding;
    private final List<Int8Graph.Tensor> tensors = new ArrayList<>();
    private final List<Int8Graph.Node> nodes = new ArrayList<>();
    private final Map<String, Value> values = new HashMap<>();
    private final List<String> notes = new ArrayList<>();
    private final Map<Int8Graph.Node, double[]> scales = new java.util.IdentityHashMap<>();
    /** Tensors already emitted for a pending path, so that consumers sharing a path share its nodes. */
    private final Map<Pending, Integer> emitted = new HashMap<>();

    /** The network input's source, set by {@link #run}. */
    private Source input;
    /** The graph's input tensor (full int8 codes, as {@code Int8Model.quantizeInput} writes them), set when the input is quantized. */
    private int inputTensor = -1;
    /** Whether the vertex being exported is the network output (the one place a softmax may stand: it runs outside the graph). */
    private boolean atOutput;

    private GraphExporter(Network net, INDArray calibration, FixedPoint.Rounding rounding) {
        this.net = net;
        this.calibration = calibration;
        this.rounding = rounding;
    }

    static Int8Exporter.Result export(ComputationGraph cg, INDArray calibration, FixedPoint.Rounding rounding) {
        return export(Network.of(cg), calibration, rounding);
    }

    static Int8Exporter.Result export(Network net, INDArray calibration, FixedPoint.Rounding rounding) {
        return new GraphExporter(net, calibration, rounding).run();
    }

    /** What the integer export maps, for messages about what it does not. */
    static final String SUPPORTED = "supported: quantized Conv2D, depthwise and separable convolutions, Dense/Output, conv+BN, "
            + "activation quantizers; max, average and global pooling; zero padding, cropping, nearest upsampling; dropout; "
            + "activations identity, ReLU, ReLU6, LeakyReLU, sigmoid, tanh, ELU, hard sigmoid, swish, softmax on the output; "
            + "elementwise Add, channel concat (MergeVertex); CNN-to-dense and dense-to-CNN preprocessors";

    private Int8Exporter.Result run() {
        if (net.inputs().size() != 1 || net.outputs().size() != 1) {
            throw new IllegalArgumentException("the integer export needs one network input and one output; this graph has inputs "
                    + net.inputs() + " and outputs " + net.outputs());
        }
        String inputName = net.inputs().get(0);
        long[] shape = calibration.shape();
        int[] dims = new int[shape.length - 1];
        for (int i = 1; i < shape.length; i++) {
            dims[i - 1] = (int) shape[i];
        }
        input = new Source(inputName, (codes, lo, hi) -> {
            tensors.add(new Int8Graph.Tensor(dims, codes.scale(), codes.zeroPoint()));
            inputTensor = tensors.size() - 1;
            if (lo == Byte.MIN_VALUE && hi == Byte.MAX_VALUE) {
                return inputTensor;
            }
            // The runtime quantizes the float input to the full int8 range; a quantizer with fewer bits (or a fused ReLU) clamps
            // to its own codes, as the fake-quant network does: an identity requantization (M = 1, exact) with that clamp.
            Int8Graph.Tensor raw = tensors.get(inputTensor);
            tensors.add(new Int8Graph.Tensor(dims, codes.scale(), codes.zeroPoint()));
            int clamped = tensors.size() - 1;
            nodes.add(Int8Graph.Requantize.of(inputTensor, clamped, raw, tensors.get(clamped), lo, hi));
            return clamped;
        });
        values.put(inputName, new Pending(input, Int8Exporter.Activation.NONE, List.of()));
        String outputName = net.outputs().get(0);
        outputShown = outputName;
        for (Vertex v : net.vertices()) {
            int firstNode = nodes.size();
            try {
                exportVertex(v, outputName);
            } finally {
                claim(v.name(), firstNode);
            }
        }
        return finish(outputName);
    }

    /** The vertex each node computes ({@link Int8Exporter.Result#nodeVertices}), filled by {@link #claim}. */
    private final List<String> nodeVertices = new ArrayList<>();
    /** The logits tensor of a DenseLogits output, once emitted. */
    private Integer logitsTensor;
    /** The output vertex's name as shown in messages. */
    private String outputShown;

    /** Names {@code owner} as the vertex of the nodes from {@code from} on that no vertex has claimed yet. */
    private void claim(String owner, int from) {
        while (nodeVertices.size() < nodes.size()) {
            nodeVertices.add(null);
        }
        for (int i = from; i < nodes.size(); i++) {
            if (nodeVertices.get(i) == null) {
                nodeVertices.set(i, owner);
            }
        }
    }

    private void exportVertex(Vertex v, String outputName) {
        String key = v.key();
        String name = v.name();
        boolean isOutput = key.equals(outputName);
        atOutput = isOutput;
        if (isOutput) {
            outputShown = name;
        }
        org.deeplearning4j.nn.conf.graph.GraphVertex vc = v.conf();
        List<String> inputs = v.inputs();
        if (vc instanceof ElementWiseVertex e) {
            values.put(key, add(name, e, inputs));
            return;
        }
        if (vc instanceof MergeVertex) {
            values.put(key, concat(name, inputs));
            return;
        }
        if (!(vc instanceof LayerVertex lv)) {
            throw new IllegalArgumentException("vertex '" + name + "': " + vc.getClass().getSimpleName()
                    + " is not supported by the integer export (" + SUPPORTED + ")");
        }
        if (inputs.size() != 1) {
            throw new IllegalArgumentException("vertex '" + name + "': a layer with " + inputs.size() + " inputs (merge them first)");
        }
        Value in = preprocess(values.get(inputs.get(0)), lv.getPreProcessor(), name);
        Layer layer = v.layer();
        org.deeplearning4j.nn.conf.layers.Layer lc = layer.conf().getLayer();
        if (isOutput && lc instanceof QuantizedLayerConf q && !(lc instanceof ActivationQuantizerLayer) && isDense(layer)) {
            logitsTensor = logits(layer, q.getQuant(), name, in);
            return;
        }
        values.put(key, layer(layer, lc, name, in));
    }

    private Int8Exporter.Result finish(String outputName) {
        int out;
        if (logitsTensor != null) {
            out = logitsTensor;
        } else if (values.get(outputName) instanceof Quantized q) {
            out = q.tensor();
            notes.add(quoted(outputShown) + ": the network output is int8 at scale " + q.codes().scale() + ", zero point "
                    + q.codes().zeroPoint() + " (its activation quantizer's range)");
        } else {
            throw new IllegalArgumentException("vertex '" + outputShown + "': the network output must be a quantized dense/output layer, "
                    + "or a tensor with an activation quantizer (QuantizedModel.wrap places one on the logits of a network that ends "
                    + "otherwise)");
        }
        Int8Graph graph = new Int8Graph(tensors, nodes, inputTensor, out, rounding);
        graph.validate();
        claim(null, 0);
        return Int8Exporter.Result.of(graph, notes, scales, nodeVertices);
    }

    private static boolean isDense(Layer layer) {
        org.deeplearning4j.nn.conf.layers.Layer lc = layer.conf().getLayer();
        return lc instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer && !(lc instanceof ConvolutionLayer)
                && layer.getParam(DefaultParamInitializer.WEIGHT_KEY) != null && layer.getParam(DefaultParamInitializer.WEIGHT_KEY).rank() == 2;
    }

    private static String quoted(String name) {
        return "'" + name + "'";
    }

    /** A layer vertex's input after DL4J's input preprocessor (reshapes only). */
    private Value preprocess(Value in, InputPreProcessor pre, String name) {
        if (pre == null) {
            return in;
        }
        if (pre instanceof CnnToFeedForwardPreProcessor) {
            return reshape(in, null);
        }
        if (pre instanceof FeedForwardToCnnPreProcessor f) {
            return reshape(in, new int[] {(int) f.getNumChannels(), (int) f.getInputHeight(), (int) f.getInputWidth()});
        }
        throw new IllegalArgumentException("vertex '" + name + "': input preprocessor " + pre.getClass().getSimpleName()
                + " is not supported by the integer export (CnnToFeedForward and FeedForwardToCnn are)");
    }

    private Value reshape(Value in, int[] dims) {
        return passThrough(in, new ReshapeStep(dims));
    }

    /** {@code step} on a pending output (after its requantization) or at once on a quantized tensor. */
    private Value passThrough(Value in, Step step) {
        if (in instanceof Pending p) {
            return p.then(step);
        }
        Quantized q = (Quantized) in;
        return new Quantized(step.apply(this, q.tensor()), q.codes());
    }

    /** The value of a layer vertex reading {@code in}. */
    private Value layer(Layer layer, org.deeplearning4j.nn.conf.layers.Layer lc, String name, Value in) {
        if (lc instanceof ActivationQuantizerLayer) {
            Int8Exporter.Codes codes = Int8Exporter.inputCodes(layer, quoted(name));
            return new Quantized(quantize(in, codes, name), codes);
        }
        if (lc instanceof QuantizedSeparableConvolutionLayer sep) {
            return separable(layer, sep, name, in);
        }
        if (lc instanceof QuantizedLayerConf q) {
            Int8Exporter.Codes inCodes = q.getQuant().quantizesInputs() ? Int8Exporter.inputCodes(layer, quoted(name)) : null;
            int xTensor;
            if (inCodes != null) {
                xTensor = quantize(in, inCodes, name);
            } else if (in instanceof Quantized qi) {
                xTensor = qi.tensor();
                inCodes = qi.codes();
            } else {
                throw new IllegalArgumentException("layer '" + name + "': its input is not quantized and it has no input quantizer; "
                        + "enable its input quantization or put an ActivationQuantizerLayer before it (QuantizedModel.wrap does)");
            }
            Int8Exporter.Codes xCodes = inCodes;
            Source src = new Source(name, (codes, lo, hi) -> {
                Int8Graph.Tensor t = tensors.get(xTensor);
                tensors.add(Int8Exporter.outputTensor(lc, t, codes));
                int out = tensors.size() - 1;
                nodes.add(Int8Exporter.weighted(layer, lc, q.getQuant(), quoted(name), xTensor, t, out, xCodes, codes, lo, hi, scales));
                return out;
            });
            IActivation act = lc instanceof BaseLayer b ? b.getActivationFn() : null;
            return activate(new Pending(src, Int8Exporter.Activation.NONE, List.of()), act, name);
        }
        if (lc instanceof ActivationLayer a) {
            return activate(in, a.getActivationFn(), name);
        }
        if (lc instanceof DropoutLayer) {
            return in;    // identity at inference
        }
        if (lc instanceof SubsamplingLayer s) {
            Int8Exporter.PoolGeometry pool = Int8Exporter.PoolGeometry.of(s, quoted(name));
            return switch (s.getPoolingType()) {
                case MAX -> passThrough(in, new MaxPoolStep(pool, name));
                case AVG -> averagePool(in, pool, s.isAvgPoolIncludePadInDivisor(), name);
                default -> throw new IllegalArgumentException("layer '" + name + "': pooling " + s.getPoolingType()
                        + " is not supported by the integer export (MAX and AVG are)");
            };
        }
        if (lc instanceof GlobalPoolingLayer g) {
            Int8Exporter.PoolGeometry pool = Int8Exporter.PoolGeometry.global();
            Value pooled = switch (g.getPoolingType()) {
                case MAX -> passThrough(in, new MaxPoolStep(pool, name));
                case AVG -> averagePool(in, pool, false, name);
                default -> throw new IllegalArgumentException("layer '" + name + "': global pooling " + g.getPoolingType()
                        + " is not supported by the integer export (MAX and AVG are)");
            };
            return g.isCollapseDimensions() ? reshape(pooled, null) : pooled;
        }
        if (lc instanceof ZeroPaddingLayer z) {
            int[] p = z.getPadding();   // top, bottom, left, right
            return passThrough(in, new PadStep(p[0], p[2], p[1], p[3]));
        }
        if (lc instanceof Cropping2D c) {
            int[] p = c.getCropping();  // top, bottom, left, right
            return passThrough(in, new CropStep(p[0], p[2], p[1], p[3]));
        }
        if (lc instanceof Upsampling2D u) {
            int[] sz = u.getSize();
            return passThrough(in, new UpsampleStep(sz[0], sz.length > 1 ? sz[1] : sz[0]));
        }
        throw new IllegalArgumentException("layer '" + name + "': " + lc.getClass().getSimpleName()
                + " is not supported by the integer export (" + SUPPORTED + ")");
    }

    /**
     * A separable convolution: a DepthwiseConv2D to the layer's mid quantizer's codes, then a 1x1
     * Conv2D whose requantization waits for the consumer.
     */
    private Value separable(Layer layer, QuantizedSeparableConvolutionLayer sep, String name, Value in) {
        Int8Exporter.Codes inCodes = Int8Exporter.inputCodes(layer, quoted(name));
        int xTensor = quantize(in, inCodes, name);
        Int8Exporter.Codes mid = Int8Exporter.midCodes(layer, sep, quoted(name));
        Int8Graph.Tensor x = tensors.get(xTensor);
        Int8Graph.Node dw = Int8Exporter.depthwise(layer, sep, quoted(name), xTensor, x, inCodes, mid, tensors, scales);
        nodes.add(dw);
        int midTensor = dw.output();
        Source src = new Source(name, (codes, lo, hi) -> {
            Int8Graph.Tensor t = tensors.get(midTensor);
            tensors.add(new Int8Graph.Tensor(new int[] {(int) sep.getNOut(), t.dims()[1], t.dims()[2]}, codes.scale(), codes.zeroPoint()));
            int out = tensors.size() - 1;
            nodes.add(Int8Exporter.pointwise(layer, sep, quoted(name), midTensor, t, out, mid, codes, lo, hi, scales));
            return out;
        });
        return activate(new Pending(src, Int8Exporter.Activation.NONE, List.of()), sep.getActivationFn(), name);
    }

    /**
     * Average pooling: the integer node sums the input codes and requantizes once to its consumer's
     * scale, so its input must be an int8 tensor of its own (the fake-quant network quantizes there
     * too); pooling already requantized codes would round twice.
     */
    private Value averagePool(Value in, Int8Exporter.PoolGeometry pool, boolean includePad, String name) {
        if (!(in instanceof Quantized q)) {
            throw new IllegalArgumentException("layer '" + name + "': average pooling needs a quantized input (the integer pool sums "
                    + "input codes and requantizes once, where the fake-quant network quantizes the float mean); QuantizedModel.wrap "
                    + "places an activation quantizer before it: wrap the float network again");
        }
        Source src = new Source(name, (codes, lo, hi) -> {
            Int8Graph.Tensor t = tensors.get(q.tensor());
            Int8Graph.Window w = pool.window(t, quoted(name));
            tensors.add(new Int8Graph.Tensor(new int[] {t.dims()[0], w.outputH(t.dims()[1]), w.outputW(t.dims()[2])}, codes.scale(),
                    codes.zeroPoint()));
            int out = tensors.size() - 1;
            nodes.add(Int8Graph.AvgPoolRequant.of(q.tensor(), out, w, includePad, t, tensors.get(out), lo, hi));
            return out;
        });
        return new Pending(src, Int8Exporter.Activation.NONE, List.of());
    }

    /**
     * An activation: identity and softmax (applied outside the integer graph on the logits) pass;
     * ReLU/ReLU6 fuse into the pending producer's clamp (or clamp a quantized tensor in place);
     * LeakyReLU and the table functions read an int8 tensor and write their consumer's codes.
     */
    private Value activate(Value in, IActivation a, String name) {
        if (a instanceof org.nd4j.linalg.activations.impl.ActivationSoftmax && !atOutput) {
            throw new IllegalArgumentException("layer '" + name + "': a softmax inside the network has no integer implementation "
                    + "(only a softmax on the network output, applied to the dequantized logits outside the integer graph, is supported)");
        }
        Int8Exporter.Activation fused = Int8Exporter.fusedActivation(a);
        if (fused != null) {
            if (fused == Int8Exporter.Activation.NONE) {
                return in;
            }
            if (in instanceof Pending p && p.source() != input) {
                Int8Exporter.Activation combined = fused == Int8Exporter.Activation.RELU6 || p.activation() == Int8Exporter.Activation.RELU6
                        ? Int8Exporter.Activation.RELU6 : Int8Exporter.Activation.RELU;
                return new Pending(p.source(), combined, p.steps());
            }
            if (in instanceof Quantized q) {
                int[] clamp = Int8Exporter.fusedClamp(q.codes(), fused);
                Int8Graph.Tensor t = tensors.get(q.tensor());
                tensors.add(t);
                int out = tensors.size() - 1;
                nodes.add(Int8Graph.Requantize.of(q.tensor(), out, t, t, clamp[0], clamp[1]));
                return new Quantized(out, q.codes());
            }
            throw new IllegalArgumentException("layer '" + name + "': an activation on the network input cannot be fused into a clamp");
        }
        if (!(in instanceof Quantized q)) {
            throw new IllegalArgumentException("layer '" + name + "': activation " + a + " reads an int8 tensor in the integer model "
                    + "(a LeakyRelu node or a 256-entry table); QuantizedModel.wrap places an activation quantizer before it: wrap the "
                    + "float network again");
        }
        Int8Exporter.Elementwise f = Int8Exporter.elementwise(a, quoted(name));
        Source src = new Source(name, (codes, lo, hi) -> {
            Int8Graph.Tensor t = tensors.get(q.tensor());
            tensors.add(new Int8Graph.Tensor(t.dims(), codes.scale(), codes.zeroPoint()));
            int out = tensors.size() - 1;
            nodes.add(f.node(q.tensor(), out, t, tensors.get(out), lo, hi, rounding));
            return out;
        });
        return new Pending(src, Int8Exporter.Activation.NONE, List.of());
    }

    /** Elementwise Add of two quantized tensors; its requantization waits for its consumer. */
    private Value add(String name, ElementWiseVertex e, List<String> inputs) {
        if (e.getOp() != ElementWiseVertex.Op.Add || inputs.size() != 2) {
            throw new IllegalArgumentException("vertex '" + name + "': elementwise " + e.getOp() + " of " + inputs.size()
                    + " inputs is not supported by the integer export (Add of two is)");
        }
        Quantized[] q = new Quantized[2];
        for (int i = 0; i < 2; i++) {
            if (!(values.get(inputs.get(i)) instanceof Quantized qi)) {
                throw new IllegalArgumentException("vertex '" + name + "': input '" + inputs.get(i) + "' is not quantized; the integer "
                        + "add needs both inputs as int8 tensors (QuantizedModel.wrap places activation quantizers on them: wrap the "
                        + "float network again, or put an ActivationQuantizerLayer between them)");
            }
            q[i] = qi;
        }
        Int8Graph.Tensor a = tensors.get(q[0].tensor());
        Int8Graph.Tensor b = tensors.get(q[1].tensor());
        if (!java.util.Arrays.equals(a.dims(), b.dims())) {
            throw new IllegalArgumentException("vertex '" + name + "': inputs of shapes " + java.util.Arrays.toString(a.dims()) + " and "
                    + java.util.Arrays.toString(b.dims()) + " (the integer add needs equal shapes)");
        }
        Source src = new Source(name, (codes, lo, hi) -> {
            Int8Graph.Tensor t = new Int8Graph.Tensor(a.dims(), codes.scale(), codes.zeroPoint());
            tensors.add(t);
            int out = tensors.size() - 1;
            nodes.add(Int8Graph.Add.of(q[0].tensor(), q[1].tensor(), out, a, b, t, lo, hi));
            return out;
        });
        return new Pending(src, Int8Exporter.Activation.NONE, List.of());
    }

    /**
     * Channel concat (MergeVertex); its codes are its consumer's quantizer: pending inputs are
     * requantized straight to them (one rounding, as the fake-quant network quantizes the float
     * concatenation), quantized inputs with other codes through a Requantize node (TFLite's
     * concatenation requantizes its inputs), then the codes are copied.
     */
    private Value concat(String name, List<String> inputs) {
        List<Value> in = new ArrayList<>();
        for (String i : inputs) {
            in.add(values.get(i));
        }
        Source src = new Source(name, (codes, lo, hi) -> {
            int[] ids = new int[in.size()];
            List<Int8Graph.Tensor> ts = new ArrayList<>();
            int channels = 0;
            for (int i = 0; i < ids.length; i++) {
                ids[i] = quantize(in.get(i), codes, name);
                Int8Graph.Tensor t = tensors.get(ids[i]);
                if (lo > codes.min() || hi < codes.max()) {
                    tensors.add(new Int8Graph.Tensor(t.dims(), codes.scale(), codes.zeroPoint()));
                    nodes.add(Int8Graph.Requantize.of(ids[i], tensors.size() - 1, t, t, lo, hi));
                    ids[i] = tensors.size() - 1;
                }
                ts.add(tensors.get(ids[i]));
                channels += t.dims()[0];
            }
            int[] dims = ts.get(0).dims().clone();
            dims[0] = channels;
            tensors.add(new Int8Graph.Tensor(dims, codes.scale(), codes.zeroPoint()));
            int out = tensors.size() - 1;
            nodes.add(Int8Graph.Concat.of(ids, out, ts, tensors.get(out)));
            return out;
        });
        return new Pending(src, Int8Exporter.Activation.NONE, List.of());
    }

    /** The output dense layer as a DenseLogits node (int32 accumulators dequantized: no saturation); returns its tensor. */
    private int logits(Layer layer, QuantSettings s, String name, Value in) {
        Int8Exporter.Codes inCodes = s.quantizesInputs() ? Int8Exporter.inputCodes(layer, quoted(name)) : null;
        int x;
        if (inCodes != null) {
            x = quantize(in, inCodes, name);
        } else if (in instanceof Quantized q) {
            x = q.tensor();
            inCodes = q.codes();
        } else {
            throw new IllegalArgumentException("layer '" + name + "': its input is not quantized and it has no input quantizer");
        }
        Int8Graph.Node node = Int8Exporter.denseLogits(layer, s, quoted(name), x, tensors.get(x), inCodes, tensors, scales);
        nodes.add(node);
        notes.add(quoted(name) + ": logits are the int32 accumulators dequantized (scale s_x s_w per class), no saturation");
        return node.output();
    }

    /** The int8 tensor {@code in} becomes under a quantizer with {@code codes}, emitting what it takes. */
    private int quantize(Value in, Int8Exporter.Codes codes, String consumer) {
        if (in instanceof Quantized q) {
            if (q.codes().equals(codes)) {
                return q.tensor();
            }
            Int8Graph.Tensor from = tensors.get(q.tensor());
            Int8Graph.Tensor to = new Int8Graph.Tensor(from.dims(), codes.scale(), codes.zeroPoint());
            tensors.add(to);
            int out = tensors.size() - 1;
            nodes.add(Int8Graph.Requantize.of(q.tensor(), out, from, to, codes.min(), codes.max()));
            return out;
        }
        Pending p = (Pending) in;
        Source s = p.source();
        if (s.tensor < 0) {
            int[] clamp = Int8Exporter.fusedClamp(codes, p.activation());
            int firstNode = nodes.size();
            s.tensor = s.producer.emit(codes, clamp[0], clamp[1]);
            claim(s.vertex, firstNode);   // a producer emits when its first consumer quantizes it: its nodes are its own
            s.codes = codes;
            s.activation = p.activation();
        } else if (!s.codes.equals(codes) || s.activation != p.activation()) {
            throw new IllegalArgumentException("vertex '" + s.vertex + "': its consumers quantize it differently (" + consumer
                    + " with scale " + codes.scale() + ", zero point " + codes.zeroPoint() + ", " + p.activation() + "; earlier scale "
                    + s.codes.scale() + ", zero point " + s.codes.zeroPoint() + ", " + s.activation
                    + "); QuantizedModel.wrap places one shared activation quantizer on such a tensor: wrap the float network again, "
                    + "or put one ActivationQuantizerLayer after it and let its consumers read that");
        }
        Integer done = emitted.get(p);
        if (done != null) {
            return done;
        }
        int t = s.tensor;
        for (Step step : p.steps()) {
            t = step.apply(this, t);
        }
        emitted.put(p, t);
        return t;
    }
}
