package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqPlusQuantizer;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.MinMaxObserver;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.TernaryQuantizer;
import io.qat4j.ste.UniformQuantizer;

/**
 * Fake quantization of a layer's weights, forward and backward, for every {@link io.qat4j.layers.WeightQuantMode}.
 * Weights use the signed, symmetric, narrow range ({@code [-(2^(b-1)-1), 2^(b-1)-1]}, z = 0), one scale
 * per output channel ({@code outAxis}) or per tensor, rounding half to even.
 */
public final class WeightQuantization {

    private WeightQuantization() {
    }

    /** The uniform spec of these settings' weights. */
    public static QuantSpec spec(QuantSettings s, int outAxis) {
        return s.isWeightPerChannel() ? QuantSpec.weightsPerChannel(s.getWeightBits(), outAxis)
                : QuantSpec.weightsPerTensor(s.getWeightBits());
    }

    private static Granularity granularity(QuantSettings s) {
        return s.isWeightPerChannel() ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
    }

    /** Qparams the FIXED mode uses for {@code w}: symmetric min-max per group. */
    public static QParams fixedQParams(QuantSettings s, INDArray w, int outAxis) {
        MinMaxObserver observer = new MinMaxObserver(spec(s, outAxis));
        observer.observe(w);
        return observer.qparams();
    }

    /** The fake-quantized weights (a new array, {@code w}'s type). */
    public static INDArray forward(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params) {
        return switch (s.getWeightMode()) {
            case NONE -> w;
            case FIXED -> new UniformQuantizer(spec(s, outAxis)).fakeQuant(w, fixedQParams(s, w, outAxis));
            case LSQ -> new LsqQuantizer(spec(s, outAxis)).forward(w, params.get(QuantizerParams.WEIGHT_STEP_KEY).toDoubleVector());
            case LSQ_PLUS -> new LsqPlusQuantizer(spec(s, outAxis)).forward(w,
                    params.get(QuantizerParams.WEIGHT_STEP_KEY).toDoubleVector(),
                    params.get(QuantizerParams.WEIGHT_OFFSET_KEY).toDoubleVector());
            case BINARY -> new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, granularity(s), outAxis).forward(w);
            case TERNARY -> new TernaryQuantizer(granularity(s), outAxis).forward(w);
        };
    }

    /**
     * Turns {@code grad} (in: dL/dw^ for the quantized weights) into dL/dw for the latent weights, in
     * place, and writes the quantizer parameters' gradients into {@code gradViews}.
     */
    public static void backward(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, INDArray grad,
                                Map<String, INDArray> gradViews) {
        switch (s.getWeightMode()) {
            case NONE -> {
            }
            case FIXED -> grad.assign(new UniformQuantizer(spec(s, outAxis)).backward(w, grad, fixedQParams(s, w, outAxis)));
            case LSQ -> {
                LsqQuantizer q = new LsqQuantizer(spec(s, outAxis));
                LsqQuantizer.Gradients g = q.backward(w, grad, params.get(QuantizerParams.WEIGHT_STEP_KEY).toDoubleVector(),
                        gradScale(s, q, w));
                grad.assign(g.input());
                assignRow(gradViews.get(QuantizerParams.WEIGHT_STEP_KEY), g.step());
            }
            case LSQ_PLUS -> {
                LsqPlusQuantizer q = new LsqPlusQuantizer(spec(s, outAxis));
                double scale = gradScale(s, new LsqQuantizer(spec(s, outAxis)), w);
                LsqPlusQuantizer.Gradients g = q.backward(w, grad, params.get(QuantizerParams.WEIGHT_STEP_KEY).toDoubleVector(),
                        params.get(QuantizerParams.WEIGHT_OFFSET_KEY).toDoubleVector(), scale);
                grad.assign(g.input());
                assignRow(gradViews.get(QuantizerParams.WEIGHT_STEP_KEY), g.step());
                assignRow(gradViews.get(QuantizerParams.WEIGHT_OFFSET_KEY), g.offset());
            }
            case BINARY -> grad.assign(new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, granularity(s), outAxis).backward(w, grad));
            case TERNARY -> {
                // straight-through: dL/dw = dL/dw^ unchanged
            }
        }
    }

    /** Initial weight steps/offsets from the weights: LSQ {@code 2 mean|w|/sqrt(Qp)}, LSQ+ the min-max range. */
    public static void initialize(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params) {
        switch (s.getWeightMode()) {
            case LSQ -> assignRow(params.get(QuantizerParams.WEIGHT_STEP_KEY), new LsqQuantizer(spec(s, outAxis)).initStep(w));
            case LSQ_PLUS -> {
                MinMaxObserver observer = new MinMaxObserver(spec(s, outAxis));
                observer.observe(w);
                LsqPlusQuantizer.Params p = new LsqPlusQuantizer(spec(s, outAxis)).initFromRange(observer.min(), observer.max());
                assignRow(params.get(QuantizerParams.WEIGHT_STEP_KEY), p.step());
                assignRow(params.get(QuantizerParams.WEIGHT_OFFSET_KEY), p.offset());
            }
            case NONE, FIXED, BINARY, TERNARY -> {
            }
        }
    }

    private static double gradScale(QuantSettings s, LsqQuantizer q, INDArray w) {
        return s.isStepGradientScaling() ? q.weightGradScale(w.shape()) : 1.0;
    }

    static void assignRow(INDArray view, double[] values) {
        for (int i = 0; i < values.length; i++) {
            view.putScalar(i, values[i]);
        }
    }
}
