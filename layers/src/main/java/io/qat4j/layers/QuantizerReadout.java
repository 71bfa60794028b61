package io.qat4j.layers;

import java.util.Map;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.params.DepthwiseConvolutionParamInitializer;
import org.deeplearning4j.nn.params.SeparableConvolutionParamInitializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.layers.impl.BiasQuantization;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.impl.QuantizedConvBatchNormImpl;
import io.qat4j.layers.impl.WeightQuantization;
import io.qat4j.layers.params.QuantizedSeparableConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.TernaryQuantizer;
import io.qat4j.ste.UniformQuantizer;

/**
 * Read-out of a trained quantized layer's quantizer state, for code outside {@code layers} (the
 * integer and ONNX export) that must not depend on {@code layers.impl}. Nothing here changes the
 * layer: no observer update, no initialization, no projection of learned steps.
 *
 * <p>Inputs: the grid {@code x^ = scale (q - zeroPoint)}, {@code q} in {@code [qmin, qmax]}, in the
 * quantizer's own code numbering (unsigned codes start at 0). Weights: integer codes and the scale
 * of each group. Weighted layers: the weights and bias the layer computes with (a fused conv+BN's
 * folded ones).
 *
 * <p>Depthwise and separable convolutions ({@link QuantizedDepthwiseConvolutionLayer},
 * {@link QuantizedSeparableConvolutionLayer}) have their own read-outs, in the layouts the integer
 * model uses: {@link #depthwiseWeightCodes} ({@code [nIn mult][kH][kW]}), {@link #pointwiseWeightCodes}
 * ({@code [nOut][nIn mult]}), {@link #depthMultiplier}, {@link #midInputGrid}; {@link #bias} and
 * {@link #inputGrid} serve them as any layer. {@link #weights} refuses them (their DL4J weight
 * layouts are not channels-first).
 */
public final class QuantizerReadout {

    private QuantizerReadout() {
    }

    /** An input quantizer's integer grid: {@code x^ = scale (q - zeroPoint)} with {@code qmin <= q <= qmax}. */
    public record InputGrid(double scale, int zeroPoint, int qmin, int qmax) {
    }

    /**
     * Integer weight codes and their scales.
     *
     * @param codes  codes in the layer's weight layout ({@code [in, out]} dense, {@code [out, in, kh, kw]} conv)
     * @param scales one scale per group: a single one per tensor, else one per output channel
     *               (a channel whose learned or measured scale is 0 keeps 0 here)
     * @param bits   1 for BINARY, 2 for TERNARY, the weight bits for FIXED and LSQ
     */
    public record WeightCodes(INDArray codes, double[] scales, int bits) {
    }

    /** The quantization settings of a quantized layer. */
    public static QuantSettings settings(Layer layer) {
        return ((QuantizedLayerConf) layer.conf().getLayer()).getQuant();
    }

    /**
     * Whether the layer's input quantizer has a range: true when its mode keeps no sample count
     * (PACT) or when it has counted samples (FIXED, LSQ, LSQ+ initialize from the first batch).
     */
    public static boolean inputObserved(Layer layer) {
        QuantSettings s = settings(layer);
        return !QuantizerParams.countsInputs(s.getInputMode())
                || layer.paramTable().get(QuantizerParams.INPUT_COUNT_KEY).getDouble(0) != 0;
    }

    /**
     * The integer grid of the layer's input quantizer: FIXED's calibrated affine range, LSQ's step
     * (zero point 0), PACT's {@code alpha / levels} (zero point 0, {@code [0, levels]} unsigned,
     * {@code [-levels, levels]} signed).
     *
     * @throws IllegalArgumentException for LSQ+ and NONE, whose real-valued offset (or absence of a
     *                                  quantizer) has no integer grid
     * @throws QuantizerCollapsedException if a learned step or alpha is NaN, infinite or {@code <= 0}
     */
    public static InputGrid inputGrid(Layer layer, String name) {
        return inputGrid(settings(layer), layer.paramTable(), name);
    }

    private static InputGrid inputGrid(QuantSettings s, Map<String, INDArray> p, String name) {
        return switch (s.getInputMode()) {
            case FIXED -> {
                QuantSpec spec = InputQuantization.spec(s);
                QParams qp = InputQuantization.fixedQParams(s, p);
                yield new InputGrid(qp.scale(0), qp.zeroPoint(0), spec.qmin(), spec.qmax());
            }
            case LSQ -> {
                QuantSpec spec = InputQuantization.spec(s);
                yield new InputGrid(InputQuantization.scale(s, p, name), 0, spec.qmin(), spec.qmax());
            }
            case PACT -> {
                int levels = InputQuantization.pactLevels(s);
                yield new InputGrid(InputQuantization.scale(s, p, name), 0, s.isInputSigned() ? -levels : 0, levels);
            }
            case LSQ_PLUS, NONE -> throw new IllegalArgumentException("layer " + name + ": " + s.getInputMode()
                    + " inputs have no integer grid");
        };
    }

    /**
     * The weights the layer computes with, in its own data type: a fused conv+BN's folded weights
     * {@code w gamma / sigma} (frozen statistics), else its {@code W}.
     */
    public static INDArray weights(Layer layer) {
        if (isDepthwise(layer)) {
            throw new IllegalArgumentException("layer '" + layer.conf().getLayer().getLayerName() + "' is a "
                    + layer.conf().getLayer().getClass().getSimpleName() + ": read its weights with QuantizerReadout.depthwiseWeights/"
                    + "depthwiseWeightCodes (and pointwiseWeights/pointwiseWeightCodes for a separable convolution)");
        }
        return layer instanceof QuantizedConvBatchNormImpl fused ? fused.foldedWeights()
                : layer.getParam(DefaultParamInitializer.WEIGHT_KEY);
    }

    /**
     * The bias the layer computes with: a fused conv+BN's folded bias, else its {@code b} (a
     * depthwise convolution's {@code [nIn mult]}, a separable convolution's {@code [nOut]}, added after
     * the pointwise part); null without one.
     */
    public static INDArray bias(Layer layer) {
        return layer instanceof QuantizedConvBatchNormImpl fused ? fused.foldedBias()
                : layer.paramTable().get(DefaultParamInitializer.BIAS_KEY);
    }

    /**
     * Integer codes and scales of {@code w} (the layer's {@link #weights}, any data type) under the
     * layer's weight quantizer: FIXED's min-max scales or LSQ's learned steps with the uniform
     * quantizer's rounding, BINARY and TERNARY with their mean-|w| scales.
     *
     * @param outAxis the output-channel axis of {@code w} (1 dense, 0 conv)
     * @throws IllegalArgumentException for weight modes NONE and LSQ+ (no integer codes)
     */
    public static WeightCodes weightCodes(Layer layer, INDArray w, int outAxis, String name) {
        return weightCodes(settings(layer), layer.paramTable(), w, outAxis, name);
    }

    /** {@link #weightCodes(Layer, INDArray, int, String)} with the weight quantizer's parameters under the standard keys. */
    private static WeightCodes weightCodes(QuantSettings s, Map<String, INDArray> params, INDArray w, int outAxis, String name) {
        Granularity g = s.isWeightPerChannel() ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
        return switch (s.getWeightMode()) {
            case FIXED, LSQ -> {
                QuantSpec spec = WeightQuantization.spec(s, outAxis);
                double[] scales = s.getWeightMode() == WeightQuantMode.FIXED ? WeightQuantization.fixedQParams(s, w, outAxis).scales()
                        : WeightQuantization.steps(s, w, outAxis, params, name, false);
                yield new WeightCodes(new UniformQuantizer(spec).quantize(w, new QParams(scales, new int[scales.length])), scales,
                        s.getWeightBits());
            }
            case BINARY -> {
                BinaryQuantizer b = new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, g, outAxis);
                yield new WeightCodes(b.codes(w), b.scales(w), 1);
            }
            case TERNARY -> {
                TernaryQuantizer t = new TernaryQuantizer(g, outAxis);
                yield new WeightCodes(t.codes(w), t.scales(w), 2);
            }
            case NONE, LSQ_PLUS -> throw new IllegalArgumentException("layer " + name + ": weight mode " + s.getWeightMode()
                    + " has no integer weight codes");
        };
    }

    private static boolean isDepthwise(Layer layer) {
        org.deeplearning4j.nn.conf.layers.Layer c = layer.conf().getLayer();
        return c instanceof QuantizedDepthwiseConvolutionLayer || c instanceof QuantizedSeparableConvolutionLayer;
    }

    private static DepthwiseWeightLayout depthwiseLayout(Layer layer, String name) {
        org.deeplearning4j.nn.conf.layers.Layer c = layer.conf().getLayer();
        if (!isDepthwise(layer)) {
            throw new IllegalArgumentException("layer " + name + " is a " + c.getClass().getSimpleName()
                    + ", not a QuantizedDepthwiseConvolutionLayer or QuantizedSeparableConvolutionLayer");
        }
        return DepthwiseWeightLayout.of(c);
    }

    private static QuantizedSeparableConvolutionLayer separable(Layer layer, String name) {
        if (!(layer.conf().getLayer() instanceof QuantizedSeparableConvolutionLayer sep)) {
            throw new IllegalArgumentException("layer " + name + " is a " + layer.conf().getLayer().getClass().getSimpleName()
                    + ", not a QuantizedSeparableConvolutionLayer");
        }
        return sep;
    }

    /** The depth multiplier {@code mult} of a quantized depthwise or separable convolution (output channels {@code nIn mult}). */
    public static int depthMultiplier(Layer layer, String name) {
        return switch (depthwiseLayout(layer, name)) {
            case DEPTHWISE -> ((QuantizedDepthwiseConvolutionLayer) layer.conf().getLayer()).getDepthMultiplier();
            case SEPARABLE -> ((QuantizedSeparableConvolutionLayer) layer.conf().getLayer()).getDepthMultiplier();
        };
    }

    /**
     * The float depthwise weights of a quantized depthwise or separable convolution, channels first:
     * a new array {@code [nIn mult, kH, kW]} in the layer's data type, row {@code o = c mult + m} the
     * filter that input channel {@code c} convolves with for output channel {@code o}
     * ({@link DepthwiseWeightLayout}).
     */
    public static INDArray depthwiseWeights(Layer layer, String name) {
        return depthwiseLayout(layer, name).toChannelsFirst(layer.getParam(DepthwiseConvolutionParamInitializer.WEIGHT_KEY));
    }

    /**
     * Integer codes of a quantized depthwise or separable convolution's depthwise weights under its
     * weight quantizer (zero point 0, symmetric narrow range for FIXED/LSQ).
     *
     * @return codes {@code [nIn mult, kH, kW]} (row {@code o = c mult + m}, as {@link #depthwiseWeights}), in the
     *         weights' data type holding integers; scales: one per output channel {@code o} (per-channel settings)
     *         or a single one (per tensor); bits as in {@link WeightCodes}
     * @throws IllegalArgumentException for another layer type, or weight modes NONE and LSQ+
     */
    public static WeightCodes depthwiseWeightCodes(Layer layer, String name) {
        INDArray w = depthwiseWeights(layer, name);   // checks the layer type first
        return weightCodes(settings(layer), layer.paramTable(), w, 0, name);
    }

    /**
     * The float pointwise weights of a quantized separable convolution: a new array {@code [nOut, nIn mult]}
     * (DL4J's {@code pW} {@code [nOut, nIn mult, 1, 1]} without its 1x1 kernel axes).
     */
    public static INDArray pointwiseWeights(Layer layer, String name) {
        QuantizedSeparableConvolutionLayer c = separable(layer, name);
        return layer.getParam(SeparableConvolutionParamInitializer.POINT_WISE_WEIGHT_KEY).dup('c')
                .reshape('c', c.getNOut(), c.getNIn() * c.getDepthMultiplier());
    }

    /**
     * Integer codes of a quantized separable convolution's pointwise weights under its pointwise
     * weight quantizer (parameters {@code pWs}/{@code pWo}).
     *
     * @return codes {@code [nOut, nIn mult]}; scales one per output channel (per-channel settings) or a single one
     * @throws IllegalArgumentException for another layer type, or weight modes NONE and LSQ+
     */
    public static WeightCodes pointwiseWeightCodes(Layer layer, String name) {
        separable(layer, name);
        return weightCodes(settings(layer), QuantizerParams.unprefixed(layer.paramTable(), QuantizerParams.POINTWISE_PREFIX),
                pointwiseWeights(layer, name), 0, name + "/pointwise");
    }

    /** Whether a quantized separable convolution's mid quantizer has a range (as {@link #inputObserved}). */
    public static boolean midInputObserved(Layer layer, String name) {
        QuantSettings m = separable(layer, name).midQuantizerSettings();
        return !QuantizerParams.countsInputs(m.getInputMode())
                || layer.paramTable().get(QuantizedSeparableConvolutionParamInitializer.MID_INPUT_COUNT_KEY).getDouble(0) != 0;
    }

    /**
     * The integer grid of a quantized separable convolution's mid quantizer, the int8 tensor between
     * its depthwise and pointwise nodes (as {@link #inputGrid}; its signedness is its own).
     *
     * @throws IllegalArgumentException for another layer type, or input modes LSQ+ and NONE
     * @throws QuantizerCollapsedException if a learned step or alpha is NaN, infinite or {@code <= 0}
     */
    public static InputGrid midInputGrid(Layer layer, String name) {
        return inputGrid(separable(layer, name).midQuantizerSettings(),
                QuantizerParams.unprefixed(layer.paramTable(), QuantizerParams.MID_PREFIX),
                QuantizedSeparableConvolutionLayer.midQuantizerName(name));
    }

    /**
     * A quantized dense/output layer's pre-activations {@code Q(x) Q(W) + Q(b)} for its input {@code x}
     * (after any preprocessor), in float64 with the layer's fake-quantized input, weights and bias as
     * at inference: what an integer model's dequantized output approximates.
     */
    public static INDArray fakeQuantDenseOutput(Layer layer, INDArray x, String name) {
        QuantSettings s = settings(layer);
        Map<String, INDArray> p = layer.paramTable();
        INDArray xq = InputQuantization.forward(s, x.castTo(DataType.DOUBLE), false, p, name);
        INDArray w = layer.getParam(DefaultParamInitializer.WEIGHT_KEY).castTo(DataType.DOUBLE);
        INDArray wq = s.quantizesWeights() ? WeightQuantization.forward(s, w, 1, p, name, false) : w;
        INDArray b = BiasQuantization.forward(s, layer.getParam(DefaultParamInitializer.BIAS_KEY).castTo(DataType.DOUBLE), w, 1, p,
                name, false);
        return xq.mmul(wq).addRowVector(b.reshape(1, w.size(1)));
    }
}
