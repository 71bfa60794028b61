package io.qat4j.layers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedOutputLayer;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.impl.WeightQuantization;

/**
 * Turns a trained float DL4J network into its QAT version, and switches quantization and observers
 * on and off afterwards.
 *
 * <p>{@link #wrap} replaces every {@code ConvolutionLayer}, {@code DenseLayer} and
 * {@code OutputLayer} by its quantized twin with the plan's settings, copies all parameters (the
 * network computes the same function when quantization is disabled), initializes weight
 * steps from the copied weights and input quantizers from the plan's calibrated ranges. Layers
 * without weights (pooling, activation, dropout) pass quantized values through. Every other layer
 * is kept in float and reported by name with the reason, never silently.
 */
public final class QuantizedModel {

    /** The wrapped network and what happened to each layer. */
    public record Wrapped<T extends Model>(T network, List<String> quantized, Map<String, String> keptInFloat) {
        /** A one-line summary for logs. */
        public String summary() {
            return "quantized " + quantized.size() + " layers " + quantized + (keptInFloat.isEmpty() ? ""
                    : "; kept in float: " + keptInFloat);
        }
    }

    private QuantizedModel() {
    }

    /** Wraps a MultiLayerNetwork (the original is not modified). */
    public static Wrapped<MultiLayerNetwork> wrap(MultiLayerNetwork net, QuantizationPlan plan) {
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
        List<String> quantized = new ArrayList<>();
        Map<String, String> kept = new LinkedHashMap<>();
        for (int i = 0; i < conf.getConfs().size(); i++) {
            NeuralNetConfiguration nnc = conf.getConf(i);
            nnc.setLayer(replace(nnc.getLayer(), name(nnc.getLayer(), i), plan, quantized, kept));
        }
        MultiLayerNetwork q = new MultiLayerNetwork(conf);
        q.init();
        for (int i = 0; i < net.getnLayers(); i++) {
            copyParams(net.getLayer(i), q.getLayer(i));
            initQuantizers(q.getLayer(i), name(conf.getConf(i).getLayer(), i), plan);
        }
        return new Wrapped<>(q, Collections.unmodifiableList(quantized), Collections.unmodifiableMap(kept));
    }

    /** Wraps a ComputationGraph (the original is not modified). */
    public static Wrapped<ComputationGraph> wrap(ComputationGraph graph, QuantizationPlan plan) {
        ComputationGraphConfiguration conf = graph.getConfiguration().clone();
        List<String> quantized = new ArrayList<>();
        Map<String, String> kept = new LinkedHashMap<>();
        for (Map.Entry<String, GraphVertex> e : conf.getVertices().entrySet()) {
            if (e.getValue() instanceof LayerVertex lv) {
                NeuralNetConfiguration nnc = lv.getLayerConf();
                nnc.setLayer(replace(nnc.getLayer(), e.getKey(), plan, quantized, kept));
            }
        }
        ComputationGraph q = new ComputationGraph(conf);
        q.init();
        for (Layer layer : graph.getLayers()) {
            String name = layer.conf().getLayer().getLayerName();
            copyParams(layer, q.getLayer(name));
            initQuantizers(q.getLayer(name), name, plan);
        }
        return new Wrapped<>(q, Collections.unmodifiableList(quantized), Collections.unmodifiableMap(kept));
    }

    private static String name(org.deeplearning4j.nn.conf.layers.Layer layer, int index) {
        return layer.getLayerName() != null ? layer.getLayerName() : "layer" + index;
    }

    private static org.deeplearning4j.nn.conf.layers.Layer replace(org.deeplearning4j.nn.conf.layers.Layer layer, String name,
                                                                    QuantizationPlan plan, List<String> quantized, Map<String, String> kept) {
        if (layer instanceof QuantizedLayerConf) {
            kept.put(name, "already quantized; left as configured");
            return layer;
        }
        boolean weighted = layer.getClass() == ConvolutionLayer.class || layer.getClass() == DenseLayer.class
                || layer.getClass() == OutputLayer.class;
        if (weighted && plan.keepsFloat(name)) {
            kept.put(name, "kept in float by the plan");
            return layer;
        }
        try {
            if (layer.getClass() == ConvolutionLayer.class) {
                quantized.add(name);
                return QuantizedConvolutionLayer.of((ConvolutionLayer) layer, plan.settingsFor(name));
            }
            if (layer.getClass() == DenseLayer.class) {
                quantized.add(name);
                return QuantizedDenseLayer.of((DenseLayer) layer, plan.settingsFor(name));
            }
            if (layer.getClass() == OutputLayer.class) {
                quantized.add(name);
                return QuantizedOutputLayer.of((OutputLayer) layer, plan.settingsFor(name));
            }
        } catch (IllegalArgumentException e) {
            quantized.remove(name);
            kept.put(name, e.getMessage());
            return layer;
        }
        if (layer instanceof SubsamplingLayer || layer instanceof ActivationLayer || layer instanceof DropoutLayer
                || layer instanceof GlobalPoolingLayer) {
            return layer;   // no weights: quantized values pass through
        }
        if (layer instanceof BatchNormalization) {
            kept.put(name, "BatchNormalization stays in float: fold it into the preceding convolution or dense layer first "
                    + "(io.qat4j.layers.BatchNormFolding); QAT-time BN folding is not implemented yet");
            return layer;
        }
        kept.put(name, layer.getClass().getSimpleName() + " has no quantized implementation");
        return layer;
    }

    private static void copyParams(Layer from, Layer to) {
        for (Map.Entry<String, INDArray> e : from.paramTable().entrySet()) {
            to.setParam(e.getKey(), e.getValue().dup());
        }
    }

    private static void initQuantizers(Layer layer, String name, QuantizationPlan plan) {
        if (!(layer.conf().getLayer() instanceof QuantizedLayerConf q)) {
            return;
        }
        QuantSettings s = q.getQuant();
        INDArray w = layer.paramTable().get("W");
        if (w != null) {
            WeightQuantization.initialize(s, w, w.rank() == 4 ? 0 : 1, layer.paramTable());
        }
        QuantizationPlan.Range range = plan.inputRange(name);
        if (range != null) {
            InputQuantization.setRange(s, layer.paramTable(), range.min(), range.max());
        }
    }

    /** Every quantized layer configuration of a network, in layer order. */
    public static List<QuantizedLayerConf> quantizedLayers(Model model) {
        List<QuantizedLayerConf> out = new ArrayList<>();
        Layer[] layers = model instanceof MultiLayerNetwork m ? m.getLayers() : ((ComputationGraph) model).getLayers();
        for (Layer l : layers) {
            if (l.conf().getLayer() instanceof QuantizedLayerConf q) {
                out.add(q);
            }
        }
        return out;
    }

    /** Switches fake quantization on or off in every quantized layer (parameters are kept). */
    public static void setQuantizationEnabled(Model model, boolean enabled) {
        for (QuantizedLayerConf q : quantizedLayers(model)) {
            q.getQuant().setEnabled(enabled);
        }
    }

    /** Freezes (false) or resumes (true) the FIXED input observers of every quantized layer. */
    public static void setObserversEnabled(Model model, boolean enabled) {
        for (QuantizedLayerConf q : quantizedLayers(model)) {
            q.getQuant().setObserverEnabled(enabled);
        }
    }

    /** Switches fake quantization of one named layer. */
    public static void setQuantizationEnabled(Model model, String layerName, boolean enabled) {
        Layer[] layers = model instanceof MultiLayerNetwork m ? m.getLayers() : ((ComputationGraph) model).getLayers();
        for (Layer l : layers) {
            if (layerName.equals(l.conf().getLayer().getLayerName()) && l.conf().getLayer() instanceof QuantizedLayerConf q) {
                q.getQuant().setEnabled(enabled);
                return;
            }
        }
        throw new IllegalArgumentException("no quantized layer named '" + layerName + "'");
    }
}
