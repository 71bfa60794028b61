package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.TernaryQuantizer;

/**
 * Fake quantization of a layer's bias onto the int32 grid the integer model stores it on:
 * {@code b^ = round(b / (s_x s_w[c])) s_x s_w[c]}, rounding half to even, with a straight-through
 * gradient (dL/db = dL/db^; the bias gives the scales no gradient). With it, the fake-quant
 * accumulator equals the exported int32 accumulator times {@code s_x s_w[c]}, so the only difference
 * left between the QAT network and its integer model is the requantization rounding. That matters
 * at 2-3 bits, where {@code s_x s_w} is a sizeable fraction of the output step.
 *
 * <p>The bias stays float when the layer does not quantize both its input and its weights, when
 * the input quantizer has no integer zero point (LSQ+), or before the input quantizer has seen data.
 */
public final class BiasQuantization {

    private BiasQuantization() {
    }

    /**
     * {@code s_x s_w[c]} for each of the {@code channels} output channels, or {@code null} when the
     * bias stays float (see the class comment).
     *
     * @param w weights as the layer quantizes them (folded ones for a conv+BN layer)
     */
    public static double[] accumulatorScales(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params) {
        if (!s.isQuantizeBias() || !s.quantizesWeights() || !s.quantizesInputs()) {
            return null;
        }
        double sx = inputScale(s, params);
        if (!(sx > 0)) {
            return null;
        }
        double[] sw = weightScales(s, w, outAxis, params);
        if (sw == null) {
            return null;
        }
        int channels = (int) w.size(outAxis);
        double[] acc = new double[channels];
        for (int c = 0; c < channels; c++) {
            double scale = sw.length == 1 ? sw[0] : sw[c];
            acc[c] = sx * (scale > 0 ? scale : LsqQuantizer.MIN_STEP);   // an all-zero channel: any positive scale
        }
        return acc;
    }

    /** The fake-quantized bias (a new array of {@code b}'s type and shape), or {@code b} itself when it stays float. */
    public static INDArray forward(QuantSettings s, INDArray b, INDArray w, int outAxis, Map<String, INDArray> params) {
        if (b == null) {
            return null;
        }
        double[] scales = accumulatorScales(s, w, outAxis, params);
        if (scales == null) {
            return b;
        }
        double[] v = FastQuant.read(b);
        if (v.length != scales.length) {
            throw new IllegalArgumentException("bias has " + v.length + " values for " + scales.length + " output channels");
        }
        for (int c = 0; c < v.length; c++) {
            v[c] = Math.rint(v[c] / scales[c]) * scales[c];
        }
        return FastQuant.write(v, b.shape(), b.dataType());
    }

    /** The input scale {@code s_x}, or NaN when it is not (yet) defined. */
    private static double inputScale(QuantSettings s, Map<String, INDArray> params) {
        InputQuantMode m = s.getInputMode();
        if (QuantizerParams.countsInputs(m) && params.get(QuantizerParams.INPUT_COUNT_KEY).getDouble(0) == 0) {
            return Double.NaN;
        }
        return switch (m) {
            case FIXED -> InputQuantization.fixedQParams(s, params).scale(0);
            case LSQ -> Math.max(params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0), LsqQuantizer.MIN_STEP);
            case PACT -> Math.max(params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0), io.qat4j.lsq.PactQuantizer.MIN_ALPHA)
                    / ((1 << s.getInputBits()) - 1);
            case LSQ_PLUS, NONE -> Double.NaN;
        };
    }

    /** Per-channel (or one per-tensor) weight scales, or null for a mode without an integer grid. */
    private static double[] weightScales(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params) {
        Granularity g = s.isWeightPerChannel() ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
        return switch (s.getWeightMode()) {
            case FIXED -> WeightQuantization.fixedQParams(s, w, outAxis).scales();
            case LSQ -> {
                double[] steps = params.get(QuantizerParams.WEIGHT_STEP_KEY).toDoubleVector();
                for (int i = 0; i < steps.length; i++) {
                    steps[i] = Math.max(steps[i], LsqQuantizer.MIN_STEP);
                }
                yield steps;
            }
            case BINARY -> new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, g, outAxis).scales(w);
            case TERNARY -> new TernaryQuantizer(g, outAxis).scales(w);
            case LSQ_PLUS, NONE -> null;
        };
    }
}
