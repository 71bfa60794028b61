package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqPlusQuantizer;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.lsq.PactQuantizer;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;

/**
 * Fake quantization of the activations entering a layer (per tensor), forward and backward, for
 * every {@link io.qat4j.layers.InputQuantMode}.
 *
 * <ul>
 *   <li>FIXED: affine spec (unsigned, or signed when {@code inputSigned}); in training with the
 *       observer on, the range follows a moving average of batch min/max (the first batch sets it),
 *       then the batch is quantized with the updated range; clipped STE backward.</li>
 *   <li>LSQ / LSQ+: symmetric spec ({@code [0, 2^b-1]} unsigned, {@code [-2^(b-1), 2^(b-1)-1]} signed);
 *       the step (and offset) are initialized from the first training batch when the count is 0
 *       (LSQ: {@code 2 mean|x|/sqrt(Qp)}; LSQ+: the batch's min-max range); gradient scale
 *       {@code 1/sqrt(features per sample * Qp)}.</li>
 *   <li>PACT: {@code [0, alpha]} with 2^b - 1 levels, alpha learned with L2 decay.</li>
 * </ul>
 * A quantizer that has never seen data refuses to run in inference (its range would be arbitrary).
 */
public final class InputQuantization {

    private InputQuantization() {
    }

    /** The uniform spec of these settings' inputs (FIXED: affine; LSQ/LSQ+: symmetric). */
    public static QuantSpec spec(QuantSettings s) {
        return switch (s.getInputMode()) {
            case FIXED -> QuantSpec.activations(s.getInputBits(), s.isInputSigned());
            case LSQ, LSQ_PLUS -> QuantSpec.builder().bits(s.getInputBits()).signed(s.isInputSigned())
                    .scheme(QuantSpec.Scheme.SYMMETRIC).build();
            case PACT, NONE -> QuantSpec.builder().bits(s.getInputBits()).signed(false).scheme(QuantSpec.Scheme.AFFINE).build();
        };
    }

    /** Qparams of a FIXED input quantizer from its stored range. */
    public static QParams fixedQParams(QuantSettings s, Map<String, INDArray> params) {
        return QParams.fromRange(spec(s), new double[] {params.get(QuantizerParams.INPUT_MIN_KEY).getDouble(0)},
                new double[] {params.get(QuantizerParams.INPUT_MAX_KEY).getDouble(0)});
    }

    /**
     * The fake-quantized input (a new array of {@code x}'s type, current workspace); may update the
     * observer state or initialize the step in training. Runs {@link FastQuant}'s loops, which
     * equal the ste/lsq ops element for element.
     */
    public static INDArray forward(QuantSettings s, INDArray x, boolean training, Map<String, INDArray> params, String layer) {
        if (s.getInputMode() == InputQuantMode.NONE) {
            return x;
        }
        double[] v = FastQuant.read(x);
        INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
        QuantSpec spec = spec(s);
        double[] out;
        switch (s.getInputMode()) {
            case FIXED -> {
                if (training && s.isObserverEnabled()) {
                    observe(s, v, params);
                }
                requireInitialized(count, layer, "observed");
                QParams qp = fixedQParams(s, params);
                out = FastQuant.forward(v, FastQuant.Groups.perTensor(), qp.scales(), null, qp.zeroPoints(), spec.qmin(), spec.qmax());
            }
            case LSQ -> {
                if (training && count.getDouble(0) == 0) {
                    params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, initialLsqStep(spec, v));
                    count.putScalar(0, 1);
                }
                requireInitialized(count, layer, "initialized");
                out = FastQuant.forward(v, FastQuant.Groups.perTensor(), step(params), null, null, spec.qmin(), spec.qmax());
            }
            case LSQ_PLUS -> {
                if (training && count.getDouble(0) == 0) {
                    double[] range = minMax(v);
                    LsqPlusQuantizer.Params p = new LsqPlusQuantizer(spec).initFromRange(new double[] {range[0]}, new double[] {range[1]});
                    params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, p.step()[0]);
                    params.get(QuantizerParams.INPUT_OFFSET_KEY).putScalar(0, p.offset()[0]);
                    count.putScalar(0, 1);
                }
                requireInitialized(count, layer, "initialized");
                out = FastQuant.forward(v, FastQuant.Groups.perTensor(), step(params),
                        new double[] {params.get(QuantizerParams.INPUT_OFFSET_KEY).getDouble(0)}, null, spec.qmin(), spec.qmax());
            }
            case PACT -> out = FastQuant.pact(v, alpha(params), (1 << s.getInputBits()) - 1);
            default -> throw new AssertionError(s.getInputMode());
        }
        return FastQuant.write(out, x.shape(), x.dataType());
    }

    /** dL/dx from dL/dx^ ({@code gradOut}); writes the quantizer parameters' gradients into {@code gradViews}. */
    public static INDArray backward(QuantSettings s, INDArray x, INDArray gradOut, Map<String, INDArray> params,
                                    Map<String, INDArray> gradViews) {
        if (s.getInputMode() == InputQuantMode.NONE) {
            return gradOut;
        }
        double[] v = FastQuant.read(x);
        double[] g = FastQuant.read(gradOut);
        QuantSpec spec = spec(s);
        switch (s.getInputMode()) {
            case FIXED -> {
                QParams qp = fixedQParams(s, params);
                FastQuant.backward(v, g, FastQuant.Groups.perTensor(), qp.scales(), null, qp.zeroPoints(), spec.qmin(), spec.qmax(),
                        null, null, 1);
            }
            case LSQ, LSQ_PLUS -> {
                boolean plus = s.getInputMode() == InputQuantMode.LSQ_PLUS;
                double[] stepGrad = new double[1];
                double[] offsetGrad = plus ? new double[1] : null;
                FastQuant.backward(v, g, FastQuant.Groups.perTensor(), step(params),
                        plus ? new double[] {params.get(QuantizerParams.INPUT_OFFSET_KEY).getDouble(0)} : null, null,
                        spec.qmin(), spec.qmax(), stepGrad, offsetGrad, gradScale(s, x, spec.qmax()));
                gradViews.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, stepGrad[0]);
                if (plus) {
                    gradViews.get(QuantizerParams.INPUT_OFFSET_KEY).putScalar(0, offsetGrad[0]);
                }
            }
            case PACT -> {
                double alpha = alpha(params);
                double alphaGrad = FastQuant.pactBackward(v, g, alpha);
                gradViews.get(QuantizerParams.INPUT_ALPHA_KEY).putScalar(0,
                        alphaGrad + s.getPactAlphaDecay() * params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0));
            }
            default -> throw new AssertionError(s.getInputMode());
        }
        return FastQuant.write(g, gradOut.shape(), gradOut.dataType());
    }

    private static double[] step(Map<String, INDArray> params) {
        double s = params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0);
        if (Double.isNaN(s)) {
            throw new IllegalArgumentException("input step is NaN; the training diverged");
        }
        return new double[] {Math.max(s, LsqQuantizer.MIN_STEP)};
    }

    private static double alpha(Map<String, INDArray> params) {
        double a = params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0);
        if (Double.isNaN(a)) {
            throw new IllegalArgumentException("PACT alpha is NaN; the training diverged");
        }
        return Math.max(a, PactQuantizer.MIN_ALPHA);
    }

    /** {min, max} of the values; NaN or Inf is an error. */
    private static double[] minMax(double[] v) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double d : v) {
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException("input quantizer: the batch holds NaN or Inf; the training diverged or the data is bad");
            }
            lo = Math.min(lo, d);
            hi = Math.max(hi, d);
        }
        return new double[] {lo, hi};
    }

    /** Sets the input range from a calibrated {@code [min, max]} (what a PTQ plan provides). */
    public static void setRange(QuantSettings s, Map<String, INDArray> params, double min, double max) {
        if (!(min <= max) || !Double.isFinite(min) || !Double.isFinite(max)) {
            throw new IllegalArgumentException("input range must be finite with min <= max, got [" + min + ", " + max + "]");
        }
        switch (s.getInputMode()) {
            case NONE -> {
            }
            case FIXED -> {
                params.get(QuantizerParams.INPUT_MIN_KEY).putScalar(0, min);
                params.get(QuantizerParams.INPUT_MAX_KEY).putScalar(0, max);
                params.get(QuantizerParams.INPUT_COUNT_KEY).putScalar(0, 1);
            }
            case LSQ -> {
                QuantSpec spec = spec(s);
                params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, 0,
                        new LsqQuantizer(spec).stepFromRange(new double[] {min}, new double[] {max})[0]);
                params.get(QuantizerParams.INPUT_COUNT_KEY).putScalar(0, 1);
            }
            case LSQ_PLUS -> {
                LsqPlusQuantizer.Params p = new LsqPlusQuantizer(spec(s)).initFromRange(new double[] {min}, new double[] {max});
                params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, p.step()[0]);
                params.get(QuantizerParams.INPUT_OFFSET_KEY).putScalar(0, p.offset()[0]);
                params.get(QuantizerParams.INPUT_COUNT_KEY).putScalar(0, 1);
            }
            case PACT -> params.get(QuantizerParams.INPUT_ALPHA_KEY).putScalar(0, Math.max(max, PactQuantizer.MIN_ALPHA));
        }
    }

    /** LSQ's initialization {@code 2 mean|x| / sqrt(Qp)}. */
    private static double initialLsqStep(QuantSpec spec, double[] v) {
        double sum = 0;
        for (double d : v) {
            sum += Math.abs(d);
        }
        return Math.max(2 * (sum / v.length) / Math.sqrt(spec.qmax()), LsqQuantizer.MIN_STEP);
    }

    /** LSQ's gradient scale for activations: N = features per sample. */
    static double gradScale(QuantSettings s, INDArray x, int qp) {
        if (!s.isStepGradientScaling()) {
            return 1.0;
        }
        long perSample = x.length() / Math.max(1, x.size(0));
        return LsqQuantizer.gradScale(perSample, qp);
    }

    private static void observe(QuantSettings s, double[] v, Map<String, INDArray> params) {
        double[] range = minMax(v);
        INDArray min = params.get(QuantizerParams.INPUT_MIN_KEY);
        INDArray max = params.get(QuantizerParams.INPUT_MAX_KEY);
        INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
        if (count.getDouble(0) == 0) {
            min.putScalar(0, range[0]);
            max.putScalar(0, range[1]);
        } else {
            double c = s.getAveragingConstant();
            min.putScalar(0, min.getDouble(0) + c * (range[0] - min.getDouble(0)));
            max.putScalar(0, max.getDouble(0) + c * (range[1] - max.getDouble(0)));
        }
        count.putScalar(0, count.getDouble(0) + 1);
    }

    private static void requireInitialized(INDArray count, String layer, String verb) {
        if (count.getDouble(0) == 0) {
            throw new IllegalStateException("layer '" + layer + "': the input quantizer has not " + verb + " any data yet; "
                    + "run a training batch or calibration first, give it a range (QuantizedModel.wrap with a plan), "
                    + "or disable quantization for inference");
        }
    }
}
