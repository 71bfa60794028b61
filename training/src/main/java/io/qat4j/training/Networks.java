package io.qat4j.training;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * What qat4j does with a DL4J network of either kind, a {@link MultiLayerNetwork} or a
 * {@link ComputationGraph}, each operation one switch over {@link Kind}: inference, one training
 * step, the layers, the output layer. Every qat4j step (train, PTQ, sensitivity, QAT, export)
 * takes either kind.
 */
public final class Networks {

    /** The two kinds of DL4J network. */
    public enum Kind {
        /** {@link MultiLayerNetwork}: a stack of layers. */
        MULTI_LAYER,
        /** {@link ComputationGraph}: layers and vertices (add, merge, ...) in a directed acyclic graph. */
        GRAPH;

        /** "MultiLayerNetwork" or "ComputationGraph", DL4J's class names. */
        public String dl4jName() {
            return switch (this) {
                case MULTI_LAYER -> "MultiLayerNetwork";
                case GRAPH -> "ComputationGraph";
            };
        }
    }

    private Networks() {
    }

    /** The kind of {@code net}; any other {@link Model} (a single layer) is an IllegalArgumentException. */
    public static Kind kind(Model net) {
        if (net instanceof MultiLayerNetwork) {
            return Kind.MULTI_LAYER;
        }
        if (net instanceof ComputationGraph) {
            return Kind.GRAPH;
        }
        throw new IllegalArgumentException("not a DL4J network (MultiLayerNetwork or ComputationGraph): " + net.getClass().getName());
    }

    /** Inference output ({@code train = false}) of a single-input, single-output network, {@code [N, outputs]} for a classifier. */
    public static INDArray output(Model net, INDArray features) {
        return switch (kind(net)) {
            case MULTI_LAYER -> ((MultiLayerNetwork) net).output(features, false);
            case GRAPH -> ((ComputationGraph) net).outputSingle(false, features);
        };
    }

    /** One training step on {@code batch} (DL4J's {@code fit(DataSet)}: forward, backward, updater). */
    public static void fit(Model net, DataSet batch) {
        switch (kind(net)) {
            case MULTI_LAYER -> ((MultiLayerNetwork) net).fit(batch);
            case GRAPH -> ((ComputationGraph) net).fit(batch);
        }
    }

    /** Sets the learning rate of every layer's updater. */
    public static void setLearningRate(Model net, double learningRate) {
        switch (kind(net)) {
            case MULTI_LAYER -> ((MultiLayerNetwork) net).setLearningRate(learningRate);
            case GRAPH -> ((ComputationGraph) net).setLearningRate(learningRate);
        }
    }

    /** The layers (MultiLayerNetwork order, or the graph's topological order). */
    public static Layer[] layers(Model net) {
        return switch (kind(net)) {
            case MULTI_LAYER -> ((MultiLayerNetwork) net).getLayers();
            case GRAPH -> ((ComputationGraph) net).getLayers();
        };
    }

    /** The output layer (of a graph: its first output). */
    public static Layer outputLayer(Model net) {
        return switch (kind(net)) {
            case MULTI_LAYER -> ((MultiLayerNetwork) net).getOutputLayer();
            case GRAPH -> ((ComputationGraph) net).getOutputLayer(0);
        };
    }

    /** An independent copy (parameters, configuration and updater state). */
    @SuppressWarnings("unchecked")
    public static <N extends Model> N copy(N net) {
        return switch (kind(net)) {
            case MULTI_LAYER -> (N) ((MultiLayerNetwork) net).clone();
            case GRAPH -> (N) ((ComputationGraph) net).clone();
        };
    }

    /** "a MultiLayerNetwork of 7 layers" or "a ComputationGraph of 12 vertices (inputs [in], outputs [out])". */
    public static String describe(Model net) {
        return switch (kind(net)) {
            case MULTI_LAYER -> "a MultiLayerNetwork of " + ((MultiLayerNetwork) net).getnLayers() + " layers";
            case GRAPH -> {
                ComputationGraph g = (ComputationGraph) net;
                yield "a ComputationGraph of " + g.getVertices().length + " vertices (inputs " + g.getConfiguration().getNetworkInputs()
                        + ", outputs " + g.getConfiguration().getNetworkOutputs() + ")";
            }
        };
    }

    /**
     * Checks that {@code net} can be trained with labels: its output layer has a loss function
     * (an {@code OutputLayer}, {@code LossLayer}, ...).
     *
     * @throws IllegalArgumentException naming the output layer and its type otherwise
     */
    public static void checkTrainable(Model net, String what) {
        Layer out = outputLayer(net);
        if (!(out instanceof IOutputLayer)) {
            throw new IllegalArgumentException(what + " cannot be trained: its output layer '" + out.conf().getLayer().getLayerName() + "' ("
                    + out.conf().getLayer().getClass().getSimpleName() + ") has no loss function; end the network in an OutputLayer or "
                    + "LossLayer (a Keras model needs its training configuration: save it after model.compile(loss=...))");
        }
    }
}
