package io.qat4j.layers.params;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Parameters of quantized convolutions: DL4J's {@code b} then {@code W} ({@code [out, in, kh, kw]})
 * exactly as {@link ConvolutionParamInitializer} lays them out, then the quantizer parameters of
 * {@link QuantizerParams} (weight groups = output channels when per-channel).
 */
public class QuantizedConvolutionParamInitializer extends ConvolutionParamInitializer {

    private static final QuantizedConvolutionParamInitializer INSTANCE = new QuantizedConvolutionParamInitializer();

    public static QuantizedConvolutionParamInitializer getInstance() {
        return INSTANCE;
    }

    private static long groups(Layer layer) {
        return QuantizerParams.weightGroups(QuantizedFeedForwardParamInitializer.settings(layer), ((ConvolutionLayer) layer).getNOut());
    }

    @Override
    public long numParams(Layer layer) {
        return super.numParams(layer) + QuantizerParams.count(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer));
    }

    @Override
    public List<String> paramKeys(Layer layer) {
        List<String> keys = new ArrayList<>(super.paramKeys(layer));
        keys.addAll(QuantizerParams.keys(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer)));
        return keys;
    }

    /**
     * DL4J's own init slices the weights as "everything after the bias", which would swallow the
     * quantizer parameters; so the base parameters are sliced here to their exact length.
     */
    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        Layer layer = conf.getLayer();
        ConvolutionLayer c = (ConvolutionLayer) layer;
        long base = super.numParams(layer);
        INDArray row = paramsView.reshape(1, paramsView.length());
        Map<String, INDArray> params = Collections.synchronizedMap(new LinkedHashMap<>());
        if (c.hasBias()) {
            params.put(BIAS_KEY, createBias(conf, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, c.getNOut())),
                    initializeParams));
            params.put(WEIGHT_KEY, createWeightMatrix(conf, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(c.getNOut(), base)),
                    initializeParams));
            conf.addVariable(WEIGHT_KEY);
            conf.addVariable(BIAS_KEY);
        } else {
            params.put(WEIGHT_KEY, createWeightMatrix(conf, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, base)),
                    initializeParams));
            conf.addVariable(WEIGHT_KEY);
        }
        Map<String, INDArray> quant = QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer),
                paramsView, super.numParams(layer));
        if (initializeParams) {
            QuantizerParams.initialize(quant, QuantizedFeedForwardParamInitializer.settings(layer), params.get(WEIGHT_KEY), 0);
        }
        for (String key : quant.keySet()) {
            conf.addVariable(key);
        }
        params.putAll(quant);
        return params;
    }

    @Override
    public Map<String, INDArray> getGradientsFromFlattened(NeuralNetConfiguration conf, INDArray gradientView) {
        Layer layer = conf.getLayer();
        ConvolutionLayer c = (ConvolutionLayer) layer;
        long base = super.numParams(layer);
        int[] k = c.getKernelSize();
        INDArray row = gradientView.reshape(1, gradientView.length());
        Map<String, INDArray> grads = new LinkedHashMap<>();
        long weightsFrom = 0;
        if (c.hasBias()) {
            grads.put(BIAS_KEY, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, c.getNOut())));
            weightsFrom = c.getNOut();
        }
        grads.put(WEIGHT_KEY, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(weightsFrom, base))
                .reshape('c', c.getNOut(), c.getNIn(), k[0], k[1]));
        grads.putAll(QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer), gradientView,
                super.numParams(layer)));
        return grads;
    }
}
