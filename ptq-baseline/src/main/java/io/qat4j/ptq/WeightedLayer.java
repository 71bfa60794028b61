package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

/**
 * A layer of a float MultiLayerNetwork or ComputationGraph that PTQ quantizes: a plain DL4J
 * {@code ConvolutionLayer}, {@code DenseLayer} or {@code OutputLayer} (the classes
 * {@code QuantizedModel.wrap} replaces).
 *
 * @param index   MultiLayerNetwork layer index, or ComputationGraph vertex index ({@link NetworkView.Vertex#index})
 * @param name    layer name ({@code "layer" + index} for an unnamed MultiLayerNetwork layer; the vertex name in a graph)
 * @param kind    CONV or DENSE (an output layer counts as DENSE)
 * @param weights number of weights n_l (without bias)
 */
public record WeightedLayer(int index, String name, Kind kind, long weights) {

    /** Layer kinds PTQ handles. */
    public enum Kind { CONV, DENSE }

    /** Output-channel axis of the weight: 0 for a conv kernel {@code [out, in, kh, kw]}, 1 for a dense {@code [in, out]}. */
    public int outAxis() {
        return kind == Kind.CONV ? 0 : 1;
    }

    /** Weighted layers of a MultiLayerNetwork or ComputationGraph, in network (topological) order. */
    public static List<WeightedLayer> of(Model net) {
        return of(NetworkView.of(net));
    }

    /** Weighted layers of a network view, in its vertex order. */
    public static List<WeightedLayer> of(NetworkView view) {
        List<WeightedLayer> out = new ArrayList<>();
        for (NetworkView.Vertex v : view.vertices()) {
            Kind kind = kindOf(v.layer());
            if (kind != null) {
                out.add(new WeightedLayer(v.index(), v.name(), kind, view.layer(v.name()).getParam(DefaultParamInitializer.WEIGHT_KEY).length()));
            }
        }
        return out;
    }

    /** CONV or DENSE for the layer classes PTQ quantizes (exactly, not subclasses), else null. */
    static Kind kindOf(Layer conf) {
        if (conf == null) {
            return null;
        }
        return conf.getClass() == ConvolutionLayer.class ? Kind.CONV
                : conf.getClass() == DenseLayer.class || conf.getClass() == OutputLayer.class ? Kind.DENSE : null;
    }

    /** The name {@code QuantizedModel} uses for layer {@code index}. */
    public static String nameOf(Layer conf, int index) {
        return conf.getLayerName() != null ? conf.getLayerName() : "layer" + index;
    }

    /** The layer of this name, or an error listing the names there are. */
    public static WeightedLayer named(List<WeightedLayer> layers, String name) {
        for (WeightedLayer l : layers) {
            if (l.name.equals(name)) {
                return l;
            }
        }
        List<String> names = new ArrayList<>();
        layers.forEach(l -> names.add(l.name));
        throw new IllegalArgumentException("no quantizable layer named '" + name + "'; the network has " + names);
    }
}
