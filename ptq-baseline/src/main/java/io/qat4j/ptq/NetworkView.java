package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One view of a float {@link MultiLayerNetwork} or {@link ComputationGraph} for the PTQ passes, so
 * that every pass is one algorithm for both (STYLE.md habit 12): vertices in topological order with
 * their names, input tensors, layer configurations and consumers, and a forward pass that returns
 * every tensor of a batch by name.
 *
 * <p>Names. A tensor is named after the vertex that produces it (PyTorch FX names a node's output
 * the same way): a layer's output tensor has the layer's name. In a MultiLayerNetwork a layer's name
 * is its configured layer name, or {@code "layer" + index} when it has none (the naming
 * {@code QuantizedModel} uses), and the network input tensor is {@value #MULTI_LAYER_INPUT} (with
 * {@code "_"} prefixed until no layer has that name). In a ComputationGraph vertices and network
 * inputs have their graph names. A layer's input tensor is the output of its one input vertex,
 * taken before the layer's input preprocessor (a flattening {@code CnnToFeedForwardPreProcessor}
 * keeps {@code [N, C, H, W]}, whose c-order flattening is what the dense layer sees).
 *
 * <p>The view reads the network it was made of; it never modifies it ({@link #rebuild} makes a new
 * one).
 */
public final class NetworkView {

    /** The two DL4J network kinds. */
    public enum Kind {
        MULTI_LAYER_NETWORK,
        COMPUTATION_GRAPH
    }

    /** Name of a MultiLayerNetwork's input tensor (unless a layer already has it; see the class comment). */
    public static final String MULTI_LAYER_INPUT = "input";

    /**
     * One vertex (not a network input).
     *
     * @param name         vertex name (= the name of its output tensor)
     * @param index        MultiLayerNetwork layer index, or the ComputationGraph vertex index ({@code getVertexIndex()})
     * @param inputs       names of its input tensors, in order
     * @param layer        its layer configuration as the network runs it, or null for a graph vertex without a layer
     *                     (ElementWiseVertex, MergeVertex, ...)
     * @param preProcessor the layer's input preprocessor, or null
     * @param graphVertex  the graph vertex configuration (ComputationGraph only; null in a MultiLayerNetwork)
     */
    public record Vertex(String name, int index, List<String> inputs, Layer layer, InputPreProcessor preProcessor,
                         GraphVertex graphVertex) {
        public Vertex {
            inputs = List.copyOf(inputs);
        }

        /** What the vertex is, for messages: the layer or vertex class. */
        public String type() {
            return layer != null ? layer.getClass().getSimpleName()
                    : graphVertex != null ? graphVertex.getClass().getSimpleName() : "vertex";
        }
    }

    private final Model model;
    private final Kind kind;
    private final List<String> inputs;
    private final List<String> outputs;
    private final List<Vertex> vertices;
    private final Map<String, Vertex> byName;
    private final Map<String, List<String>> consumers;

    private NetworkView(Model model, Kind kind, List<String> inputs, List<String> outputs, List<Vertex> vertices) {
        this.model = model;
        this.kind = kind;
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        this.vertices = List.copyOf(vertices);
        Map<String, Vertex> names = new LinkedHashMap<>();
        Map<String, List<String>> cons = new LinkedHashMap<>();
        for (String in : inputs) {
            cons.put(in, new ArrayList<>());
        }
        for (Vertex v : vertices) {
            if (names.put(v.name(), v) != null || inputs.contains(v.name())) {
                throw new IllegalArgumentException("the network has two vertices named '" + v.name() + "'; give its layers unique names");
            }
            cons.put(v.name(), new ArrayList<>());
        }
        for (Vertex v : vertices) {
            for (String in : v.inputs()) {
                cons.get(in).add(v.name());
            }
        }
        cons.replaceAll((k, v) -> List.copyOf(v));
        this.byName = Collections.unmodifiableMap(names);
        this.consumers = Collections.unmodifiableMap(cons);
    }

    /**
     * The view of an initialized MultiLayerNetwork or ComputationGraph.
     *
     * @throws IllegalArgumentException for another {@link Model} (e.g. a single layer), naming its class
     */
    public static NetworkView of(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            return ofMultiLayer(net);
        }
        if (model instanceof ComputationGraph graph) {
            return ofGraph(graph);
        }
        throw new IllegalArgumentException("PTQ takes a MultiLayerNetwork or a ComputationGraph, got a "
                + (model == null ? "null model" : model.getClass().getName()));
    }

    private static NetworkView ofMultiLayer(MultiLayerNetwork net) {
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        int n = net.getnLayers();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            names.add(WeightedLayer.nameOf(net.getLayer(i).conf().getLayer(), i));
        }
        String input = MULTI_LAYER_INPUT;
        while (names.contains(input)) {
            input = "_" + input;
        }
        List<Vertex> vertices = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            vertices.add(new Vertex(names.get(i), i, List.of(i == 0 ? input : names.get(i - 1)), net.getLayer(i).conf().getLayer(),
                    conf.getInputPreProcess(i), null));
        }
        return new NetworkView(net, Kind.MULTI_LAYER_NETWORK, List.of(input), n == 0 ? List.of() : List.of(names.get(n - 1)), vertices);
    }

    private static NetworkView ofGraph(ComputationGraph graph) {
        ComputationGraphConfiguration conf = graph.getConfiguration();
        List<Vertex> vertices = new ArrayList<>();
        for (int idx : graph.topologicalSortOrder()) {
            org.deeplearning4j.nn.graph.vertex.GraphVertex v = graph.getVertices()[idx];
            if (v.isInputVertex()) {
                continue;
            }
            String name = v.getVertexName();
            GraphVertex vc = conf.getVertices().get(name);
            Layer layer = v.hasLayer() ? v.getLayer().conf().getLayer() : null;
            InputPreProcessor pre = vc instanceof LayerVertex lv ? lv.getPreProcessor() : null;
            vertices.add(new Vertex(name, v.getVertexIndex(), conf.getVertexInputs().getOrDefault(name, List.of()), layer, pre, vc));
        }
        return new NetworkView(graph, Kind.COMPUTATION_GRAPH, conf.getNetworkInputs(), conf.getNetworkOutputs(), vertices);
    }

    public Model model() {
        return model;
    }

    public Kind kind() {
        return kind;
    }

    /** Network input tensor names. */
    public List<String> inputs() {
        return inputs;
    }

    /** Names of the vertices whose outputs are network outputs. */
    public List<String> outputs() {
        return outputs;
    }

    /** Vertices in topological order (network inputs excluded). */
    public List<Vertex> vertices() {
        return vertices;
    }

    /** Every tensor name: network inputs, then vertex outputs in topological order. */
    public List<String> tensors() {
        List<String> out = new ArrayList<>(inputs);
        vertices.forEach(v -> out.add(v.name()));
        return out;
    }

    /** The vertex of this name, or an error listing the vertices there are. */
    public Vertex vertex(String name) {
        Vertex v = byName.get(name);
        if (v == null) {
            throw new IllegalArgumentException("the network has no layer or vertex named '" + name + "'"
                    + (inputs.contains(name) ? " ('" + name + "' is a network input)" : "") + "; it has " + byName.keySet());
        }
        return v;
    }

    /** True when {@code name} is a vertex (not a network input or unknown). */
    public boolean hasVertex(String name) {
        return byName.containsKey(name);
    }

    /** Vertices that take the tensor {@code name} as an input, in topological order (a vertex taking it twice is listed twice). */
    public List<String> consumers(String name) {
        List<String> c = consumers.get(name);
        if (c == null) {
            throw new IllegalArgumentException("the network has no tensor named '" + name + "'; it has " + tensors());
        }
        return c;
    }

    /** True when the tensor is a network output. */
    public boolean isOutput(String name) {
        return outputs.contains(name);
    }

    /**
     * The tensor's only reader: its one consumer when it has exactly one and is not a network output,
     * else null. Passes that rescale or fold a tensor need this (another reader would see the change).
     */
    public Vertex soleConsumer(String name) {
        List<String> c = consumers(name);
        return c.size() == 1 && !isOutput(name) ? byName.get(c.get(0)) : null;
    }

    /** The runtime layer of a layer vertex. */
    public org.deeplearning4j.nn.api.Layer layer(String name) {
        Vertex v = vertex(name);
        if (v.layer() == null) {
            throw new IllegalArgumentException("vertex '" + name + "' is a " + v.type() + ", not a layer");
        }
        return switch (kind) {
            case MULTI_LAYER_NETWORK -> ((MultiLayerNetwork) model).getLayer(v.index());
            case COMPUTATION_GRAPH -> ((ComputationGraph) model).getLayer(name);
        };
    }

    /**
     * The {@code [C, H, W]} convolution {@code layer} sees for a captured per-sample input shape: the
     * shape itself, or, where the captured input is flat and DL4J's FeedForwardToCnnPreProcessor
     * reshapes it (zoo LeNet's first layer), the preprocessor's shape (the same elements in C order).
     *
     * @throws IllegalArgumentException for a flat input without such a preprocessor
     */
    public long[] cnnInputShape(String layer, long[] captured) {
        if (captured.length == 3) {
            return captured;
        }
        if (vertex(layer).preProcessor() instanceof org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor f) {
            return new long[] {f.getNumChannels(), f.getInputHeight(), f.getInputWidth()};
        }
        throw new IllegalArgumentException("convolution '" + layer + "' reads an input of shape " + java.util.Arrays.toString(captured)
                + " and no FeedForwardToCnn preprocessor says its [C, H, W]");
    }

    /** Top-1 accuracy of network outputs {@code [N, classes]} against one-hot (or soft) labels {@code [N, classes]}. */
    public static double accuracy(INDArray output, INDArray labels) {
        INDArray p = output.argMax(1);
        INDArray t = labels.argMax(1);
        long n = p.length();
        int right = 0;
        for (long i = 0; i < n; i++) {
            right += p.getLong(i) == t.getLong(i) ? 1 : 0;
        }
        return (double) right / n;
    }

    /**
     * Inference-mode forward pass of one batch: every tensor by name (network inputs and every
     * vertex output, in {@link #tensors()} order), each {@code [N, ...]}.
     *
     * @throws IllegalArgumentException for a graph with more than one input
     */
    public Map<String, INDArray> activations(INDArray features) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        switch (kind) {
            case MULTI_LAYER_NETWORK -> {
                List<INDArray> acts = ((MultiLayerNetwork) model).feedForward(features, false);
                out.put(inputs.get(0), acts.get(0));
                for (int i = 0; i < vertices.size(); i++) {
                    out.put(vertices.get(i).name(), acts.get(i + 1));
                }
            }
            case COMPUTATION_GRAPH -> {
                requireSingleInput();
                Map<String, INDArray> acts = ((ComputationGraph) model).feedForward(features, false);
                for (String t : tensors()) {
                    INDArray a = acts.get(t);
                    if (a == null) {
                        throw new IllegalStateException("ComputationGraph.feedForward gave no activation for vertex '" + t + "'");
                    }
                    out.put(t, a);
                }
            }
        }
        return out;
    }

    /**
     * The network output of one batch in inference mode ({@code [N, classes]} for a classifier).
     *
     * @throws IllegalArgumentException for a graph with more than one input or output
     */
    public INDArray output(INDArray features) {
        return switch (kind) {
            case MULTI_LAYER_NETWORK -> ((MultiLayerNetwork) model).output(features, false);
            case COMPUTATION_GRAPH -> {
                requireSingleInput();
                if (outputs.size() != 1) {
                    throw new IllegalArgumentException("PTQ compares one network output; the graph has " + outputs.size() + ": " + outputs);
                }
                yield ((ComputationGraph) model).output(false, features)[0];
            }
        };
    }

    private void requireSingleInput() {
        if (inputs.size() != 1) {
            throw new IllegalArgumentException("PTQ streams one feature array per batch; the graph has " + inputs.size() + " inputs "
                    + inputs + " (calibrate a graph with a single input)");
        }
    }

    /** An independent copy of the network (configuration and parameters). */
    public Model copy() {
        return switch (kind) {
            case MULTI_LAYER_NETWORK -> ((MultiLayerNetwork) model).clone();
            case COMPUTATION_GRAPH -> ((ComputationGraph) model).clone();
        };
    }

    /**
     * A new initialized network of the same kind and wiring whose layer configurations come from a
     * copy of this one's configuration, each passed through {@code edit(name, layerCopy)} (return it,
     * edited or not, or a replacement). Parameters are freshly initialized: the caller sets them.
     */
    public Model rebuild(BiFunction<String, Layer, Layer> edit) {
        return switch (kind) {
            case MULTI_LAYER_NETWORK -> {
                MultiLayerConfiguration conf = ((MultiLayerNetwork) model).getLayerWiseConfigurations().clone();
                for (Vertex v : vertices) {
                    conf.getConf(v.index()).setLayer(edit.apply(v.name(), conf.getConf(v.index()).getLayer()));
                }
                MultiLayerNetwork out = new MultiLayerNetwork(conf);
                out.init();
                yield out;
            }
            case COMPUTATION_GRAPH -> {
                ComputationGraphConfiguration conf = ((ComputationGraph) model).getConfiguration().clone();
                for (Vertex v : vertices) {
                    if (conf.getVertices().get(v.name()) instanceof LayerVertex lv) {
                        lv.getLayerConf().setLayer(edit.apply(v.name(), lv.getLayerConf().getLayer()));
                    }
                }
                ComputationGraph out = new ComputationGraph(conf);
                out.init();
                yield out;
            }
        };
    }

    /** Copies every parameter of layer {@code name} from {@code from} (same layer configuration) into this network. */
    void copyParams(NetworkView from, String name) {
        org.deeplearning4j.nn.api.Layer to = layer(name);
        for (Map.Entry<String, INDArray> e : from.layer(name).paramTable().entrySet()) {
            to.setParam(e.getKey(), e.getValue().dup());
        }
    }

    /** {@code model} as a MultiLayerNetwork, or an error saying that {@code holder} holds a graph and how to read it. */
    static MultiLayerNetwork multiLayer(Model model, String holder) {
        if (model instanceof MultiLayerNetwork net) {
            return net;
        }
        throw new IllegalStateException(holder + " holds a " + model.getClass().getSimpleName()
                + ", not a MultiLayerNetwork; read it with model() (any network) or graph()");
    }

    /** {@code model} as a ComputationGraph, or an error saying that {@code holder} holds a MultiLayerNetwork. */
    static ComputationGraph graph(Model model, String holder) {
        if (model instanceof ComputationGraph graph) {
            return graph;
        }
        throw new IllegalStateException(holder + " holds a " + model.getClass().getSimpleName()
                + ", not a ComputationGraph; read it with model() (any network) or network()");
    }
}
