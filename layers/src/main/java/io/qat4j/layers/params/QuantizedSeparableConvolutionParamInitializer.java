package io.qat4j.layers.params;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.params.SeparableConvolutionParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.layers.DepthwiseWeightLayout;
import io.qat4j.layers.QuantSettings;

/**
 * Parameters of quantized separable convolutions: DL4J's {@link #BIAS_KEY b} ({@code [nOut]}, when
 * the layer has a bias), {@link #DEPTH_WISE_WEIGHT_KEY W} ({@code [mult, nIn, kH, kW]}) and
 * {@link #POINT_WISE_WEIGHT_KEY pW} ({@code [nOut, nIn mult, 1, 1]}) exactly as
 * {@link SeparableConvolutionParamInitializer} lays them out, then the quantizer parameters, each a
 * rank-1 view:
 * <ol>
 *   <li>the depthwise weight quantizer under the standard keys ({@link QuantizerParams#WEIGHT_STEP_KEY},
 *       {@link QuantizerParams#WEIGHT_OFFSET_KEY}; {@code nIn mult} groups per channel, channel
 *       {@code o = c mult + m});</li>
 *   <li>the pointwise weight quantizer: {@link #POINTWISE_WEIGHT_STEP_KEY}, {@link #POINTWISE_WEIGHT_OFFSET_KEY}
 *       ({@code nOut} groups per channel);</li>
 *   <li>the input quantizer under the standard keys ({@code Xmin, Xmax, Xs, Xo, Xa, Xn});</li>
 *   <li>the mid quantizer on the depthwise output: {@link #MID_INPUT_MIN_KEY}, {@link #MID_INPUT_MAX_KEY},
 *       {@link #MID_INPUT_STEP_KEY}, {@link #MID_INPUT_OFFSET_KEY}, {@link #MID_INPUT_ALPHA_KEY},
 *       {@link #MID_INPUT_COUNT_KEY} (those the input mode uses).</li>
 * </ol>
 */
public class QuantizedSeparableConvolutionParamInitializer extends SeparableConvolutionParamInitializer {

    public static final String POINTWISE_WEIGHT_STEP_KEY = QuantizerParams.POINTWISE_PREFIX + QuantizerParams.WEIGHT_STEP_KEY;
    public static final String POINTWISE_WEIGHT_OFFSET_KEY = QuantizerParams.POINTWISE_PREFIX + QuantizerParams.WEIGHT_OFFSET_KEY;
    public static final String MID_INPUT_MIN_KEY = QuantizerParams.MID_PREFIX + QuantizerParams.INPUT_MIN_KEY;
    public static final String MID_INPUT_MAX_KEY = QuantizerParams.MID_PREFIX + QuantizerParams.INPUT_MAX_KEY;
    public static final String MID_INPUT_STEP_KEY = QuantizerParams.MID_PREFIX + QuantizerParams.INPUT_STEP_KEY;
    public static final String MID_INPUT_OFFSET_KEY = QuantizerParams.MID_PREFIX + QuantizerParams.INPUT_OFFSET_KEY;
    public static final String MID_INPUT_ALPHA_KEY = QuantizerParams.MID_PREFIX + QuantizerParams.INPUT_ALPHA_KEY;
    public static final String MID_INPUT_COUNT_KEY = QuantizerParams.MID_PREFIX + QuantizerParams.INPUT_COUNT_KEY;

    private static final QuantizedSeparableConvolutionParamInitializer INSTANCE = new QuantizedSeparableConvolutionParamInitializer();

    public static QuantizedSeparableConvolutionParamInitializer getInstance() {
        return INSTANCE;
    }

    /** The quantizer parameters of a separable layer, in the order above. */
    static List<QuantizerParams.Entry> quantizerLayout(Layer layer) {
        SeparableConvolution2D c = (SeparableConvolution2D) layer;
        QuantSettings s = QuantizedFeedForwardParamInitializer.settings(layer);
        List<QuantizerParams.Entry> e = new ArrayList<>(QuantizerParams.weightLayout(s,
                QuantizerParams.weightGroups(s, c.getNIn() * c.getDepthMultiplier()), ""));
        e.addAll(QuantizerParams.weightLayout(s, QuantizerParams.weightGroups(s, c.getNOut()), QuantizerParams.POINTWISE_PREFIX));
        e.addAll(QuantizerParams.inputLayout(s, ""));
        e.addAll(QuantizerParams.inputLayout(s, QuantizerParams.MID_PREFIX));
        return e;
    }

    @Override
    public long numParams(Layer layer) {
        return super.numParams(layer) + QuantizerParams.count(quantizerLayout(layer));
    }

    @Override
    public List<String> paramKeys(Layer layer) {
        List<String> keys = new ArrayList<>(super.paramKeys(layer));
        for (QuantizerParams.Entry e : quantizerLayout(layer)) {
            keys.add(e.key());
        }
        return keys;
    }

    /**
     * DL4J's own init slices {@code pW} as "everything after W", which would swallow the quantizer
     * parameters; so the DL4J parameters are sliced here to their exact lengths.
     */
    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        Layer layer = conf.getLayer();
        SeparableConvolution2D c = (SeparableConvolution2D) layer;
        long[] at = offsets(c);
        if (at[3] != super.numParams(layer)) {
            throw new IllegalStateException("layer '" + layer.getLayerName() + "': DL4J lays out " + super.numParams(layer)
                    + " separable-convolution parameters, qat4j expected " + at[3] + " (b, W, pW); this DL4J version is not supported");
        }
        INDArray row = paramsView.reshape(1, paramsView.length());
        Map<String, INDArray> params = Collections.synchronizedMap(new LinkedHashMap<>());
        params.put(DEPTH_WISE_WEIGHT_KEY, createDepthWiseWeightMatrix(conf, slice(row, at[1], at[2]), initializeParams));
        conf.addVariable(DEPTH_WISE_WEIGHT_KEY);
        params.put(POINT_WISE_WEIGHT_KEY, createPointWiseWeightMatrix(conf, slice(row, at[2], at[3]), initializeParams));
        conf.addVariable(POINT_WISE_WEIGHT_KEY);
        if (c.hasBias()) {
            params.put(BIAS_KEY, createBias(conf, slice(row, at[0], at[1]), initializeParams));
            conf.addVariable(BIAS_KEY);
        }
        Map<String, INDArray> quant = QuantizerParams.views(quantizerLayout(layer), paramsView, at[3]);
        if (initializeParams) {
            initializeQuantizers(quant, QuantizedFeedForwardParamInitializer.settings(layer), params.get(DEPTH_WISE_WEIGHT_KEY),
                    params.get(POINT_WISE_WEIGHT_KEY));
        }
        for (String key : quant.keySet()) {
            conf.addVariable(key);
        }
        params.putAll(quant);
        return params;
    }

    /**
     * Initial quantizer parameters ({@link QuantizerParams#initialize}) from the depthwise weights
     * {@code w} (DL4J layout, quantized channels-first) and the pointwise weights {@code pw}.
     */
    public static void initializeQuantizers(Map<String, INDArray> params, QuantSettings s, INDArray w, INDArray pw) {
        QuantizerParams.initialize(QuantizerParams.unprefixed(params, ""), s, DepthwiseWeightLayout.SEPARABLE.toChannelsFirst(w), 0);
        QuantizerParams.initialize(QuantizerParams.unprefixed(params, QuantizerParams.POINTWISE_PREFIX), s, pw, 0);
        QuantizerParams.initialize(QuantizerParams.unprefixed(params, QuantizerParams.MID_PREFIX), s, null, 0);
    }

    /** Start offsets of b, W, pW and the quantizer parameters (b is empty without a bias). */
    private static long[] offsets(SeparableConvolution2D c) {
        int[] k = c.getKernelSize();
        long nInMult = c.getNIn() * c.getDepthMultiplier();
        long bias = c.hasBias() ? c.getNOut() : 0;
        long dw = nInMult * k[0] * k[1];
        return new long[] {0, bias, bias + dw, bias + dw + nInMult * c.getNOut()};
    }

    private static INDArray slice(INDArray row, long from, long to) {
        return row.get(NDArrayIndex.point(0), NDArrayIndex.interval(from, to));
    }

    @Override
    public Map<String, INDArray> getGradientsFromFlattened(NeuralNetConfiguration conf, INDArray gradientView) {
        Layer layer = conf.getLayer();
        SeparableConvolution2D c = (SeparableConvolution2D) layer;
        int[] k = c.getKernelSize();
        long[] at = offsets(c);
        INDArray row = gradientView.reshape(1, gradientView.length());
        Map<String, INDArray> grads = new LinkedHashMap<>();
        grads.put(DEPTH_WISE_WEIGHT_KEY, slice(row, at[1], at[2]).reshape('c', c.getDepthMultiplier(), c.getNIn(), k[0], k[1]));
        grads.put(POINT_WISE_WEIGHT_KEY, slice(row, at[2], at[3]).reshape('c', c.getNOut(), c.getNIn() * c.getDepthMultiplier(), 1, 1));
        if (c.hasBias()) {
            grads.put(BIAS_KEY, slice(row, at[0], at[1]));
        }
        grads.putAll(QuantizerParams.views(quantizerLayout(layer), gradientView, at[3]));
        return grads;
    }
}
