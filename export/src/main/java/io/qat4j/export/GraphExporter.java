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
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.conf.ActivationQuantizerLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;

/**
 * Integer export of a {@link ComputationGraph} with residual connections, and of a
 * {@link MultiLayerNetwork} through the same walk (its layer list seen as a chain of layer
 * vertices, {@link Network#of(MultiLayerNetwork)}), so that each fusion rule exists once.
 *
 * <p>Every tensor of the integer graph must be a point where the QAT network quantizes. The export
 * walks the vertices in topological order and keeps, for each vertex output, either an int8 tensor
 * with its codes, or a <em>pending</em> output: a Conv2D/Dense/Add whose requantization waits for
 * the quantizer that consumes it (a weighted layer's input quantizer or an
 * {@link ActivationQuantizerLayer}), possibly followed by ReLU/ReLU6 (fused into its clamp), pooling
 * and flattening (applied after the requantization; max pooling and flattening commute with
 * quantization). Rules, each broken one an error naming the vertex:
 * <ul>
 *   <li>all consumers of one pending output must quantize it identically (same scale, zero point,
 *       range): put one {@link ActivationQuantizerLayer} after a vertex that feeds several;</li>
 *   <li>both inputs of an elementwise Add must already be quantized (an ActivationQuantizerLayer on
 *       each branch, or a branch that is one);</li>
 *   <li>a quantizer applied to an already quantized tensor with other codes becomes a
 *       {@link Int8Graph.Requantize} node; one with the same codes is the identity;</li>
 *   <li>the network has one input and one output, the output vertex being a quantized dense/output
 *       layer whose logits get affine int8 codes from the calibration samples.</li>
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

    /** One operation on a pending output's path: a pooling layer or a flatten. */
    private record Step(SubsamplingLayer pool, String name) {
    }

    /** A producer's float output after an activation and some pooling/flattening, not yet quantized. */
    private record Pending(Source source, Int8Exporter.Activation activation, boolean afterAvgPool, List<Step> steps) implements Value {
        Pending then(Step step) {
            List<Step> more = new ArrayList<>(steps);
            more.add(step);
            return new Pending(source, activation, afterAvgPool || (step.pool != null
                    && step.pool.getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.AVG), more);
        }
    }

    private final Network net;
    private final INDArray calibration;
    private final List<Int8Graph.Tensor> tensors = new ArrayList<>();
    private final List<Int8Graph.Node> nodes = new ArrayList<>();
    private final Map<String, Value> values = new HashMap<>();
    private final List<String> notes = new ArrayList<>();
    private final Map<Int8Graph.Node, double[]> scales = new java.util.IdentityHashMap<>();
    /** Tensors already emitted for a pending path, so that consumers sharing a path share its nodes. */
    private final Map<Pending, Integer> emitted = new HashMap<>();

    /** The network input's source, set by {@link #run}. */
    private Source input;

    private GraphExporter(Network net, INDArray calibration) {
        this.net = net;
        this.calibration = calibration;
    }

    static Int8Exporter.Result export(ComputationGraph cg, INDArray calibration, FixedPoint.Rounding rounding) {
        return export(Network.of(cg), calibration, rounding);
    }

    static Int8Exporter.Result export(Network net, INDArray calibration, FixedPoint.Rounding rounding) {
        return new GraphExporter(net, calibration).run(rounding);
    }

    private Int8Exporter.Result run(FixedPoint.Rounding rounding) {
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
            return tensors.size() - 1;
        });
        values.put(inputName, new Pending(input, Int8Exporter.Activation.NONE, false, List.of()));
        String outputName = net.outputs().get(0);
        String outputShown = outputName;
        for (Vertex v : net.vertices()) {
            String key = v.key();
            String name = v.name();
            if (key.equals(outputName)) {
                outputShown = name;
            }
            org.deeplearning4j.nn.conf.graph.GraphVertex vc = v.conf();
            List<String> inputs = v.inputs();
            if (vc instanceof ElementWiseVertex e) {
                values.put(key, add(name, e, inputs));
                continue;
            }
            if (!(vc instanceof LayerVertex lv)) {
                throw new IllegalArgumentException("vertex '" + name + "': " + vc.getClass().getSimpleName()
                        + " is not supported by the integer export (layers, elementwise Add)");
            }
            if (inputs.size() != 1) {
                throw new IllegalArgumentException("vertex '" + name + "': a layer with " + inputs.size() + " inputs (merge them first)");
            }
            Value in = values.get(inputs.get(0));
            InputPreProcessor pre = lv.getPreProcessor();
            if (pre != null) {
                if (!(pre instanceof CnnToFeedForwardPreProcessor)) {
                    throw new IllegalArgumentException("vertex '" + name + "': input preprocessor " + pre.getClass().getSimpleName()
                            + " is not supported by the integer export (only CNN-to-dense flattening)");
                }
                in = in instanceof Pending p ? p.then(new Step(null, name))
                        : new Quantized(Int8Exporter.addFlatten(((Quantized) in).tensor(), tensors, nodes), ((Quantized) in).codes());
            }
            Layer layer = v.layer();
            org.deeplearning4j.nn.conf.layers.Layer lc = layer.conf().getLayer();
            if (lc instanceof ActivationQuantizerLayer) {
                Int8Exporter.Codes codes = Int8Exporter.inputCodes(layer, quoted(name));
                values.put(key, new Quantized(quantize(in, codes, name), codes));
            } else if (lc instanceof QuantizedLayerConf q) {
                Int8Exporter.Codes inCodes = q.getQuant().quantizesInputs() ? Int8Exporter.inputCodes(layer, quoted(name)) : null;
                int inTensor;
                if (inCodes != null) {
                    inTensor = quantize(in, inCodes, name);
                } else if (in instanceof Quantized qi) {
                    inTensor = qi.tensor();
                    inCodes = qi.codes();
                } else {
                    throw new IllegalArgumentException("layer '" + name + "': its input is not quantized and it has no input quantizer; "
                            + "enable its input quantization or put an ActivationQuantizerLayer before it");
                }
                Int8Exporter.Codes xCodes = inCodes;
                int xTensor = inTensor;
                Source src = new Source(name, (codes, lo, hi) -> {
                    Int8Graph.Tensor t = tensors.get(xTensor);
                    tensors.add(Int8Exporter.outputTensor(lc, t, codes));
                    int out = tensors.size() - 1;
                    nodes.add(Int8Exporter.weighted(layer, lc, q.getQuant(), quoted(name), xTensor, t, out, xCodes, codes, lo, hi, scales));
                    return out;
                });
                Int8Exporter.Activation act = Int8Exporter.activationOf(lc instanceof BaseLayer b ? b.getActivationFn() : null, quoted(name));
                values.put(key, new Pending(src, act, false, List.of()));
                if (key.equals(outputName)) {
                    Int8Exporter.Codes logits = Int8Exporter.logitCodes(Int8Exporter.preActivations(layer,
                            net.inputActivations(v, calibration), pre, quoted(name)));
                    notes.add(quoted(name) + ": logits scale " + logits.scale() + ", zero point " + logits.zeroPoint() + " from "
                            + calibration.size(0) + " calibration samples");
                    values.put(key, new Quantized(quantize(values.get(key), logits, name), logits));
                }
            } else if (lc instanceof ActivationLayer a) {
                Int8Exporter.Activation act = Int8Exporter.activationOf(a.getActivationFn(), quoted(name));
                values.put(key, activate(in, act, name));
            } else if (lc instanceof SubsamplingLayer s) {
                values.put(key, in instanceof Pending p ? p.then(new Step(s, name))
                        : new Quantized(Int8Exporter.addPool(s, quoted(name), ((Quantized) in).tensor(), tensors, nodes),
                        ((Quantized) in).codes()));
            } else {
                throw new IllegalArgumentException("layer '" + name + "': " + lc.getClass().getSimpleName()
                        + " is not supported by the integer export (supported: quantized Conv2D/Dense/Output, conv+BN, activation "
                        + "quantizers, max/avg pooling, ReLU/ReLU6/identity activations, elementwise Add)");
            }
        }
        Value out = values.get(outputName);
        if (!(out instanceof Quantized q)) {
            throw new IllegalArgumentException("vertex '" + outputShown + "': the network output must be a quantized dense/output layer");
        }
        Int8Graph graph = new Int8Graph(tensors, nodes, input.tensor, q.tensor(), rounding);
        graph.validate();
        return Int8Exporter.Result.of(graph, notes, scales);
    }

    private static String quoted(String name) {
        return "'" + name + "'";
    }

    private Value activate(Value in, Int8Exporter.Activation act, String name) {
        if (act == Int8Exporter.Activation.NONE) {
            return in;
        }
        if (!(in instanceof Pending p) || p.source() == input) {
            throw new IllegalArgumentException("layer '" + name + "': an activation on an already quantized tensor (or the network "
                    + "input) cannot be fused into a clamp; put it before the activation quantizer");
        }
        if (p.afterAvgPool()) {
            throw new IllegalArgumentException("layer '" + name + "': an activation after average pooling cannot be fused into the "
                    + "clamp before it; put it before the pooling");
        }
        Int8Exporter.Activation combined = act == Int8Exporter.Activation.RELU6 || p.activation() == Int8Exporter.Activation.RELU6
                ? Int8Exporter.Activation.RELU6 : Int8Exporter.Activation.RELU;
        return new Pending(p.source(), combined, false, p.steps());
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
                        + "add needs both inputs as int8 tensors: put an ActivationQuantizerLayer between them");
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
        return new Pending(src, Int8Exporter.Activation.NONE, false, List.of());
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
            s.tensor = s.producer.emit(codes, clamp[0], clamp[1]);
            s.codes = codes;
            s.activation = p.activation();
        } else if (!s.codes.equals(codes) || s.activation != p.activation()) {
            throw new IllegalArgumentException("vertex '" + s.vertex + "': its consumers quantize it differently (" + consumer
                    + " with scale " + codes.scale() + ", zero point " + codes.zeroPoint() + ", " + p.activation() + "; earlier scale "
                    + s.codes.scale() + ", zero point " + s.codes.zeroPoint() + ", " + s.activation
                    + "); put one ActivationQuantizerLayer after it and let its consumers read that");
        }
        Integer done = emitted.get(p);
        if (done != null) {
            return done;
        }
        int t = s.tensor;
        for (Step step : p.steps()) {
            t = step.pool() == null ? Int8Exporter.addFlatten(t, tensors, nodes)
                    : Int8Exporter.addPool(step.pool(), quoted(step.name()), t, tensors, nodes);
        }
        emitted.put(p, t);
        return t;
    }
}
