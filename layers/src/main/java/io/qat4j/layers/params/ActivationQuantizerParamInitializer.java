package io.qat4j.layers.params;

import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Parameters of an activation quantizer: only its input quantizer's ({@link QuantizerParams}). */
public final class ActivationQuantizerParamInitializer implements ParamInitializer {

    private static final ActivationQuantizerParamInitializer INSTANCE = new ActivationQuantizerParamInitializer();

    public static ActivationQuantizerParamInitializer getInstance() {
        return INSTANCE;
    }

    @Override
    public long numParams(NeuralNetConfiguration conf) {
        return numParams(conf.getLayer());
    }

    @Override
    public long numParams(Layer layer) {
        return QuantizerParams.count(QuantizedFeedForwardParamInitializer.settings(layer), 1);
    }

    @Override
    public List<String> paramKeys(Layer layer) {
        return QuantizerParams.keys(QuantizedFeedForwardParamInitializer.settings(layer), 1);
    }

    @Override
    public List<String> weightKeys(Layer layer) {
        return Collections.emptyList();
    }

    @Override
    public List<String> biasKeys(Layer layer) {
        return Collections.emptyList();
    }

    @Override
    public boolean isWeightParam(Layer layer, String key) {
        return false;
    }

    @Override
    public boolean isBiasParam(Layer layer, String key) {
        return false;
    }

    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        Map<String, INDArray> params = QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(conf.getLayer()), 1, paramsView, 0);
        if (initializeParams) {
            QuantizerParams.initialize(params, QuantizedFeedForwardParamInitializer.settings(conf.getLayer()), null, 0);
        }
        for (String key : params.keySet()) {
            conf.addVariable(key);
        }
        return Collections.synchronizedMap(params);
    }

    @Override
    public Map<String, INDArray> getGradientsFromFlattened(NeuralNetConfiguration conf, INDArray gradientView) {
        return QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(conf.getLayer()), 1, gradientView, 0);
    }
}
