package io.qat4j.layers.impl;

import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationWarnings;
import io.qat4j.layers.QuantizerCollapsedException;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqKernels;
import io.qat4j.lsq.LsqPlusQuantizer;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.lsq.PactKernels;
import io.qat4j.lsq.PactQuantizer;
import io.qat4j.ste.FlatArrays;
import io.qat4j.ste.MovingAverageMinMaxObserver;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantGroups;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.Rounding;
import io.qat4j.ste.UniformKernels;

/**
 * Fake quantization of the activations entering a layer (per tensor), forward and backward, for
 * every {@link io.qat4j.layers.InputQuantMode}. Every mode rounds ties toward +infinity
 * ({@link Rounding#HALF_UP}), as the integer model's requantization does, so hidden codes agree
 * exactly, ties included.
 *
 * <ul>
 *   <li>FIXED: affine spec (unsigned, or signed when {@code inputSigned}); in training with the
 *       observer on, the range follows a moving average of batch min/max (the first batch sets it),
 *       then the batch is quantized with the updated range; clipped STE backward.</li>
 *   <li>LSQ / LSQ+: symmetric spec ({@code [0, 2^b-1]} unsigned, {@code [-2^(b-1), 2^(b-1)-1]} signed);
 *       the step (and offset) are initialized from the first training batch when the count is 0
 *       (LSQ: {@code 2 mean|x|/sqrt(Qp)}; LSQ+: the batch's min-max range); gradient scale
 *       {@code 1/sqrt(features per sample * Qp)}.</li>
 *   <li>PACT: {@code [0, alpha]} with {@code 2^b - 1} levels (unsigned) or {@code [-alpha, alpha]}
 *       with {@code 2^(b-1) - 1} levels each side (signed), alpha learned with L2 decay.</li>
 * </ul>
 *
 * <p>Signedness: with {@link QuantSettings#isInputSignFromData()} (the default) a quantizer becomes
 * signed when a plan's calibrated range or a training batch holds a negative value; a quantizer
 * forced unsigned logs a {@link QuantizationWarnings warning} naming the layer and the minimum
 * instead. Signed inputs need at least 2 bits.
 *
 * <p>Learned steps and clipping levels: in training, a value below its floor
 * ({@link #STEP_FLOOR_FRACTION} of LSQ's initial step {@code 2 mean|x|/sqrt(Qp)} for the current
 * batch) is projected back to the floor in place (a warning names the layer and the value); NaN
 * stops training. Without training (inference, export) a value that is NaN, infinite or {@code <= 0}
 * is a {@link QuantizerCollapsedException}.
 * A quantizer that has never seen data refuses to run in inference (its range would be arbitrary),
 * naming the layer and {@code QuantizedModel.calibrate}, which gives it one ({@link #calibrating}).
 */
public final class InputQuantization {

    /**
     * Fraction of LSQ's data-derived initial step ({@code 2 mean|x|/sqrt(Qp)}) below which a learned
     * step (or PACT alpha / levels) is projected back during training. At 1% the largest
     * representable value is under a third of {@code mean|x|} at 8 bits, so no useful step lies below.
     */
    public static final double STEP_FLOOR_FRACTION = 0.01;

    /** Whether {@link #calibrating} is running on this thread. */
    private static final ThreadLocal<Boolean> CALIBRATING = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private InputQuantization() {
    }

    /** The uniform spec of these settings' inputs (FIXED: affine; LSQ/LSQ+/PACT: symmetric), rounding ties up. */
    public static QuantSpec spec(QuantSettings s) {
        return switch (s.getInputMode()) {
            case FIXED -> QuantSpec.activations(s.getInputBits(), s.isInputSigned());
            case LSQ, LSQ_PLUS -> QuantSpec.builder().bits(s.getInputBits()).signed(s.isInputSigned())
                    .scheme(QuantSpec.Scheme.SYMMETRIC).rounding(Rounding.HALF_UP).build();
            case PACT -> s.isInputSigned()
                    ? QuantSpec.builder().bits(s.getInputBits()).signed(true).narrowRange(true).scheme(QuantSpec.Scheme.SYMMETRIC)
                            .rounding(Rounding.HALF_UP).build()
                    : QuantSpec.builder().bits(s.getInputBits()).signed(false).scheme(QuantSpec.Scheme.AFFINE)
                            .rounding(Rounding.HALF_UP).build();
            case NONE -> QuantSpec.builder().bits(s.getInputBits()).signed(false).scheme(QuantSpec.Scheme.AFFINE).build();
        };
    }

    /** PACT's levels on each side of 0: {@code 2^b - 1} unsigned, {@code 2^(b-1) - 1} signed. */
    public static int pactLevels(QuantSettings s) {
        return PactKernels.levels(s.getInputBits(), s.isInputSigned());
    }

    /** Qparams of a FIXED input quantizer from its stored range. */
    public static QParams fixedQParams(QuantSettings s, Map<String, INDArray> params) {
        return QParams.fromRange(spec(s), new double[] {params.get(QuantizerParams.INPUT_MIN_KEY).getDouble(0)},
                new double[] {params.get(QuantizerParams.INPUT_MAX_KEY).getDouble(0)});
    }

    /**
     * The scale of the input codes ({@code s_x}): FIXED's range scale, LSQ's step, PACT's
     * {@code alpha / levels}; NaN for LSQ+ and NONE (no integer grid) or a quantizer that has not
     * seen data.
     *
     * @throws QuantizerCollapsedException if the learned step or alpha is NaN, infinite or {@code <= 0}
     */
    public static double scale(QuantSettings s, Map<String, INDArray> params, String layer) {
        InputQuantMode m = s.getInputMode();
        if (QuantizerParams.countsInputs(m) && params.get(QuantizerParams.INPUT_COUNT_KEY).getDouble(0) == 0) {
            return Double.NaN;
        }
        return switch (m) {
            case FIXED -> fixedQParams(s, params).scale(0);
            case LSQ -> learned(params, QuantizerParams.INPUT_STEP_KEY, layer, LsqQuantizer.MIN_STEP);
            case PACT -> learned(params, QuantizerParams.INPUT_ALPHA_KEY, layer, PactQuantizer.MIN_ALPHA) / pactLevels(s);
            case LSQ_PLUS, NONE -> Double.NaN;
        };
    }

    /**
     * The fake-quantized input (a new array of {@code x}'s type, current workspace); may update the
     * observer state, the signedness, or initialize or project the step in training. Runs the
     * ste/lsq kernels ({@link UniformKernels}, {@link LsqKernels}, {@link PactKernels}). NaN inputs stay
     * NaN; {@code +inf} and {@code -inf} become the largest and smallest code.
     */
    public static INDArray forward(QuantSettings s, INDArray x, boolean training, Map<String, INDArray> params, String layer) {
        return forward(s, x, training, params, layer, null);
    }

    /**
     * As {@link #forward(QuantSettings, INDArray, boolean, Map, String)}; in training, {@code floorSink}
     * (may be null) receives the floor of this batch's learned step or alpha, which
     * {@link #project} applies again after the optimizer's update.
     */
    public static INDArray forward(QuantSettings s, INDArray x, boolean training, Map<String, INDArray> params, String layer,
                                   java.util.function.DoubleConsumer floorSink) {
        if (s.getInputMode() == InputQuantMode.NONE) {
            return x;
        }
        double[] v = FlatArrays.read(x);
        QuantGroups groups = QuantGroups.perTensor(x.shape());
        if (training || CALIBRATING.get()) {
            learnFromBatch(s, v, groups, params, layer, training);
        }
        INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
        QuantSpec spec = spec(s);
        // a switch expression with no default: a new InputQuantMode does not compile until it is handled here
        double[] out = switch (s.getInputMode()) {
            case FIXED -> {
                requireInitialized(count, layer, s);
                QParams qp = fixedQParams(s, params);
                yield UniformKernels.fakeQuant(v, groups, qp.scales(), null, qp.zeroPoints(), spec.qmin(), spec.qmax(), spec.rounding(),
                        null);
            }
            case LSQ -> {
                requireInitialized(count, layer, s);
                double step = training
                        ? projected(params, QuantizerParams.INPUT_STEP_KEY, sink(floorSink, stepFloor(spec.qmax(), v, groups)), layer)
                        : learned(params, QuantizerParams.INPUT_STEP_KEY, layer, LsqQuantizer.MIN_STEP);
                yield LsqKernels.forward(v, groups, new double[] {step}, null, spec.qmin(), spec.qmax(), spec.rounding());
            }
            case LSQ_PLUS -> {
                requireInitialized(count, layer, s);
                double step = training
                        ? projected(params, QuantizerParams.INPUT_STEP_KEY, sink(floorSink, stepFloor(spec.qmax(), v, groups)), layer)
                        : learned(params, QuantizerParams.INPUT_STEP_KEY, layer, LsqQuantizer.MIN_STEP);
                yield LsqKernels.forward(v, groups, new double[] {step}, new double[] {params.get(QuantizerParams.INPUT_OFFSET_KEY).getDouble(0)},
                        spec.qmin(), spec.qmax(), spec.rounding());
            }
            case PACT -> {
                int levels = pactLevels(s);
                double alpha = training
                        ? projected(params, QuantizerParams.INPUT_ALPHA_KEY, sink(floorSink, levels * stepFloor(levels, v, groups)), layer)
                        : learned(params, QuantizerParams.INPUT_ALPHA_KEY, layer, PactQuantizer.MIN_ALPHA);
                yield PactKernels.forward(v, alpha, levels, s.isInputSigned(), spec.rounding());
            }
            case NONE -> throw new AssertionError("NONE returns before the switch");
        };
        return FlatArrays.write(out, x.shape(), x.dataType());
    }

    /**
     * Runs {@code passes} (inference forward passes, e.g. {@code network.output(x)}) with every input
     * quantizer on this thread in calibration: before quantizing an inference batch, a quantizer
     * learns from it as from a training batch ({@link #learnFromBatch}: signedness, FIXED range,
     * first-batch LSQ/LSQ+ initialization; no projection of learned steps, no gradients), also when
     * its observer is off for training. A quantizer whose quantization is switched off observes
     * through {@link #observeIfCalibrating}. Nested calls are allowed; the state is restored after.
     */
    public static void calibrating(Runnable passes) {
        Boolean outer = CALIBRATING.get();
        CALIBRATING.set(Boolean.TRUE);
        try {
            passes.run();
        } finally {
            CALIBRATING.set(outer);
        }
    }

    /**
     * For a layer that does not quantize its input now ({@link QuantSettings#quantizesInputs} false,
     * input mode not NONE): inside {@link #calibrating}, learns from {@code x} as {@link #forward}
     * would; otherwise nothing.
     */
    public static void observeIfCalibrating(QuantSettings s, INDArray x, Map<String, INDArray> params, String layer) {
        if (CALIBRATING.get() && s.getInputMode() != InputQuantMode.NONE) {
            learnFromBatch(s, FlatArrays.read(x), QuantGroups.perTensor(x.shape()), params, layer, false);
        }
    }

    /**
     * What a quantizer learns from a batch before quantizing it: signedness from the data, then
     * FIXED: the observer's moving-average range (in training only while the observer is on);
     * LSQ: {@code 2 mean|x| / sqrt(Qp)} when the step has not been initialized; LSQ+: the
     * batch's min-max range when not initialized; PACT: nothing (alpha starts at its set value).
     *
     * @param training a training batch (else a calibration batch)
     */
    private static void learnFromBatch(QuantSettings s, double[] v, QuantGroups groups, Map<String, INDArray> params, String layer,
                                       boolean training) {
        resolveSign(s, params, v, layer, training ? "a training batch" : "a calibration batch");
        INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
        QuantSpec spec = spec(s);
        switch (s.getInputMode()) {
            case FIXED -> {
                if (!training || s.isObserverEnabled()) {
                    observe(s, v, params, layer);
                }
            }
            case LSQ -> {
                if (count.getDouble(0) == 0) {
                    params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, initialLsqStep(spec, v, groups, layer));
                    count.putScalar(0, 1);
                }
            }
            case LSQ_PLUS -> {
                if (count.getDouble(0) == 0) {
                    double[] range = minMax(v, layer);
                    LsqPlusQuantizer.Params p = new LsqPlusQuantizer(spec).initFromRange(new double[] {range[0]}, new double[] {range[1]});
                    params.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, p.step()[0]);
                    params.get(QuantizerParams.INPUT_OFFSET_KEY).putScalar(0, p.offset()[0]);
                    count.putScalar(0, 1);
                }
            }
            case PACT, NONE -> {
            }
        }
    }

    /** dL/dx from dL/dx^ ({@code gradOut}); writes the quantizer parameters' gradients into {@code gradViews}. */
    public static INDArray backward(QuantSettings s, INDArray x, INDArray gradOut, Map<String, INDArray> params,
                                    Map<String, INDArray> gradViews, String layer) {
        if (s.getInputMode() == InputQuantMode.NONE) {
            return gradOut;
        }
        double[] v = FlatArrays.read(x);
        double[] g = FlatArrays.read(gradOut);
        QuantGroups groups = QuantGroups.perTensor(x.shape());
        QuantSpec spec = spec(s);
        // a switch expression with no default (each case yields the input gradient it wrote in place)
        double[] inputGrad = switch (s.getInputMode()) {
            case FIXED -> {
                QParams qp = fixedQParams(s, params);
                UniformKernels.steBackward(v, g, groups, qp.scales(), null, qp.zeroPoints(), spec.qmin(), spec.qmax());
                yield g;
            }
            case LSQ, LSQ_PLUS -> {
                boolean plus = s.getInputMode() == InputQuantMode.LSQ_PLUS;
                double[] stepGrad = new double[1];
                double[] offsetGrad = plus ? new double[1] : null;
                LsqKernels.backward(v, g, groups, new double[] {learned(params, QuantizerParams.INPUT_STEP_KEY, layer, LsqQuantizer.MIN_STEP)},
                        plus ? new double[] {params.get(QuantizerParams.INPUT_OFFSET_KEY).getDouble(0)} : null,
                        spec.qmin(), spec.qmax(), spec.rounding(), stepGrad, offsetGrad, gradScale(s, x, spec.qmax()));
                gradViews.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, stepGrad[0]);
                if (plus) {
                    gradViews.get(QuantizerParams.INPUT_OFFSET_KEY).putScalar(0, offsetGrad[0]);
                }
                yield g;
            }
            case PACT -> {
                double alpha = learned(params, QuantizerParams.INPUT_ALPHA_KEY, layer, PactQuantizer.MIN_ALPHA);
                double clipGrad = PactKernels.backward(v, g, alpha, s.isInputSigned());
                gradViews.get(QuantizerParams.INPUT_ALPHA_KEY).putScalar(0, PactKernels.alphaGradient(clipGrad, s.getPactAlphaDecay(),
                        params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0)));
                yield g;
            }
            case NONE -> throw new AssertionError("NONE returns before the switch");
        };
        return FlatArrays.write(inputGrad, gradOut.shape(), gradOut.dataType());
    }

    private static double sink(java.util.function.DoubleConsumer floorSink, double floor) {
        if (floorSink != null) {
            floorSink.accept(floor);
        }
        return floor;
    }

    /**
     * Projects the learned step (LSQ, LSQ+) or alpha (PACT) back to {@code floor} if the optimizer's
     * last update left it below (zero or negative included), with the same warning as in the
     * forward pass. Called after every update through DL4J's {@code applyConstraints}, so a saved or
     * evaluated network never holds a collapsed step; {@code floor} is the last training batch's.
     * No-op for other modes or a NaN floor (no training batch yet).
     */
    public static void project(QuantSettings s, Map<String, INDArray> params, double floor, String layer) {
        if (Double.isNaN(floor) || !s.quantizesInputs()) {
            return;
        }
        switch (s.getInputMode()) {
            case LSQ, LSQ_PLUS -> projected(params, QuantizerParams.INPUT_STEP_KEY, floor, layer);
            case PACT -> projected(params, QuantizerParams.INPUT_ALPHA_KEY, floor, layer);
            case FIXED, NONE -> {
            }
        }
    }

    /**
     * A learned step or alpha as inference and export use it: {@code max(value, minimum)}.
     *
     * @throws QuantizerCollapsedException if it is NaN, infinite or {@code <= 0}
     */
    static double learned(Map<String, INDArray> params, String key, String layer, double minimum) {
        return learned(params.get(key), 0, key, layer, minimum);
    }

    /**
     * Element {@code i} of a learned step or alpha view as inference and export use it; the one check
     * of that rule for input and weight quantizers.
     *
     * @throws QuantizerCollapsedException if it is NaN, infinite or {@code <= 0}
     */
    static double learned(INDArray view, int i, String key, String layer, double minimum) {
        double value = view.getDouble(i);
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new QuantizerCollapsedException(layer, key, i, value);
        }
        return Math.max(value, minimum);
    }

    private static double projected(Map<String, INDArray> params, String key, double floor, String layer) {
        return projected(params.get(key), 0, key, floor, layer, "for this batch");
    }

    /**
     * Element {@code i} of a learned step or alpha view in training: a value below {@code floor} (zero
     * or negative included) is written back as {@code floor} and reported once per layer and parameter;
     * NaN or infinity is an error. The one projection rule for input and weight quantizers;
     * {@code floorSource} says what the floor's initial step was computed from.
     */
    static double projected(INDArray view, int i, String key, double floor, String layer, String floorSource) {
        double value = view.getDouble(i);
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            throw new QuantizerCollapsedException(layer, key, i, value);
        }
        if (value < floor) {
            view.putScalar(i, floor);
            QuantizationWarnings.warnOnce("floor:" + layer + ":" + key, "layer '" + layer + "': learned quantizer parameter " + key
                    + "[" + i + "] = " + value + " fell below its floor " + floor + " (" + STEP_FLOOR_FRACTION + " of LSQ's initial step "
                    + floorSource + ") and was projected back to it; if this repeats, lower the learning rate");
            return floor;
        }
        return value;
    }

    /**
     * {@link #STEP_FLOOR_FRACTION} of LSQ's initial step {@code 2 mean|x| / sqrt(qp)} (finite values;
     * {@link LsqKernels#initialSteps}), at least {@link LsqQuantizer#MIN_STEP}.
     */
    private static double stepFloor(int qp, double[] v, QuantGroups groups) {
        return Math.max(STEP_FLOOR_FRACTION * LsqKernels.initialSteps(v, groups, qp)[0], LsqQuantizer.MIN_STEP);
    }

    /**
     * Negative values smaller than this fraction of the batch's largest |x| do not make a quantizer
     * signed: they are below one 8-bit step (1/255) of the range, float noise rather than signed data,
     * and clipping them to 0 changes nothing an integer model could represent.
     */
    static final double SIGN_THRESHOLD = 1e-3;

    /**
     * Makes an unsigned quantizer signed when the data hold a clearly negative value ({@code min <
     * -SIGN_THRESHOLD max|x|}) and the settings take signedness from the data; warns when they do not.
     * A learned step that was already initialized for the unsigned range is rescaled by
     * {@code (2^b - 1) / (2^(b-1) - 1)} so that the largest representable value stays where it was.
     * Signed data at 1 bit is an error.
     */
    private static void resolveSign(QuantSettings s, Map<String, INDArray> params, double[] v, String layer, String source) {
        if (s.isInputSigned()) {
            return;
        }
        double lo = Double.POSITIVE_INFINITY;
        double absMax = 0;
        for (double d : v) {
            if (d < lo) {
                lo = d;
            }
            if (Math.abs(d) > absMax) {
                absMax = Math.abs(d);
            }
        }
        resolveSign(s, params, lo, absMax, layer, source);
    }

    private static void resolveSign(QuantSettings s, Map<String, INDArray> params, double min, double absMax, String layer, String source) {
        if (s.isInputSigned() || !(min < -SIGN_THRESHOLD * absMax)) {
            return;
        }
        if (!s.isInputSignFromData()) {
            QuantizationWarnings.warnOnce("unsigned:" + layer, "layer '" + layer + "': the input quantizer is set unsigned "
                    + "(inputSigned=false, inputSignFromData=false) but " + source + " has negative values (minimum " + min
                    + "); they are clipped to 0. Set inputSigned=true for this layer (QuantSettings.setInputSigned; in a qat4j config "
                    + "quantization.firstLayerSigned: true when it is the network's first layer), or leave inputSignFromData on so that "
                    + "signedness follows the data");
            return;
        }
        if (s.getInputBits() < 2) {
            throw new IllegalArgumentException("layer '" + layer + "': " + source + " has negative input values (minimum " + min
                    + ") but inputBits is 1: a 1-bit signed range cannot represent them (a symmetric 1-bit grid holds only "
                    + "{0, 2t}); use inputBits >= 2 for this layer");
        }
        INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
        boolean initialized = count != null && count.getDouble(0) > 0;
        if (initialized && (s.getInputMode() == InputQuantMode.LSQ || s.getInputMode() == InputQuantMode.LSQ_PLUS)) {
            INDArray step = params.get(QuantizerParams.INPUT_STEP_KEY);
            double factor = unsignedToSignedStepFactor(s.getInputBits());
            step.putScalar(0, step.getDouble(0) * factor);
            QuantizationWarnings.warnOnce("signed:" + layer, "layer '" + layer + "': " + source + " has negative values (minimum " + min
                    + ") after the input quantizer was initialized unsigned; it is now signed and its step was scaled by " + factor
                    + " to keep its range (half the resolution on the positive side). Calibrate on data that shows the negative "
                    + "values, or set inputSigned=true for this layer");
        }
        s.setInputSigned(true);
    }

    /**
     * The factor an initialized LSQ/LSQ+ input step is multiplied by when its quantizer turns signed:
     * {@code (2^b - 1) / (2^(b-1) - 1)}, the unsigned over the signed positive levels, so that the largest
     * representable value stays where it was (3 at 2 bits, 2.14 at 4 bits, 2.008 at 8 bits).
     *
     * @param bits input bits, 2..8 (a signed grid needs at least 2)
     */
    public static double unsignedToSignedStepFactor(int bits) {
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException("a signed input grid needs 2..16 bits, got " + bits);
        }
        return ((1 << bits) - 1.0) / ((1 << (bits - 1)) - 1.0);
    }

    /** {min, max} of the values; NaN or Inf is an error naming the layer. */
    private static double[] minMax(double[] v, String layer) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double d : v) {
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException("layer '" + layer + "': the input quantizer's batch holds " + d
                        + "; the training diverged or the data is bad (check the data for NaN/Inf, lower the learning rate)");
            }
            lo = Math.min(lo, d);
            hi = Math.max(hi, d);
        }
        return new double[] {lo, hi};
    }

    /** Sets the input range from a calibrated {@code [min, max]} (what a PTQ plan provides); the layer name is for messages. */
    public static void setRange(QuantSettings s, Map<String, INDArray> params, double min, double max, String layer) {
        if (!(min <= max) || !Double.isFinite(min) || !Double.isFinite(max)) {
            throw new IllegalArgumentException("layer '" + layer + "': input range must be finite with min <= max, got [" + min + ", "
                    + max + "]");
        }
        resolveSign(s, params, min, Math.max(-min, Math.abs(max)), layer, "the calibrated range");
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
            case PACT -> params.get(QuantizerParams.INPUT_ALPHA_KEY).putScalar(0,
                    Math.max(s.isInputSigned() ? Math.max(-min, max) : max, PactQuantizer.MIN_ALPHA));
        }
    }

    /** LSQ's initialization {@code 2 mean|x| / sqrt(Qp)} ({@link LsqKernels#initialSteps}); NaN or Inf in the batch is an error. */
    private static double initialLsqStep(QuantSpec spec, double[] v, QuantGroups groups, String layer) {
        for (double d : v) {
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException("layer '" + layer + "': the input quantizer's first batch holds " + d
                        + "; the data is bad or the network diverged");
            }
        }
        return LsqKernels.initialSteps(v, groups, spec.qmax())[0];
    }

    /** LSQ's gradient scale for activations (N = features per sample; {@link LsqQuantizer#activationGradScale}), or 1 when off. */
    static double gradScale(QuantSettings s, INDArray x, int qp) {
        return s.isStepGradientScaling() ? LsqQuantizer.activationGradScale(x.shape(), qp) : 1.0;
    }

    private static void observe(QuantSettings s, double[] v, Map<String, INDArray> params, String layer) {
        double[] range = minMax(v, layer);
        INDArray min = params.get(QuantizerParams.INPUT_MIN_KEY);
        INDArray max = params.get(QuantizerParams.INPUT_MAX_KEY);
        INDArray count = params.get(QuantizerParams.INPUT_COUNT_KEY);
        if (count.getDouble(0) == 0) {
            min.putScalar(0, range[0]);
            max.putScalar(0, range[1]);
        } else {
            double c = s.getAveragingConstant();
            min.putScalar(0, MovingAverageMinMaxObserver.average(min.getDouble(0), range[0], c));
            max.putScalar(0, MovingAverageMinMaxObserver.average(max.getDouble(0), range[1], c));
        }
        count.putScalar(0, count.getDouble(0) + 1);
    }

    private static void requireInitialized(INDArray count, String layer, QuantSettings s) {
        if (count.getDouble(0) == 0) {
            throw new IllegalStateException("layer '" + layer + "': its " + s.getInputMode() + " input quantizer has no range yet "
                    + "(inference before calibration): call QuantizedModel.calibrate(network, batches) with a few batches of typical "
                    + "inputs after QuantizedModel.wrap, or give the range in the plan (QuantizationPlan.Builder.inputRange(\"" + layer
                    + "\", min, max)), or run a training batch first; or switch quantization off for float inference "
                    + "(QuantizedModel.setQuantizationEnabled)");
        }
    }
}
