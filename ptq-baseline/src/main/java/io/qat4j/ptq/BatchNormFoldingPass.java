package io.qat4j.ptq;

import java.util.LinkedHashMap;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.BatchNormFolding;

/**
 * PTQ pass: folds every inference-mode BatchNormalization into the layer that produces its input
 * where {@link BatchNormFolding#folds} or {@link BatchNormFolding#foldsIntoDepthwise} allows (a
 * plain convolution, dense, depthwise or separable convolution with identity activation, no
 * preprocessor in between) and the batch norm is that layer's only consumer (in a graph, another
 * consumer or a network output would see the folded values), with {@link BatchNormFolding#fold}, or
 * {@link BatchNormFolding#foldDepthwise} (a depthwise convolution's W per output channel
 * {@code c mult + m}, a separable convolution's pointwise pW; the rule {@code QuantizedModel.wrap}
 * applies too). In a MultiLayerNetwork that is a layer directly followed by its
 * batch norm. The batch norm's place becomes an identity {@code ActivationLayer} with the same
 * name, so layer indices, preprocessors and graph wiring stay valid; the layer gets a bias if it
 * had none. The input network is not modified. The folded network computes the same function in
 * inference up to float rounding (tested: max difference of the softmax outputs below 1e-5).
 */
public final class BatchNormFoldingPass {

    /**
     * The folded network (same kind as the input) and which batch norm went into which layer
     * (batch-norm name to layer name).
     */
    public record Result(Model model, Map<String, String> folded) {

        /** The folded MultiLayerNetwork; an error naming {@link #model()} when the input was a graph. */
        public MultiLayerNetwork network() {
            return NetworkView.multiLayer(model, "BatchNormFoldingPass.Result");
        }

        /** The folded ComputationGraph; an error naming {@link #model()} when the input was a MultiLayerNetwork. */
        public ComputationGraph graph() {
            return NetworkView.graph(model, "BatchNormFoldingPass.Result");
        }
    }

    private BatchNormFoldingPass() {
    }

    /** Folds the batch norms of a MultiLayerNetwork or ComputationGraph (not modified) into a new network. */
    public static Result apply(Model net) {
        NetworkView view = NetworkView.of(net);
        Map<String, String> producers = new LinkedHashMap<>();   // layer -> its batch norm
        Map<String, String> names = new LinkedHashMap<>();       // batch norm -> layer
        for (NetworkView.Vertex bn : view.vertices()) {
            if (!(bn.layer() instanceof BatchNormalization) || bn.inputs().size() != 1 || !view.hasVertex(bn.inputs().get(0))) {
                continue;
            }
            NetworkView.Vertex producer = view.vertex(bn.inputs().get(0));
            NetworkView.Vertex sole = view.soleConsumer(producer.name());
            if (producer.layer() != null && sole != null && sole.name().equals(bn.name())
                    && (BatchNormFolding.folds(producer.layer(), bn.layer(), bn.preProcessor())
                    || BatchNormFolding.foldsIntoDepthwise(producer.layer(), bn.layer(), bn.preProcessor()))) {
                producers.put(producer.name(), bn.name());
                names.put(bn.name(), producer.name());
            }
        }
        Model folded = view.rebuild((name, layer) -> {
            if (producers.containsKey(name)) {
                if (layer instanceof ConvolutionLayer c) {
                    c.setHasBias(true);
                } else {
                    ((DenseLayer) layer).setHasBias(true);
                }
                return layer;
            }
            return names.containsKey(name) ? BatchNormFolding.placeholder(name) : layer;
        });
        NetworkView out = NetworkView.of(folded);
        for (NetworkView.Vertex v : view.vertices()) {
            if (v.layer() == null || names.containsKey(v.name())) {
                continue;
            }
            if (producers.containsKey(v.name())) {
                org.deeplearning4j.nn.api.Layer from = view.layer(v.name());
                org.deeplearning4j.nn.api.Layer bn = view.layer(producers.get(v.name()));
                boolean depthwise = WeightedLayer.kindOf(v.layer()) == WeightedLayer.Kind.DEPTHWISE
                        || WeightedLayer.kindOf(v.layer()) == WeightedLayer.Kind.SEPARABLE;
                BatchNormFolding.Folded f = depthwise ? BatchNormFolding.foldDepthwise(from, bn) : BatchNormFolding.fold(from, bn);
                String key = depthwise ? BatchNormFolding.foldedWeightKey(v.layer()) : DefaultParamInitializer.WEIGHT_KEY;
                org.deeplearning4j.nn.api.Layer l = out.layer(v.name());
                for (Map.Entry<String, INDArray> e : from.paramTable().entrySet()) {   // a separable layer's W stays as it is
                    if (l.paramTable().containsKey(e.getKey())) {
                        l.setParam(e.getKey(), e.getValue().dup());
                    }
                }
                l.setParam(key, f.weight().reshape(l.getParam(key).shape()));
                l.setParam(DefaultParamInitializer.BIAS_KEY, f.bias().reshape(l.getParam(DefaultParamInitializer.BIAS_KEY).shape()));
            } else {
                out.copyParams(view, v.name());
            }
        }
        return new Result(folded, names);
    }
}
