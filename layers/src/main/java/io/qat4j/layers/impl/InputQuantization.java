package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqPlusQuantizer;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.lsq.PactQuantizer;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.Rounding;
import io.qat4j.ste.UniformQuantizer;

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

    /** The fake-quantized input (a new array of {@code x}'s type); may update the observer state in training. */
    public static INDArray forward(QuantSettings s, INDArray x, boolean training, Map<String, INDArray> params, String layer) {
        switch (s.getInputMode()) {
            case NONE -> {
                return x;
            }
            case FIXED -> {
                INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
                if (training && s.isObserverEnabled()) {
                    observe(s, x, params);
                }
                requireInitialized(count, layer, "observed");
                return new UniformQuantizer(spec(s)).fakeQuant(x, fixedQParams(s, params));
            }
            case LSQ -> {
                LsqQuantizer q = new LsqQuantizer(spec(s));
                INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
                if (training && count.getDouble(0) == 0) {
                    params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, initialLsqStep(q, x));
                    count.putScalar(0, 1);
                }
                requireInitialized(count, layer, "initialized");
                return q.forward(x, new double[] {params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0)});
            }
            case LSQ_PLUS -> {
                LsqPlusQuantizer q = new LsqPlusQuantizer(spec(s));
                INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
                if (training && count.getDouble(0) == 0) {
                    LsqPlusQuantizer.Params p = q.initFromRange(new double[] {x.minNumber().doubleValue()},
                            new double[] {x.maxNumber().doubleValue()});
                    params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, p.step()[0]);
                    params.get(QuantizerParams.INPUT_OFFSET_KEY).putScalar(0, p.offset()[0]);
                    count.putScalar(0, 1);
                }
                requireInitialized(count, layer, "initialized");
                return q.forward(x, new double[] {params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0)},
                        new double[] {params.get(QuantizerParams.INPUT_OFFSET_KEY).getDouble(0)});
            }
            case PACT -> {
                return pact(s).forward(x, params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0));
            }
        }
        throw new AssertionError(s.getInputMode());
    }

    /** dL/dx from dL/dx^ ({@code gradOut}); writes the quantizer parameters' gradients into {@code gradViews}. */
    public static INDArray backward(QuantSettings s, INDArray x, INDArray gradOut, Map<String, INDArray> params,
                                    Map<String, INDArray> gradViews) {
        switch (s.getInputMode()) {
            case NONE -> {
                return gradOut;
            }
            case FIXED -> {
                return new UniformQuantizer(spec(s)).backward(x, gradOut, fixedQParams(s, params));
            }
            case LSQ -> {
                LsqQuantizer q = new LsqQuantizer(spec(s));
                LsqQuantizer.Gradients g = q.backward(x, gradOut, new double[] {params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0)},
                        gradScale(s, x, q.spec().qmax()));
                gradViews.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, g.step()[0]);
                return g.input();
            }
            case LSQ_PLUS -> {
                LsqPlusQuantizer q = new LsqPlusQuantizer(spec(s));
                LsqPlusQuantizer.Gradients g = q.backward(x, gradOut,
                        new double[] {params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0)},
                        new double[] {params.get(QuantizerParams.INPUT_OFFSET_KEY).getDouble(0)}, gradScale(s, x, q.spec().qmax()));
                gradViews.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, g.step()[0]);
                gradViews.get(QuantizerParams.INPUT_OFFSET_KEY).putScalar(0, g.offset()[0]);
                return g.input();
            }
            case PACT -> {
                PactQuantizer.Gradients g = pact(s).backward(x, gradOut, params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0));
                gradViews.get(QuantizerParams.INPUT_ALPHA_KEY).putScalar(0, g.alpha());
                return g.input();
            }
        }
        throw new AssertionError(s.getInputMode());
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

    private static PactQuantizer pact(QuantSettings s) {
        return new PactQuantizer(s.getInputBits(), s.getPactAlphaDecay(), Rounding.HALF_EVEN);
    }

    private static double initialLsqStep(LsqQuantizer q, INDArray x) {
        return q.initStep(x.reshape(1, x.length()))[0];
    }

    /** LSQ's gradient scale for activations: N = features per sample. */
    static double gradScale(QuantSettings s, INDArray x, int qp) {
        if (!s.isStepGradientScaling()) {
            return 1.0;
        }
        long perSample = x.length() / Math.max(1, x.size(0));
        return LsqQuantizer.gradScale(perSample, qp);
    }

    private static void observe(QuantSettings s, INDArray x, Map<String, INDArray> params) {
        double batchMin = x.minNumber().doubleValue();
        double batchMax = x.maxNumber().doubleValue();
        // ND4J's min/max skip NaN; the sum does not
        if (!Double.isFinite(batchMin) || !Double.isFinite(batchMax) || !Double.isFinite(x.sumNumber().doubleValue())) {
            throw new IllegalArgumentException("input quantizer: the batch holds NaN or Inf; the training diverged or the data is bad");
        }
        INDArray min = params.get(QuantizerParams.INPUT_MIN_KEY);
        INDArray max = params.get(QuantizerParams.INPUT_MAX_KEY);
        INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
        if (count.getDouble(0) == 0) {
            min.putScalar(0, batchMin);
            max.putScalar(0, batchMax);
        } else {
            double c = s.getAveragingConstant();
            min.putScalar(0, min.getDouble(0) + c * (batchMin - min.getDouble(0)));
            max.putScalar(0, max.getDouble(0) + c * (batchMax - max.getDouble(0)));
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
