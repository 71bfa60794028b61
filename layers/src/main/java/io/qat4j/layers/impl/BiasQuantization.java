package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.FlatArrays;
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
    public static double[] accumulatorScales(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, String layer,
                                             boolean training) {
        if (!s.isQuantizeBias() || !s.quantizesWeights() || !s.quantizesInputs()) {
            return null;
        }
        double sx = InputQuantization.scale(s, params, layer);
        if (!(sx > 0)) {
            return null;
        }
        double[] sw = weightScales(s, w, outAxis, params, layer, training);
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
    public static INDArray forward(QuantSettings s, INDArray b, INDArray w, int outAxis, Map<String, INDArray> params, String layer,
                                   boolean training) {
        if (b == null) {
            return null;
        }
        double[] scales = accumulatorScales(s, w, outAxis, params, layer, training);
        if (scales == null) {
            return b;
        }
        double[] v = FlatArrays.read(b);
        if (v.length != scales.length) {
            throw new IllegalArgumentException("bias has " + v.length + " values for " + scales.length + " output channels");
        }
        for (int c = 0; c < v.length; c++) {
            v[c] = Math.rint(v[c] / scales[c]) * scales[c];
        }
        return FlatArrays.write(v, b.shape(), b.dataType());
    }

    /** Per-channel (or one per-tensor) weight scales, or null for a mode without an integer grid. */
    private static double[] weightScales(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, String layer,
                                         boolean training) {
        Granularity g = s.isWeightPerChannel() ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
        return switch (s.getWeightMode()) {
            case FIXED -> WeightQuantization.fixedQParams(s, w, outAxis).scales();
            case LSQ -> WeightQuantization.steps(s, w, outAxis, params, layer, training);
            case BINARY -> new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, g, outAxis).scales(w);
            case TERNARY -> new TernaryQuantizer(g, outAxis).scales(w);
            case LSQ_PLUS, NONE -> null;
        };
    }
}
