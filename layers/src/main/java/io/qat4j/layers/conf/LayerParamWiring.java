package io.qat4j.layers.conf;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.function.Supplier;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.layers.AbstractLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.regularization.Regularization;

import io.qat4j.layers.params.QuantizerParams;

/**
 * How a quantized layer configuration hands its parameters to DL4J, the same for every one (they
 * extend different DL4J classes, so this is shared by delegation): a fresh implementation wired to
 * its parameter views, NoOp updaters for quantizer state (observer ranges, counts), and no
 * regularization on quantizer parameters.
 */
final class LayerParamWiring {

    private LayerParamWiring() {
    }

    /** Connects a freshly constructed layer implementation to listeners, index and its parameter views. */
    static <L extends AbstractLayer<?>> L wire(L layer, NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int layerIndex,
                                              INDArray layerParamsView, boolean initializeParams, ParamInitializer initializer) {
        layer.setListeners(listeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        layer.setParamTable(initializer.init(conf, layerParamsView, initializeParams));
        layer.setConf(conf);
        return layer;
    }

    /** NoOp for state the layer updates itself (observer ranges, counts), else the layer's updater. */
    static IUpdater updater(String param, boolean isState, Supplier<IUpdater> base) {
        return isState ? new NoOp() : base.get();
    }

    /** No regularization (weight decay) on quantizer parameters. */
    static List<Regularization> regularization(String param, Supplier<List<Regularization>> base) {
        return QuantizerParams.isQuantizerParam(param) ? Collections.emptyList() : base.get();
    }
}
