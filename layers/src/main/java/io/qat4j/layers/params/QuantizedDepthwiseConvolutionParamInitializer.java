package io.qat4j.layers.params;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.params.DepthwiseConvolutionParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.DepthwiseWeightLayout;

/**
 * Parameters of quantized depthwise convolutions: DL4J's {@link #BIAS_KEY b} ({@code [nIn mult]},
 * when the layer has a bias) and {@link #WEIGHT_KEY W} ({@code [kH, kW, nIn, mult]}) exactly as
 * {@link DepthwiseConvolutionParamInitializer} lays them out, then the quantizer parameters of
 * {@link QuantizerParams} (weight groups = the {@code nIn mult} output channels when per-channel, in
 * output-channel order {@code o = c mult + m}). Weight steps are initialized from the weights in
 * {@link DepthwiseWeightLayout#toChannelsFirst channels-first} layout, output axis 0.
 */
public class QuantizedDepthwiseConvolutionParamInitializer extends DepthwiseConvolutionParamInitializer {

    private static final QuantizedDepthwiseConvolutionParamInitializer INSTANCE = new QuantizedDepthwiseConvolutionParamInitializer();

    public static QuantizedDepthwiseConvolutionParamInitializer getInstance() {
        return INSTANCE;
    }

    private static long groups(Layer layer) {
        DepthwiseConvolution2D d = (DepthwiseConvolution2D) layer;
        return QuantizerParams.weightGroups(QuantizedFeedForwardParamInitializer.settings(layer), d.getNIn() * d.getDepthMultiplier());
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

    /** DL4J's init slices {@code b} and {@code W} to their exact lengths, so the quantizer parameters follow them. */
    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        Layer layer = conf.getLayer();
        Map<String, INDArray> params = super.init(conf, paramsView, initializeParams);
        Map<String, INDArray> quant = QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer),
                paramsView, super.numParams(layer));
        if (initializeParams) {
            QuantizerParams.initialize(quant, QuantizedFeedForwardParamInitializer.settings(layer),
                    DepthwiseWeightLayout.DEPTHWISE.toChannelsFirst(params.get(WEIGHT_KEY)), 0);
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
        Map<String, INDArray> grads = super.getGradientsFromFlattened(conf, gradientView);
        grads.putAll(QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer), gradientView,
                super.numParams(layer)));
        return grads;
    }
}
