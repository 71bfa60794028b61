package io.qat4j.layers.params;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.QuantizedLayerConf;

/**
 * Parameters of quantized dense and output layers: DL4J's {@code W} ({@code [nIn, nOut]}) and
 * {@code b} exactly as {@link DefaultParamInitializer} lays them out, then the quantizer parameters
 * of {@link QuantizerParams} (weight groups = nOut when per-channel).
 */
public class QuantizedFeedForwardParamInitializer extends DefaultParamInitializer {

    private static final QuantizedFeedForwardParamInitializer INSTANCE = new QuantizedFeedForwardParamInitializer();

    public static QuantizedFeedForwardParamInitializer getInstance() {
        return INSTANCE;
    }

    static QuantSettings settings(Layer layer) {
        if (!(layer instanceof QuantizedLayerConf q)) {
            throw new IllegalArgumentException("expected a quantized layer configuration, got " + layer.getClass().getName());
        }
        return q.getQuant();
    }

    private static long groups(Layer layer) {
        return QuantizerParams.weightGroups(settings(layer), ((FeedForwardLayer) layer).getNOut());
    }

    @Override
    public long numParams(Layer layer) {
        return super.numParams(layer) + QuantizerParams.count(settings(layer), groups(layer));
    }

    @Override
    public List<String> paramKeys(Layer layer) {
        List<String> keys = new ArrayList<>(super.paramKeys(layer));
        keys.addAll(QuantizerParams.keys(settings(layer), groups(layer)));
        return keys;
    }

    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        Map<String, INDArray> params = super.init(conf, paramsView, initializeParams);
        Layer layer = conf.getLayer();
        Map<String, INDArray> quant = QuantizerParams.views(settings(layer), groups(layer), paramsView, super.numParams(layer));
        if (initializeParams) {
            QuantizerParams.initialize(quant, settings(layer), params.get(WEIGHT_KEY), 1);
        }
        for (String key : quant.keySet()) {
            conf.addVariable(key);
        }
        params.putAll(quant);
        return params;
    }

    @Override
    public Map<String, INDArray> getGradientsFromFlattened(NeuralNetConfiguration conf, INDArray gradientView) {
        Map<String, INDArray> grads = super.getGradientsFromFlattened(conf, gradientView);
        Layer layer = conf.getLayer();
        grads.putAll(QuantizerParams.views(settings(layer), groups(layer), gradientView, super.numParams(layer)));
        return grads;
    }
}
