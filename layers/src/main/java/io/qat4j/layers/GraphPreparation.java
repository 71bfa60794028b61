package io.qat4j.layers;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.PreprocessorVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationHardSigmoid;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationSwish;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.learning.config.NoOp;

import io.qat4j.layers.conf.ActivationQuantizerLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;

/**
 * Graph-mode preparation (as PyTorch FX/PT2E {@code prepare}; DESIGN.md "Graph-mode preparation"):
 * places {@link ActivationQuantizerLayer}s where the integer model needs int8 tensors, on a
 * configuration whose weighted layers {@link QuantizedModel#wrap} has already replaced.
 *
 * <p>One algorithm for both network kinds: a MultiLayerNetwork is viewed as a chain of layer
 * vertices (layer {@code i} reads layer {@code i-1}, the first one the input {@value #MULTI_LAYER_INPUT};
 * each layer's input preprocessor stays on its vertex), a ComputationGraph as its vertices in
 * topological order. Each vertex has a {@link Role}. A <em>tensor</em> is the output of a vertex
 * that is not pass-through (its <em>origin</em>) together with what pass-through ops (ReLU/ReLU6,
 * identity, max pooling, dropout, zero padding, cropping, nearest upsampling, reshapes) make of it:
 * quantization commutes with them, so every reader reached through them reads the same codes. For
 * each tensor the readers say what they need ({@link Need}); a quantizer goes on the tensor when a
 * reader needs an int8 tensor (Add input, average pooling, LeakyReLU/lookup activation, the logits
 * of a network that does not end in a quantized dense/output layer) or when two or more readers
 * would quantize it (one observer per tensor). It is inserted after the linear run of pass-through
 * ops that leaves the origin (where the readers branch), every reader of that vertex is rewired to
 * it, and the weighted readers keep their own input quantizer, which requantizes the shared codes
 * (so their bias trains on the grid the integer model stores it on). A weighted layer whose own
 * activation is LeakyReLU or a lookup activation is first split into the layer (identity) and an
 * {@link ActivationLayer} {@code <layer>_act}. The rules are {@link PlacementRule}'s.
 *
 * <p>Inserted quantizers take the plan's settings for their name (its defaults unless overridden);
 * a plan whose input mode there is NONE (weight-only quantization) places nothing.
 */
final class GraphPreparation {

    /** What the integer path supports, for the reasons given for layers kept in float. */
    static final String SUPPORTED = "supported: ConvolutionLayer, DepthwiseConvolution2D, SeparableConvolution2D, DenseLayer and "
            + "OutputLayer (quantized), a BatchNormalization directly after one of these convolutions with identity activation "
            + "(folded), ActivationLayer (identity, ReLU, ReLU6, LeakyReLU, "
            + "sigmoid, tanh, ELU, hard sigmoid, swish; softmax on the network output), SubsamplingLayer and GlobalPoolingLayer (max, "
            + "average), DropoutLayer, ZeroPaddingLayer, Cropping2D, Upsampling2D, ActivationQuantizerLayer, ElementWiseVertex Add, "
            + "MergeVertex, the CnnToFeedForward and FeedForwardToCnn preprocessors";

    /** The name a MultiLayerNetwork's input has in the view (DL4J does not name it; another name if a layer has this one). */
    static final String MULTI_LAYER_INPUT = "input";

    /** What a vertex is to the integer graph. */
    private enum Role {
        /** A network input: a float tensor. */
        INPUT,
        /** A quantized layer with weights: quantizes its input with its own quantizer (unless its input mode is NONE). */
        WEIGHTED,
        /** An ActivationQuantizerLayer: its output is an int8 tensor. */
        QUANTIZER,
        /** Passes quantized values through: identity/ReLU/ReLU6, max pooling, dropout, padding, cropping, upsampling, reshapes. */
        PASS_THROUGH,
        /** Elementwise Add: int8 inputs, output requantized by its reader. */
        ADD,
        /** MergeVertex (concat): inputs requantized to the output scale its reader sets. */
        CONCAT,
        /** Average pooling: int8 input, output requantized by its reader. */
        AVERAGE_POOL,
        /** LeakyReLU or a lookup-table activation: int8 input, output requantized by its reader. */
        INT8_ACTIVATION,
        /** Softmax on the network output: applied outside the integer graph. */
        OUTPUT_ACTIVATION,
        /** No integer implementation: stays in float. */
        FLOAT
    }

    /** How an activation function enters the integer graph. */
    enum ActivationKind {
        IDENTITY,
        /** ReLU, ReLU6: fused into the producer's clamp. */
        CLAMP,
        /** LeakyReLU (two multipliers) and sigmoid, tanh, ELU, hard sigmoid, swish (256-entry tables): int8 in, requantized out. */
        INT8_LOOKUP,
        /** Softmax: only on the network output, outside the integer graph. */
        SOFTMAX,
        UNSUPPORTED
    }

    /** What one reader needs from a tensor. */
    private enum Need {
        /** A weighted layer with its own input quantizer. */
        OWN_QUANTIZER,
        /** An ActivationQuantizerLayer. */
        QUANTIZER,
        /** An int8 tensor (Add, average pooling, LeakyReLU/lookup activation, quantized logits). */
        INT8,
        /** A concat input: requantized to the concat's output scale. */
        CONCAT,
        /** Nothing: a float layer, a weighted layer with float inputs, or dequantized logits. */
        NOTHING
    }

    /**
     * One reader of a tensor.
     *
     * @param reader the reading vertex, or null for the network output
     * @param tensor the vertex whose output it reads (the origin or a pass-through op below it)
     * @param rule   the rule an INT8 need stands for, else null
     */
    private record Use(Node reader, String tensor, Need need, PlacementRule rule) {
    }

    /** A vertex of the view: a layer (with its input preprocessor) or another graph vertex, and the vertices it reads. */
    private static final class Node {
        final String name;
        final GraphVertex vertex;
        final List<String> inputs;

        Node(String name, GraphVertex vertex, List<String> inputs) {
            this.name = name;
            this.vertex = vertex;
            this.inputs = new ArrayList<>(inputs);
        }

        Layer layer() {
            return vertex instanceof LayerVertex lv ? lv.getLayerConf().getLayer() : null;
        }

        InputPreProcessor preProcessor() {
            return vertex instanceof LayerVertex lv ? lv.getPreProcessor() : null;
        }
    }

    private final List<String> inputs;
    private final List<String> outputs;
    /** Every vertex but the inputs, in topological order. */
    private final List<Node> nodes;
    /** Template of new layer configurations when no layer is near (a graph's default configuration). */
    private final NeuralNetConfiguration defaults;
    private final Map<String, InsertedQuantizer> inserted = new LinkedHashMap<>();
    private final Map<String, String> split = new LinkedHashMap<>();
    /** Inserted quantizer -> weighted readers reading it directly (their calibrated input range is its tensor's). */
    private final Map<String, List<String>> rangeDonors = new HashMap<>();

    private GraphPreparation(List<String> inputs, List<String> outputs, List<Node> nodes, NeuralNetConfiguration defaults) {
        this.inputs = new ArrayList<>(inputs);
        this.outputs = new ArrayList<>(outputs);
        this.nodes = nodes;
        this.defaults = defaults;
    }

    /** The chain view of a layer list whose layers all have names (unique). */
    static GraphPreparation of(MultiLayerConfiguration conf) {
        Set<String> names = new HashSet<>();
        for (int i = 0; i < conf.getConfs().size(); i++) {
            String name = conf.getConf(i).getLayer().getLayerName();
            if (!names.add(name)) {
                throw new IllegalArgumentException("layer " + i + ": the name '" + name + "' is used by another layer; give the layers "
                        + "unique names (quantizers are placed and parameters copied by name)");
            }
        }
        String input = MULTI_LAYER_INPUT;
        for (int k = 2; names.contains(input); k++) {
            input = MULTI_LAYER_INPUT + k;
        }
        List<Node> nodes = new ArrayList<>();
        String previous = input;
        for (int i = 0; i < conf.getConfs().size(); i++) {
            NeuralNetConfiguration c = conf.getConf(i);
            nodes.add(new Node(c.getLayer().getLayerName(), new LayerVertex(c, conf.getInputPreProcess(i)), List.of(previous)));
            previous = c.getLayer().getLayerName();
        }
        return new GraphPreparation(List.of(input), List.of(previous), nodes, conf.getConf(0));
    }

    /** The view of a graph configuration: its vertices in topological order (ties in configuration order). */
    static GraphPreparation of(ComputationGraphConfiguration conf) {
        List<Node> nodes = new ArrayList<>();
        Set<String> placed = new HashSet<>(conf.getNetworkInputs());
        List<String> pending = new ArrayList<>();
        for (String name : conf.getVertices().keySet()) {
            if (!placed.contains(name)) {
                pending.add(name);
            }
        }
        while (!pending.isEmpty()) {
            String next = null;
            for (String name : pending) {
                if (placed.containsAll(conf.getVertexInputs().getOrDefault(name, List.of()))) {
                    next = name;
                    break;
                }
            }
            if (next == null) {
                throw new IllegalArgumentException("graph: vertices " + pending + " read vertices that do not exist or form a cycle");
            }
            pending.remove(next);
            placed.add(next);
            nodes.add(new Node(next, conf.getVertices().get(next), conf.getVertexInputs().getOrDefault(next, List.of())));
        }
        return new GraphPreparation(conf.getNetworkInputs(), conf.getNetworkOutputs(), nodes, conf.getDefaultConfiguration());
    }

    /**
     * Splits weighted layers with LeakyReLU/lookup activations, places the quantizers and switches
     * off the input quantizers they replace; adds every vertex with no integer form to {@code kept}
     * (unless already there) with the reason and {@link #SUPPORTED}.
     */
    void prepare(QuantizationPlan plan, Map<String, String> kept) {
        splitActivations(plan);
        List<String> origins = new ArrayList<>(inputs);
        for (Node n : nodes) {
            if (role(n) != Role.PASS_THROUGH) {
                origins.add(n.name);
            }
        }
        for (String origin : origins) {
            place(origin, plan);
        }
        for (Node n : nodes) {
            if (role(n) == Role.FLOAT && !kept.containsKey(n.name)) {
                kept.put(n.name, floatReason(n) + "; it stays in float (" + SUPPORTED + ")");
            }
        }
    }

    /** The quantizers placed, by name, in graph order. */
    Map<String, InsertedQuantizer> inserted() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(inserted));
    }

    /** Weighted layer -> the ActivationLayer that now applies its activation. */
    Map<String, String> splitActivations() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(split));
    }

    /**
     * The calibrated input range for layer {@code name}: the plan's; for an inserted quantizer
     * without one, the union of the plan's ranges of the weighted layers that read it directly
     * (the same tensor); null if none.
     */
    QuantizationPlan.Range range(String name, QuantizationPlan plan) {
        QuantizationPlan.Range own = plan.inputRange(name);
        if (own != null || !rangeDonors.containsKey(name)) {
            return own;
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (String donor : rangeDonors.get(name)) {
            QuantizationPlan.Range r = plan.inputRange(donor);
            if (r != null) {
                lo = Math.min(lo, r.min());
                hi = Math.max(hi, r.max());
            }
        }
        return lo <= hi ? new QuantizationPlan.Range(lo, hi) : null;
    }

    /**
     * The layer list of the view, each layer with its own input preprocessor; every other setting
     * of {@code base} (the configuration the view was made from) is kept.
     */
    MultiLayerConfiguration toMultiLayer(MultiLayerConfiguration base) {
        List<NeuralNetConfiguration> confs = new ArrayList<>();
        Map<Integer, InputPreProcessor> preProcessors = new HashMap<>();
        String previous = inputs.get(0);
        for (Node n : nodes) {
            if (!(n.vertex instanceof LayerVertex lv) || !n.inputs.equals(List.of(previous))) {
                throw new IllegalStateException("vertex '" + n.name + "' does not continue the layer chain after '" + previous + "'");
            }
            if (lv.getPreProcessor() != null) {
                preProcessors.put(confs.size(), lv.getPreProcessor());
            }
            confs.add(lv.getLayerConf());
            previous = n.name;
        }
        MultiLayerConfiguration out = base.clone();
        out.setConfs(confs);
        out.setInputPreProcessors(preProcessors);
        return out;
    }

    /** Writes the view's vertices, wiring and outputs into {@code conf} (the configuration it was made from). */
    void applyTo(ComputationGraphConfiguration conf) {
        Map<String, GraphVertex> vertices = new LinkedHashMap<>(conf.getVertices());
        Map<String, List<String>> vertexInputs = new LinkedHashMap<>(conf.getVertexInputs());
        for (Node n : nodes) {
            vertices.put(n.name, n.vertex);
            vertexInputs.put(n.name, new ArrayList<>(n.inputs));
        }
        for (Map.Entry<String, GraphVertex> e : vertices.entrySet()) {
            if (e.getValue() instanceof LayerVertex lv) {
                lv.setOutputVertex(outputs.contains(e.getKey()));
            }
        }
        conf.setVertices(vertices);
        conf.setVertexInputs(vertexInputs);
        conf.setNetworkOutputs(new ArrayList<>(outputs));
        conf.setTopologicalOrder(null);      // DL4J caches the order in the configuration; it changed
        conf.setTopologicalOrderStr(null);
        conf.validate(false, false);
    }

    // ---- roles

    static ActivationKind kind(IActivation a) {
        if (a == null || a instanceof ActivationIdentity) {
            return ActivationKind.IDENTITY;
        }
        if (a instanceof ActivationReLU r) {
            return isZero(r.getThreshold()) && isZero(r.getNegativeSlope()) ? ActivationKind.CLAMP : ActivationKind.UNSUPPORTED;
        }
        if (a instanceof ActivationReLU6) {
            return ActivationKind.CLAMP;
        }
        if (a instanceof ActivationLReLU || a instanceof ActivationSigmoid || a instanceof ActivationTanH || a instanceof ActivationELU
                || a instanceof ActivationHardSigmoid || a instanceof ActivationSwish) {
            return ActivationKind.INT8_LOOKUP;
        }
        return a instanceof ActivationSoftmax ? ActivationKind.SOFTMAX : ActivationKind.UNSUPPORTED;
    }

    private static boolean isZero(Double d) {
        return d == null || d == 0.0;
    }

    /** Layers without weights that {@link QuantizedModel#wrap} leaves as they are (their role decides what happens around them). */
    static boolean withoutWeights(Layer layer) {
        return layer instanceof ActivationLayer || layer instanceof SubsamplingLayer || layer instanceof GlobalPoolingLayer
                || layer instanceof DropoutLayer || layer.getClass() == ZeroPaddingLayer.class || layer.getClass() == Cropping2D.class
                || layer.getClass() == Upsampling2D.class;
    }

    private static boolean isReshape(InputPreProcessor p) {
        return p == null || p instanceof CnnToFeedForwardPreProcessor || p instanceof FeedForwardToCnnPreProcessor;
    }

    private Role role(String name) {
        return inputs.contains(name) ? Role.INPUT : role(node(name));
    }

    private Role role(Node n) {
        if (n.vertex instanceof LayerVertex) {
            return layerRole(n);
        }
        if (n.vertex instanceof ElementWiseVertex e) {
            return e.getOp() == ElementWiseVertex.Op.Add ? Role.ADD : Role.FLOAT;
        }
        if (n.vertex instanceof MergeVertex) {
            return Role.CONCAT;
        }
        if (n.vertex instanceof PreprocessorVertex p) {
            return isReshape(p.getPreProcessor()) ? Role.PASS_THROUGH : Role.FLOAT;
        }
        return Role.FLOAT;
    }

    private Role layerRole(Node n) {
        Layer l = n.layer();
        if (l instanceof ActivationQuantizerLayer) {
            return Role.QUANTIZER;
        }
        if (l instanceof QuantizedLayerConf) {
            return Role.WEIGHTED;
        }
        if (!isReshape(n.preProcessor())) {
            return Role.FLOAT;
        }
        if (l instanceof ActivationLayer a) {
            return switch (kind(a.getActivationFn())) {
                case IDENTITY, CLAMP -> Role.PASS_THROUGH;
                case INT8_LOOKUP -> Role.INT8_ACTIVATION;
                case SOFTMAX -> outputs.contains(n.name) ? Role.OUTPUT_ACTIVATION : Role.FLOAT;
                case UNSUPPORTED -> Role.FLOAT;
            };
        }
        if (l.getClass() == SubsamplingLayer.class) {
            return pooling(((SubsamplingLayer) l).getPoolingType());
        }
        if (l instanceof GlobalPoolingLayer g) {
            return pooling(g.getPoolingType());
        }
        boolean passes = l instanceof DropoutLayer || l.getClass() == ZeroPaddingLayer.class || l.getClass() == Cropping2D.class
                || l.getClass() == Upsampling2D.class;
        return passes ? Role.PASS_THROUGH : Role.FLOAT;
    }

    private static Role pooling(PoolingType type) {
        return switch (type) {
            case MAX -> Role.PASS_THROUGH;
            case AVG -> Role.AVERAGE_POOL;
            case SUM, PNORM -> Role.FLOAT;
        };
    }

    private String floatReason(Node n) {
        Layer l = n.layer();
        if (l == null) {
            return n.vertex instanceof ElementWiseVertex e ? "elementwise " + e.getOp() + " has no integer form"
                    : n.vertex.getClass().getSimpleName() + " has no integer form";
        }
        if (!isReshape(n.preProcessor())) {
            return "its input preprocessor " + n.preProcessor().getClass().getSimpleName() + " has no integer form";
        }
        if (l instanceof ActivationLayer a) {
            return kind(a.getActivationFn()) == ActivationKind.SOFTMAX
                    ? "softmax inside the network has no integer form (a softmax on the network output is applied outside the integer graph)"
                    : "activation " + a.getActivationFn() + " has no integer form";
        }
        if (l.getClass() == SubsamplingLayer.class) {
            return ((SubsamplingLayer) l).getPoolingType() + " pooling has no integer form";
        }
        if (l instanceof GlobalPoolingLayer g) {
            return "global " + g.getPoolingType() + " pooling has no integer form";
        }
        return l.getClass().getSimpleName() + " has no quantized implementation";
    }

    // ---- placement

    private void splitActivations(QuantizationPlan plan) {
        for (Node n : new ArrayList<>(nodes)) {
            if (role(n) == Role.WEIGHTED && n.layer() instanceof BaseLayer b && !(b instanceof BaseOutputLayer)
                    && kind(b.getActivationFn()) == ActivationKind.INT8_LOOKUP
                    && plan.settingsFor(unique(n.name + "_aq")).getInputMode() != InputQuantMode.NONE) {
                String name = unique(n.name + "_act");
                ActivationLayer act = new ActivationLayer.Builder().activation(b.getActivationFn()).build();
                act.setLayerName(name);
                b.setActivationFn(new ActivationIdentity());
                insertAfter(n.name, name, new LayerVertex(layerConf(n.name, act), null), true);
                split.put(n.name, name);
            }
        }
    }

    private void place(String origin, QuantizationPlan plan) {
        Role originRole = role(origin);
        if (originRole == Role.QUANTIZER) {
            return;   // already an int8 tensor
        }
        List<Use> uses = uses(origin, originRole);
        boolean needsInt8 = uses.stream().anyMatch(u -> u.need() == Need.INT8);
        long quantizing = uses.stream().filter(u -> u.need() != Need.NOTHING).count();
        if (!needsInt8 && quantizing < 2) {
            return;   // one reader quantizes it with its own quantizer: no second rounding
        }
        String at = chainEnd(origin);
        String name = unique(at + "_aq");
        QuantSettings settings = plan.settingsFor(name);
        if (settings.getInputMode() == InputQuantMode.NONE || plan.keepsFloat(name)) {
            return;   // the plan keeps activations in float here
        }
        EnumSet<PlacementRule> rules = EnumSet.noneOf(PlacementRule.class);
        boolean takesOutput = false;
        for (Use u : uses) {
            if (u.need() == Need.INT8) {
                rules.add(u.rule());
                takesOutput |= u.reader() == null && u.tensor().equals(at);
            }
            if (u.need() == Need.CONCAT) {
                rules.add(PlacementRule.CONCAT_INPUT);
            }
        }
        if (quantizing >= 2) {
            rules.add(PlacementRule.SHARED_TENSOR);
        }
        ActivationQuantizerLayer quantizer = ActivationQuantizerLayer.of(name, settings);
        trainLike(quantizer, at);
        List<String> readers = new ArrayList<>();
        for (Node r : readersOf(at)) {
            readers.add(r.name);
        }
        insertAfter(at, name, new LayerVertex(layerConf(at, quantizer), null), takesOutput);
        List<Node> off = new ArrayList<>();
        List<String> donors = new ArrayList<>();
        for (Use u : uses) {
            if (u.need() == Need.OWN_QUANTIZER) {
                off.add(u.reader());   // keeps its own input quantizer: see InsertedQuantizer#requantizedBy
                if (u.tensor().equals(at)) {
                    donors.add(u.reader().name);
                }
            }
        }
        off.sort(Comparator.comparingInt(nodes::indexOf));
        inserted.put(name, new InsertedQuantizer(name, at, rules, readers, off.stream().map(n -> n.name).toList()));
        rangeDonors.put(name, donors);
    }

    /** What every reader of the tensor of {@code origin} needs (readers reached through pass-through ops included). */
    private List<Use> uses(String origin, Role originRole) {
        List<Use> uses = new ArrayList<>();
        Deque<String> todo = new ArrayDeque<>(List.of(origin));
        while (!todo.isEmpty()) {
            String t = todo.pop();
            if (outputs.contains(t)) {
                uses.add(new Use(null, t, logitsNeedQuantizer(origin, originRole) ? Need.INT8 : Need.NOTHING, PlacementRule.NETWORK_OUTPUT));
            }
            for (Node r : readersOf(t)) {
                switch (role(r)) {
                    case PASS_THROUGH -> todo.push(r.name);
                    case WEIGHTED -> uses.add(new Use(r, t, ownQuantizer(r) ? Need.OWN_QUANTIZER : Need.NOTHING, null));
                    case QUANTIZER -> uses.add(new Use(r, t, Need.QUANTIZER, null));
                    case ADD -> uses.add(new Use(r, t, Need.INT8, PlacementRule.ADD_INPUT));
                    case AVERAGE_POOL -> uses.add(new Use(r, t, Need.INT8, PlacementRule.AVERAGE_POOL_INPUT));
                    case INT8_ACTIVATION -> uses.add(new Use(r, t, Need.INT8, PlacementRule.ACTIVATION_INPUT));
                    case CONCAT -> uses.add(new Use(r, t, Need.CONCAT, null));
                    case OUTPUT_ACTIVATION -> uses.add(new Use(r, t, logitsNeedQuantizer(origin, originRole) ? Need.INT8 : Need.NOTHING,
                            PlacementRule.NETWORK_OUTPUT));
                    case FLOAT -> uses.add(new Use(r, t, Need.NOTHING, null));
                    case INPUT -> throw new IllegalStateException("vertex '" + r.name + "' is a network input and reads '" + t + "'");
                }
            }
        }
        return uses;
    }

    /**
     * Whether logits produced by {@code origin} need a quantizer: not after a quantized dense/output
     * layer (the integer model dequantizes its int32 accumulators), a quantizer, or a float layer.
     */
    private boolean logitsNeedQuantizer(String origin, Role originRole) {
        return switch (originRole) {
            case INPUT, ADD, CONCAT, AVERAGE_POOL, INT8_ACTIVATION -> true;
            case WEIGHTED -> !(node(origin).layer() instanceof DenseLayer || node(origin).layer() instanceof OutputLayer);
            case QUANTIZER, OUTPUT_ACTIVATION, FLOAT -> false;
            case PASS_THROUGH -> throw new IllegalStateException("vertex '" + origin + "' passes values through and is no tensor's origin");
        };
    }

    private static boolean ownQuantizer(Node weighted) {
        return ((QuantizedLayerConf) weighted.layer()).getQuant().getInputMode() != InputQuantMode.NONE
                && isReshape(weighted.preProcessor());
    }

    /** The end of the run of single-reader pass-through ops that leaves {@code origin}: where its readers branch. */
    private String chainEnd(String origin) {
        String p = origin;
        while (!outputs.contains(p)) {
            List<Node> readers = readersOf(p);
            if (readers.size() != 1 || role(readers.get(0)) != Role.PASS_THROUGH) {
                break;
            }
            p = readers.get(0).name;
        }
        return p;
    }

    // ---- graph edits

    private Node node(String name) {
        for (Node n : nodes) {
            if (n.name.equals(name)) {
                return n;
            }
        }
        throw new IllegalStateException("no vertex '" + name + "'");
    }

    /** Vertices reading {@code name}'s output, each once, in graph order. */
    private List<Node> readersOf(String name) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes) {
            if (n.inputs.contains(name)) {
                out.add(n);
            }
        }
        return out;
    }

    /** {@code base}, or {@code base2}, {@code base3} ... when a vertex already has that name. */
    private String unique(String base) {
        Set<String> taken = new HashSet<>(inputs);
        for (Node n : nodes) {
            taken.add(n.name);
        }
        String name = base;
        for (int k = 2; taken.contains(name); k++) {
            name = base + k;
        }
        return name;
    }

    /**
     * Inserts vertex {@code name} reading {@code producer}; every vertex that read {@code producer}
     * reads it instead, and so does the network output when {@code takesOutput}.
     */
    private void insertAfter(String producer, String name, GraphVertex vertex, boolean takesOutput) {
        for (Node n : nodes) {
            n.inputs.replaceAll(in -> in.equals(producer) ? name : in);
        }
        nodes.add(inputs.contains(producer) ? 0 : nodes.indexOf(node(producer)) + 1, new Node(name, vertex, List.of(producer)));
        if (takesOutput) {
            outputs.replaceAll(o -> o.equals(producer) ? name : o);
        }
    }

    /** A configuration for a new layer: the one of the layer at {@code near} (or a reader of it) with {@code layer}. */
    private NeuralNetConfiguration layerConf(String near, Layer layer) {
        NeuralNetConfiguration template = defaults;
        List<Node> candidates = new ArrayList<>();
        if (!inputs.contains(near)) {
            candidates.add(node(near));
        }
        candidates.addAll(readersOf(near));
        candidates.addAll(nodes);
        for (Node n : candidates) {
            if (n.vertex instanceof LayerVertex lv) {
                template = lv.getLayerConf();
                break;
            }
        }
        if (template == null) {
            throw new IllegalStateException("no layer configuration to copy for '" + layer.getLayerName() + "'");
        }
        NeuralNetConfiguration c = template.clone();
        c.clearVariables();
        c.setLayer(layer);
        return c;
    }

    /**
     * The updater and gradient normalization of the nearest layer that trains (at {@code near}, a
     * reader of it, or any), as DL4J's builder gives a hand-inserted layer the network's defaults;
     * NoOp in a network with nothing to train.
     */
    private void trainLike(ActivationQuantizerLayer quantizer, String near) {
        List<Node> candidates = new ArrayList<>();
        if (!inputs.contains(near)) {
            candidates.add(node(near));
        }
        candidates.addAll(readersOf(near));
        candidates.addAll(nodes);
        for (Node n : candidates) {
            if (n.layer() instanceof BaseLayer b && b.getIUpdater() != null) {
                quantizer.setIUpdater(b.getIUpdater().clone());
                quantizer.setBiasUpdater(b.getBiasUpdater() == null ? null : b.getBiasUpdater().clone());
                quantizer.setGradientNormalization(b.getGradientNormalization());
                quantizer.setGradientNormalizationThreshold(b.getGradientNormalizationThreshold());
                return;
            }
        }
        quantizer.setIUpdater(new NoOp());
    }
}
