package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationWarnings;
import io.qat4j.layers.QuantizerCollapsedException;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqKernels;
import io.qat4j.lsq.LsqPlusQuantizer;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.FlatArrays;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.MinMaxObserver;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantGroups;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.TernaryQuantizer;
import io.qat4j.ste.UniformKernels;

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
     * uniform modes run the ste/lsq kernels ({@link UniformKernels}, {@link LsqKernels}).
     */
    public static INDArray forward(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, String layer, boolean training) {
        QuantSpec spec = uniform(s) ? spec(s, outAxis) : null;   // BINARY/TERNARY ignore weightBits
        return switch (s.getWeightMode()) {
            case NONE -> w;
            case FIXED -> {
                QParams qp = fixedQParams(s, w, outAxis);
                yield FlatArrays.write(UniformKernels.fakeQuant(FlatArrays.read(w), groups(s, w, outAxis), qp.scales(), null, qp.zeroPoints(),
                        spec.qmin(), spec.qmax(), spec.rounding(), null), w.shape(), w.dataType());
            }
            case LSQ -> FlatArrays.write(LsqKernels.forward(FlatArrays.read(w), groups(s, w, outAxis), steps(s, w, outAxis, params, layer, training),
                    null, spec.qmin(), spec.qmax(), spec.rounding()), w.shape(), w.dataType());
            case LSQ_PLUS -> FlatArrays.write(LsqKernels.forward(FlatArrays.read(w), groups(s, w, outAxis),
                    steps(s, w, outAxis, params, layer, training), params.get(QuantizerParams.WEIGHT_OFFSET_KEY).toDoubleVector(),
                    spec.qmin(), spec.qmax(), spec.rounding()), w.shape(), w.dataType());
            case BINARY -> new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, granularity(s), outAxis).forward(w);
            case TERNARY -> new TernaryQuantizer(granularity(s), outAxis).forward(w);
        };
    }

    /** Whether the weight mode is a uniform b-bit quantizer (FIXED, LSQ, LSQ+). */
    private static boolean uniform(QuantSettings s) {
        return s.getWeightMode() == WeightQuantMode.FIXED || s.getWeightMode() == WeightQuantMode.LSQ
                || s.getWeightMode() == WeightQuantMode.LSQ_PLUS;
    }

    private static QuantGroups groups(QuantSettings s, INDArray w, int outAxis) {
        return QuantGroups.of(spec(s, outAxis), w.shape());
    }

    /**
     * The LSQ/LSQ+ weight steps as the layer uses them, one per group; the one source of them for the
     * forward and backward passes, the bias grid and the export.
     *
     * <p>In training, a step below its floor ({@link InputQuantization#STEP_FLOOR_FRACTION} of LSQ's
     * initial step {@code 2 mean|w_g|/sqrt(Qp)} of the current latent weights, at least
     * {@link LsqQuantizer#MIN_STEP}), zero and negative steps included, is written back as the floor
     * and reported once per layer ({@link QuantizationWarnings}). Without training, positive steps
     * below {@link LsqQuantizer#MIN_STEP} are used as it.
     *
     * @throws QuantizerCollapsedException if a step is NaN or infinite, or (without training) {@code <= 0}
     */
    public static double[] steps(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, String layer, boolean training) {
        INDArray view = params.get(QuantizerParams.WEIGHT_STEP_KEY);
        double[] steps = new double[(int) view.length()];
        double[] floors = training ? stepFloors(s, w, outAxis, steps.length) : null;
        for (int i = 0; i < steps.length; i++) {
            steps[i] = training
                    ? Math.max(InputQuantization.projected(view, i, QuantizerParams.WEIGHT_STEP_KEY, floors[i], layer,
                            "2 mean|w|/sqrt(Qp) of the current weights"), LsqQuantizer.MIN_STEP)
                    : InputQuantization.learned(view, i, QuantizerParams.WEIGHT_STEP_KEY, layer, LsqQuantizer.MIN_STEP);
        }
        return steps;
    }

    /**
     * Per group: {@code STEP_FLOOR_FRACTION} of LSQ's initial step {@code 2 mean|w_g| / sqrt(Qp)}
     * ({@link LsqKernels#initialSteps}), at least {@link LsqQuantizer#MIN_STEP}.
     */
    private static double[] stepFloors(QuantSettings s, INDArray w, int outAxis, int groups) {
        double[] init = LsqKernels.initialSteps(FlatArrays.read(w), groups(s, w, outAxis), spec(s, outAxis).qmax());
        if (init.length != groups) {
            throw new IllegalStateException("weight step count " + groups + " does not match the " + init.length + " quantization groups");
        }
        double[] floors = new double[groups];
        for (int k = 0; k < groups; k++) {
            floors[k] = Math.max(InputQuantization.STEP_FLOOR_FRACTION * init[k], LsqQuantizer.MIN_STEP);
        }
        return floors;
    }

    /**
     * Turns {@code grad} (in: dL/dw^ for the quantized weights) into dL/dw for the latent weights, in
     * place, and writes the quantizer parameters' gradients into {@code gradViews}.
     */
    public static void backward(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, INDArray grad,
                                Map<String, INDArray> gradViews, String layer) {
        QuantSpec spec = uniform(s) ? spec(s, outAxis) : null;   // BINARY/TERNARY ignore weightBits
        switch (s.getWeightMode()) {
            case NONE, TERNARY -> {
                // TERNARY is straight-through: dL/dw = dL/dw^ unchanged
            }
            case FIXED -> {
                QParams qp = fixedQParams(s, w, outAxis);
                double[] g = FlatArrays.read(grad);
                UniformKernels.steBackward(FlatArrays.read(w), g, groups(s, w, outAxis), qp.scales(), null, qp.zeroPoints(), spec.qmin(),
                        spec.qmax());
                grad.assign(FlatArrays.write(g, grad.shape(), grad.dataType()));
            }
            case LSQ, LSQ_PLUS -> {
                boolean plus = s.getWeightMode() == WeightQuantMode.LSQ_PLUS;
                double[] steps = steps(s, w, outAxis, params, layer, false);
                double[] stepGrad = new double[steps.length];
                double[] offsetGrad = plus ? new double[steps.length] : null;
                double[] g = FlatArrays.read(grad);
                LsqKernels.backward(FlatArrays.read(w), g, groups(s, w, outAxis), steps,
                        plus ? params.get(QuantizerParams.WEIGHT_OFFSET_KEY).toDoubleVector() : null, spec.qmin(), spec.qmax(),
                        spec.rounding(), stepGrad, offsetGrad, gradScale(s, new LsqQuantizer(spec), w));
                grad.assign(FlatArrays.write(g, grad.shape(), grad.dataType()));
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
