package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqPlusQuantizer;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.MinMaxObserver;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.TernaryQuantizer;

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

    /**
     * The fake-quantized weights (a new array of {@code w}'s type, in the current workspace). The
     * uniform modes run {@link FastQuant}'s loops, which equal the ste/lsq ops element for element.
     */
    public static INDArray forward(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params) {
        QuantSpec spec = uniform(s) ? spec(s, outAxis) : null;   // BINARY/TERNARY ignore weightBits
        return switch (s.getWeightMode()) {
            case NONE -> w;
            case FIXED -> {
                QParams qp = fixedQParams(s, w, outAxis);
                yield FastQuant.write(FastQuant.forward(FastQuant.read(w), groups(s, w, outAxis), qp.scales(), null, qp.zeroPoints(),
                        spec.qmin(), spec.qmax()), w.shape(), w.dataType());
            }
            case LSQ -> FastQuant.write(FastQuant.forward(FastQuant.read(w), groups(s, w, outAxis), steps(params), null, null,
                    spec.qmin(), spec.qmax()), w.shape(), w.dataType());
            case LSQ_PLUS -> FastQuant.write(FastQuant.forward(FastQuant.read(w), groups(s, w, outAxis), steps(params),
                    params.get(QuantizerParams.WEIGHT_OFFSET_KEY).toDoubleVector(), null, spec.qmin(), spec.qmax()), w.shape(), w.dataType());
            case BINARY -> new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, granularity(s), outAxis).forward(w);
            case TERNARY -> new TernaryQuantizer(granularity(s), outAxis).forward(w);
        };
    }

    /** Whether the weight mode is a uniform b-bit quantizer (FIXED, LSQ, LSQ+). */
    private static boolean uniform(QuantSettings s) {
        return s.getWeightMode() == WeightQuantMode.FIXED || s.getWeightMode() == WeightQuantMode.LSQ
                || s.getWeightMode() == WeightQuantMode.LSQ_PLUS;
    }

    private static FastQuant.Groups groups(QuantSettings s, INDArray w, int outAxis) {
        return s.isWeightPerChannel() ? FastQuant.Groups.perChannel(w.shape(), outAxis) : FastQuant.Groups.perTensor();
    }

    /** The learned steps, floored at {@link LsqQuantizer#MIN_STEP} as the lsq ops do. */
    private static double[] steps(Map<String, INDArray> params) {
        double[] steps = params.get(QuantizerParams.WEIGHT_STEP_KEY).toDoubleVector();
        for (int i = 0; i < steps.length; i++) {
            if (Double.isNaN(steps[i])) {
                throw new IllegalArgumentException("weight step " + i + " is NaN; the training diverged");
            }
            steps[i] = Math.max(steps[i], LsqQuantizer.MIN_STEP);
        }
        return steps;
    }

    /**
     * Turns {@code grad} (in: dL/dw^ for the quantized weights) into dL/dw for the latent weights, in
     * place, and writes the quantizer parameters' gradients into {@code gradViews}.
     */
    public static void backward(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, INDArray grad,
                                Map<String, INDArray> gradViews) {
        QuantSpec spec = uniform(s) ? spec(s, outAxis) : null;   // BINARY/TERNARY ignore weightBits
        switch (s.getWeightMode()) {
            case NONE, TERNARY -> {
                // TERNARY is straight-through: dL/dw = dL/dw^ unchanged
            }
            case FIXED -> {
                QParams qp = fixedQParams(s, w, outAxis);
                double[] g = FastQuant.read(grad);
                FastQuant.backward(FastQuant.read(w), g, groups(s, w, outAxis), qp.scales(), null, qp.zeroPoints(), spec.qmin(),
                        spec.qmax(), null, null, 1);
                grad.assign(FastQuant.write(g, grad.shape(), grad.dataType()));
            }
            case LSQ, LSQ_PLUS -> {
                boolean plus = s.getWeightMode() == WeightQuantMode.LSQ_PLUS;
                double[] steps = steps(params);
                double[] stepGrad = new double[steps.length];
                double[] offsetGrad = plus ? new double[steps.length] : null;
                double[] g = FastQuant.read(grad);
                FastQuant.backward(FastQuant.read(w), g, groups(s, w, outAxis), steps,
                        plus ? params.get(QuantizerParams.WEIGHT_OFFSET_KEY).toDoubleVector() : null, null, spec.qmin(), spec.qmax(),
                        stepGrad, offsetGrad, gradScale(s, new LsqQuantizer(spec), w));
                grad.assign(FastQuant.write(g, grad.shape(), grad.dataType()));
                assignRow(gradViews.get(QuantizerParams.WEIGHT_STEP_KEY), stepGrad);
                if (plus) {
                    assignRow(gradViews.get(QuantizerParams.WEIGHT_OFFSET_KEY), offsetGrad);
                }
            }
            case BINARY -> grad.assign(new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, granularity(s), outAxis).backward(w, grad));
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
