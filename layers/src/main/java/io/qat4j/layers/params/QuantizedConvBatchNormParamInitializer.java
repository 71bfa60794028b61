package io.qat4j.layers.params;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Parameters of {@link io.qat4j.layers.conf.QuantizedConvBatchNormLayer}: {@code W} ({@code [out, in, kh, kw]}),
 * then {@code gamma}, {@code beta}, {@code mean}, {@code var} ({@code [out]} each, DL4J's batch-norm
 * keys), then the quantizer parameters. Weight steps are initialized from the folded weights.
 */
public final class QuantizedConvBatchNormParamInitializer extends ConvolutionParamInitializer {

    public static final String GAMMA_KEY = BatchNormalizationParamInitializer.GAMMA;
    public static final String BETA_KEY = BatchNormalizationParamInitializer.BETA;
    public static final String MEAN_KEY = BatchNormalizationParamInitializer.GLOBAL_MEAN;
    public static final String VAR_KEY = BatchNormalizationParamInitializer.GLOBAL_VAR;
    private static final List<String> BN_KEYS = List.of(GAMMA_KEY, BETA_KEY, MEAN_KEY, VAR_KEY);

    private static final QuantizedConvBatchNormParamInitializer INSTANCE = new QuantizedConvBatchNormParamInitializer();

    public static QuantizedConvBatchNormParamInitializer getInstance() {
        return INSTANCE;
    }

    public static boolean isRunningStat(String key) {
        return MEAN_KEY.equals(key) || VAR_KEY.equals(key) || QuantizerParams.isStateParam(key);
    }

    public static boolean isBatchNormParam(String key) {
        return Set.copyOf(BN_KEYS).contains(key);
    }

    private static long weights(ConvolutionLayer c) {
        int[] k = c.getKernelSize();
        return c.getNOut() * c.getNIn() * k[0] * k[1];
    }

    private static long groups(Layer layer) {
        return QuantizerParams.weightGroups(QuantizedFeedForwardParamInitializer.settings(layer), ((ConvolutionLayer) layer).getNOut());
    }

    @Override
    public long numParams(Layer layer) {
        ConvolutionLayer c = (ConvolutionLayer) layer;
        return weights(c) + 4 * c.getNOut() + QuantizerParams.count(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer));
    }

    @Override
    public List<String> paramKeys(Layer layer) {
        List<String> keys = new ArrayList<>();
        keys.add(WEIGHT_KEY);
        keys.addAll(BN_KEYS);
        keys.addAll(QuantizerParams.keys(QuantizedFeedForwardParamInitializer.settings(layer), groups(layer)));
        return keys;
    }

    @Override
    public List<String> biasKeys(Layer layer) {
        return Collections.emptyList();
    }

    @Override
    public boolean isBiasParam(Layer layer, String key) {
        return false;
    }

    private static Map<String, INDArray> slice(ConvolutionLayer c, INDArray flat) {
        INDArray row = flat.reshape(1, flat.length());
        Map<String, INDArray> m = new LinkedHashMap<>();
        long w = weights(c);
        int[] k = c.getKernelSize();
        m.put(WEIGHT_KEY, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, w)).reshape('c', c.getNOut(), c.getNIn(), k[0], k[1]));
        long at = w;
        for (String key : BN_KEYS) {
            m.put(key, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(at, at + c.getNOut())));
            at += c.getNOut();
        }
        return m;
    }

    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        ConvolutionLayer c = (ConvolutionLayer) conf.getLayer();
        Map<String, INDArray> params = Collections.synchronizedMap(new LinkedHashMap<>());
        Map<String, INDArray> views = slice(c, paramsView);
        long w = weights(c);
        INDArray row = paramsView.reshape(1, paramsView.length());
        params.put(WEIGHT_KEY, createWeightMatrix(conf, row.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, w)), initializeParams));
        for (String key : BN_KEYS) {
            params.put(key, views.get(key));
        }
        if (initializeParams) {
            views.get(GAMMA_KEY).assign(1);
            views.get(BETA_KEY).assign(0);
            views.get(MEAN_KEY).assign(0);
            views.get(VAR_KEY).assign(1);
        }
        Map<String, INDArray> quant = QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(c), groups(c), paramsView,
                w + 4 * c.getNOut());
        if (initializeParams) {
            QuantizerParams.initialize(quant, QuantizedFeedForwardParamInitializer.settings(c), params.get(WEIGHT_KEY), 0);
        }
        params.putAll(quant);
        for (String key : params.keySet()) {
            conf.addVariable(key);
        }
        return params;
    }

    @Override
    public Map<String, INDArray> getGradientsFromFlattened(NeuralNetConfiguration conf, INDArray gradientView) {
        ConvolutionLayer c = (ConvolutionLayer) conf.getLayer();
        Map<String, INDArray> grads = slice(c, gradientView);
        grads.putAll(QuantizerParams.views(QuantizedFeedForwardParamInitializer.settings(c), groups(c), gradientView,
                weights(c) + 4 * c.getNOut()));
        return grads;
    }
}
