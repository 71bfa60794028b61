package io.qat4j.layers;

import java.util.Map;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.impl.BiasQuantization;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.impl.QuantizedConvBatchNormImpl;
import io.qat4j.layers.impl.WeightQuantization;
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
        QuantSettings s = settings(layer);
        Map<String, INDArray> p = layer.paramTable();
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
        return layer instanceof QuantizedConvBatchNormImpl fused ? fused.foldedWeights()
                : layer.getParam(DefaultParamInitializer.WEIGHT_KEY);
    }

    /** The bias the layer computes with: a fused conv+BN's folded bias, else its {@code b}; null without one. */
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
        QuantSettings s = settings(layer);
        Granularity g = s.isWeightPerChannel() ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
        return switch (s.getWeightMode()) {
            case FIXED, LSQ -> {
                QuantSpec spec = WeightQuantization.spec(s, outAxis);
                double[] scales = s.getWeightMode() == WeightQuantMode.FIXED ? WeightQuantization.fixedQParams(s, w, outAxis).scales()
                        : WeightQuantization.steps(s, w, outAxis, layer.paramTable(), name, false);
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
