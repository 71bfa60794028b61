package io.qat4j.ptq;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.InsertedQuantizer;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.ste.BitWidths;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;

/**
 * The result of PTQ: per quantizable layer its weight quantizer, bits, granularity and scales, its
 * input bits and calibrated range (with the derived scale and zero point), whether it stays in
 * float, and the sensitivity figures that chose its bits. Versioned, human-readable JSON
 * ({@link #write}/{@link #read}); every field is validated on construction with a message naming the
 * layer and the field, and {@link #check} matches a plan against a network.
 *
 * <p>A plan (1) makes a PTQ model directly ({@link #toQuantizationPlan} with FIXED inputs, then
 * {@code QuantizedModel.wrap}) and (2) initializes QAT (LSQ weight steps = the plan's scales, LSQ
 * input steps from the calibrated ranges). It applies to the float network it was computed on
 * (after the recipe's batch-norm folding, equalization and bias correction), which PTQ writes next
 * to it.
 *
 * @param format      always {@value #FORMAT}
 * @param version     always {@value #VERSION}
 * @param calibration how the ranges were chosen
 * @param passes      PTQ passes applied to the float network, in order
 * @param layers      one entry per quantizable layer, network order
 * @param allocation  the bit allocation that chose the weight bits, or null for uniform bits
 * @param tensors     calibrated range of every tensor of the float network, by tensor name (the name of
 *                    the vertex that produces it: a layer or graph vertex name, or a network input's
 *                    name, {@code "input"} for a MultiLayerNetwork; see {@link NetworkView}), in network
 *                    order; for the quantizers that graph-mode preparation places on tensors other
 *                    than weighted layers' inputs (Add and concat inputs, pooling inputs, the network
 *                    output), and a separable convolution's depthwise output {@code <layer>/mid} (its
 *                    mid quantizer's range, right before the layer's own tensor). Empty in plans written
 *                    before issue 16 (the field is optional, so they still load); an older qat4j rejects
 *                    a plan that has it as an unknown field.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record QuantPlan(@JsonProperty(required = true) String format, @JsonProperty(required = true) int version,
                        @JsonProperty(required = true) CalibrationInfo calibration, List<String> passes,
                        @JsonProperty(required = true) List<LayerPlan> layers,
                        AllocationInfo allocation,
                        @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, TensorRange> tensors) {

    public static final String FORMAT = "qat4j-quant-plan";
    public static final int VERSION = 1;

    /** A plan without tensor ranges (as written before issue 16). */
    public QuantPlan(String format, int version, CalibrationInfo calibration, List<String> passes, List<LayerPlan> layers,
                     AllocationInfo allocation) {
        this(format, version, calibration, passes, layers, allocation, null);
    }

    @JsonCreator
    public QuantPlan {
        if (!FORMAT.equals(format)) {
            throw new IllegalArgumentException("field 'format' must be \"" + FORMAT + "\", got " + quoted(format));
        }
        if (version != VERSION) {
            throw new IllegalArgumentException("field 'version' " + version + " is not supported; this qat4j reads plan version " + VERSION);
        }
        if (calibration == null) {
            throw new IllegalArgumentException("field 'calibration' is missing");
        }
        if (layers == null || layers.isEmpty()) {
            throw new IllegalArgumentException("field 'layers' is missing or empty");
        }
        Set<String> names = new LinkedHashSet<>();
        for (LayerPlan l : layers) {
            if (l == null) {
                throw new IllegalArgumentException("field 'layers' holds a null entry");
            }
            if (!names.add(l.name())) {
                throw new IllegalArgumentException("layer '" + l.name() + "' appears twice in 'layers'");
            }
        }
        passes = passes == null ? List.of() : List.copyOf(passes);
        layers = List.copyOf(layers);
        Map<String, TensorRange> t = new LinkedHashMap<>();
        if (tensors != null) {
            for (Map.Entry<String, TensorRange> e : tensors.entrySet()) {
                if (e.getKey() == null || e.getKey().isBlank()) {
                    throw new IllegalArgumentException("field 'tensors' has an entry without a tensor name");
                }
                if (e.getValue() == null) {
                    throw new IllegalArgumentException("field 'tensors': tensor '" + e.getKey() + "' has no range");
                }
                t.put(e.getKey(), e.getValue());
            }
        }
        tensors = Collections.unmodifiableMap(t);
    }

    /**
     * The calibrated range of one tensor, for an activation quantizer on it: the same affine
     * quantizer and derivation as a layer's input ({@link LayerPlan#inputScale}), so a quantizer
     * initialized from it and one initialized from a consuming layer's entry at the same width agree.
     *
     * @param bits      activation width the range was calibrated for, 1..16: the common input width of the
     *                  tensor's weighted consumers when they agree, else the recipe's {@code inputBits}
     * @param signed    signed codes (the tensor has negative values)
     * @param min       calibrated range, finite, {@code min <= max}
     * @param max       calibrated range
     * @param scale     scale of the affine quantizer for that range (derived; must agree)
     * @param zeroPoint its zero point (derived; must agree)
     */
    public record TensorRange(@JsonProperty(required = true) int bits, @JsonProperty(required = true) boolean signed,
                              @JsonProperty(required = true) double min, @JsonProperty(required = true) double max,
                              @JsonProperty(required = true) double scale, @JsonProperty(required = true) int zeroPoint) {
        public TensorRange {
            BitWidths.checkInputBits("tensor range: field 'bits'", bits, BitWidths.Target.SIMULATION);
            if (signed && bits < 2) {
                throw new IllegalArgumentException("tensor range: field 'bits' is " + bits + " but 'signed' is true: signed tensors need "
                        + "bits >= 2 (a 1-bit symmetric grid holds only {0, 2t})");
            }
            if (!Double.isFinite(min) || !Double.isFinite(max) || min > max) {
                throw new IllegalArgumentException("tensor range: fields 'min'/'max' must be finite with min <= max, got [" + min + ", " + max + "]");
            }
            QParams qp = LayerPlan.inputQParams(bits, signed, min, max);
            if (Math.abs(qp.scale(0) - scale) > 1e-9 * Math.max(1, qp.scale(0)) || qp.zeroPoint(0) != zeroPoint) {
                throw new IllegalArgumentException("tensor range: fields 'scale'/'zeroPoint' (" + scale + ", " + zeroPoint
                        + ") do not match min/max, which give (" + qp.scale(0) + ", " + qp.zeroPoint(0)
                        + "); edit the range, the scale and zero point are derived from it");
            }
        }

        /**
         * Settings of an activation quantizer on this tensor: {@code inputMode} at {@link #bits}, signed as
         * calibrated, observer off (the range is the plan's); no weights.
         */
        public QuantSettings settings(InputQuantMode inputMode) {
            QuantSettings s = QuantSettings.of(WeightQuantMode.NONE, 8, inputMode, bits);
            s.setInputSigned(signed);
            s.setObserverEnabled(false);
            return s;
        }

        /** A tensor range with the derived scale and zero point filled in. */
        public static TensorRange of(int bits, boolean signed, double min, double max) {
            QParams qp = LayerPlan.inputQParams(bits, signed, min, max);
            return new TensorRange(bits, signed, min, max, qp.scale(0), qp.zeroPoint(0));
        }
    }

    /** How weights are quantized. */
    public enum WeightQuantizer {
        /** Uniform symmetric narrow-range, b bits, scales in the plan. */
        UNIFORM,
        /** Binary {@code alpha sign(w)}, alpha = mean|w| per channel (from the weights). */
        BINARY,
        /** Ternary (TWN), threshold 0.7 mean|w|, alpha from the weights. */
        TERNARY
    }

    /**
     * Calibration settings.
     *
     * @param method      activation calibrator name (e.g. "entropy", "percentile-99.99")
     * @param samples     calibration samples used
     * @param weightRange weight-scale method ("minmax" or "mse")
     */
    public record CalibrationInfo(@JsonProperty(required = true) String method, @JsonProperty(required = true) long samples,
                                  @JsonProperty(required = true) String weightRange) {
        public CalibrationInfo {
            if (method == null || method.isBlank()) {
                throw new IllegalArgumentException("field 'calibration.method' is missing");
            }
            if (samples < 1) {
                throw new IllegalArgumentException("field 'calibration.samples' must be >= 1, got " + samples);
            }
        }
    }

    /**
     * How the weight bits were allocated.
     *
     * @param method           "exact" (knapsack DP), "greedy" or "model"
     * @param averageBits      target average weight bits
     * @param budgetBits       the budget {@code B = averageBits * sum n_l}
     * @param costBits         {@code sum n_l b_l} of the chosen bits
     * @param totalSensitivity {@code sum S_l(b_l)}
     * @param candidates       the allocations measured on a validation split before choosing (the chosen one included), or
     *                         null when the allocation was taken from the sensitivity sum alone
     */
    public record AllocationInfo(String method, double averageBits, long budgetBits, long costBits, double totalSensitivity,
                                 @JsonInclude(JsonInclude.Include.NON_NULL) List<Candidate> candidates) {

        /** An allocation without validation candidates. */
        public AllocationInfo(String method, double averageBits, long budgetBits, long costBits, double totalSensitivity) {
            this(method, averageBits, budgetBits, costBits, totalSensitivity, null);
        }

        /** The same allocation with the measured candidates recorded. */
        public AllocationInfo withCandidates(List<Candidate> measured) {
            return new AllocationInfo(method, averageBits, budgetBits, costBits, totalSensitivity, measured);
        }

        public AllocationInfo {
            candidates = candidates == null ? null : List.copyOf(candidates);
            if (!(averageBits > 0) || Double.isInfinite(averageBits)) {
                throw new IllegalArgumentException("field 'allocation.averageBits' must be finite and > 0, got " + averageBits);
            }
            if (budgetBits < 0 || costBits < 0) {
                throw new IllegalArgumentException("fields 'allocation.budgetBits' and 'allocation.costBits' must be >= 0, got "
                        + budgetBits + " and " + costBits);
            }
        }
    }

    /**
     * One allocation measured before choosing (mixed precision).
     *
     * @param method             "exact#k" (the k-th least total sensitivity) or "uniform"
     * @param bits               weight bits per layer
     * @param costBits           {@code sum n_l b_l}
     * @param totalSensitivity   {@code sum S_l(b_l)}, the prediction
     * @param validationAccuracy the PTQ network's accuracy on the validation split, the measurement
     */
    public record Candidate(String method, Map<String, Integer> bits, long costBits, double totalSensitivity, double validationAccuracy) {
        public Candidate {
            bits = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(bits));
        }
    }

    /**
     * Sensitivity figures of a layer: distance between the float and the perturbed network outputs
     * when only this layer's weights (or only its input) are quantized, by width.
     *
     * @param metric            "kl" or "mse"
     * @param weights           S_l(b) for weights, keyed by bits
     * @param inputs            S_l(b) for the input activations, keyed by bits
     * @param perChannelBits    width of the per-channel weight figures (0 when not measured)
     * @param perChannelWeights S for quantizing one output channel alone, per channel (null when not measured)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Sensitivity(String metric, Map<Integer, Double> weights, Map<Integer, Double> inputs, int perChannelBits,
                              double[] perChannelWeights) {
        public Sensitivity {
            weights = checked("weights", weights);
            inputs = checked("inputs", inputs);
            if (perChannelBits != 0) {
                BitWidths.checkWeightBits("field 'sensitivity.perChannelBits' (0 when not measured)", perChannelBits, BitWidths.Target.SIMULATION);
            }
        }

        private static Map<Integer, Double> checked(String field, Map<Integer, Double> byBits) {
            if (byBits == null) {
                return Map.of();
            }
            for (Map.Entry<Integer, Double> e : byBits.entrySet()) {
                if (e.getKey() == null || !BitWidths.isInputBits(e.getKey(), BitWidths.Target.SIMULATION) || e.getValue() == null) {
                    throw new IllegalArgumentException("field 'sensitivity." + field + "' maps bits "
                            + BitWidths.inputRange(BitWidths.Target.SIMULATION) + " to a figure, got "
                            + e.getKey() + ": " + e.getValue());
                }
            }
            return new TreeMap<>(byBits);
        }
    }

    /**
     * One layer's plan. A SEPARABLE layer has two weight tensors at the one width {@code weightBits}
     * (its depthwise W under {@code weightScales}, its pointwise pW under
     * {@code pointwiseWeightScales}) and a third activation quantizer, on its depthwise output, whose
     * range is the plan's tensor {@code <layer>/mid} ({@link QuantPlan#tensors()}).
     *
     * @param name            DL4J layer name
     * @param kind            CONV, DENSE, DEPTHWISE or SEPARABLE
     * @param weights         number of weights n_l, over all of the layer's weight tensors
     * @param weightQuantizer UNIFORM, BINARY or TERNARY
     * @param weightBits      {@link BitWidths} 2..16 for UNIFORM, 1 for BINARY, 2 for TERNARY
     * @param perChannel      one weight scale per output channel (true) or per tensor
     * @param weightScales    UNIFORM: scales > 0 of W, one per output channel or one (a depthwise kernel: one per output
     *                        channel {@code o = c mult + m}, {@link WeightedLayer}); BINARY/TERNARY: null
     * @param pointwiseWeightScales SEPARABLE with UNIFORM weights: scales > 0 of pW, one per output channel or one;
     *                        otherwise null (absent from the JSON)
     * @param inputBits       {@link BitWidths} 1..16 (the INT8 runtime takes 1..8)
     * @param inputSigned     signed input codes (the data has negative values)
     * @param inputMin        calibrated range, finite, {@code inputMin <= inputMax}
     * @param inputMax        calibrated range
     * @param inputScale      scale of the affine input quantizer for that range (derived; must agree)
     * @param inputZeroPoint  its zero point (derived; must agree)
     * @param keepFloat       the layer stays in float (partial quantization)
     * @param sensitivity     sensitivity figures, or null
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LayerPlan(@JsonProperty(required = true) String name, @JsonProperty(required = true) WeightedLayer.Kind kind,
                            @JsonProperty(required = true) long weights, @JsonProperty(required = true) WeightQuantizer weightQuantizer,
                            @JsonProperty(required = true) int weightBits, @JsonProperty(required = true) boolean perChannel,
                            double[] weightScales, double[] pointwiseWeightScales, @JsonProperty(required = true) int inputBits,
                            @JsonProperty(required = true) boolean inputSigned, @JsonProperty(required = true) double inputMin,
                            @JsonProperty(required = true) double inputMax, @JsonProperty(required = true) double inputScale,
                            @JsonProperty(required = true) int inputZeroPoint, @JsonProperty(required = true) boolean keepFloat,
                            Sensitivity sensitivity) {
        public LayerPlan {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("a layer entry has no 'name'");
            }
            String at = "layer '" + name + "': field ";
            if (kind == null) {
                throw new IllegalArgumentException(at + "'kind' is missing (CONV, DENSE, DEPTHWISE or SEPARABLE)");
            }
            if (weights < 1) {
                throw new IllegalArgumentException(at + "'weights' must be >= 1, got " + weights);
            }
            if (weightQuantizer == null) {
                throw new IllegalArgumentException(at + "'weightQuantizer' is missing (UNIFORM, BINARY or TERNARY)");
            }
            switch (weightQuantizer) {
                case UNIFORM -> {
                    BitWidths.checkWeightBits(at + "'weightBits'", weightBits, BitWidths.Target.SIMULATION);
                    if (weightScales == null || weightScales.length == 0) {
                        throw new IllegalArgumentException(at + "'weightScales' is missing; UNIFORM weights need one scale per channel or one");
                    }
                    weightScales = checkedScales(at, "weightScales", weightScales);
                    if (kind == WeightedLayer.Kind.SEPARABLE) {
                        if (pointwiseWeightScales == null || pointwiseWeightScales.length == 0) {
                            throw new IllegalArgumentException(at + "'pointwiseWeightScales' is missing; a SEPARABLE layer with UNIFORM weights "
                                    + "needs the scales of its pointwise weights (one per output channel or one) besides its depthwise 'weightScales'");
                        }
                        pointwiseWeightScales = checkedScales(at, "pointwiseWeightScales", pointwiseWeightScales);
                    } else if (pointwiseWeightScales != null) {
                        throw new IllegalArgumentException(at + "'pointwiseWeightScales' must be absent for a " + kind
                                + " layer (only a SEPARABLE layer has pointwise weights)");
                    }
                }
                case BINARY, TERNARY -> {
                    int expected = weightQuantizer == WeightQuantizer.BINARY ? 1 : 2;
                    if (weightBits != expected) {
                        throw new IllegalArgumentException(at + "'weightBits' must be " + expected + " for " + weightQuantizer + " weights, got " + weightBits);
                    }
                    if (weightScales != null || pointwiseWeightScales != null) {
                        throw new IllegalArgumentException(at + "'" + (weightScales != null ? "weightScales" : "pointwiseWeightScales")
                                + "' must be absent for " + weightQuantizer + " weights (their scale comes from the weights)");
                    }
                }
            }
            BitWidths.checkInputBits(at + "'inputBits'", inputBits, BitWidths.Target.SIMULATION);
            if (inputSigned && inputBits < 2) {
                throw new IllegalArgumentException(at + "'inputBits' is " + inputBits + " but 'inputSigned' is true: signed inputs need "
                        + "inputBits >= 2 (a 1-bit symmetric grid holds only {0, 2t})");
            }
            if (!Double.isFinite(inputMin) || !Double.isFinite(inputMax) || inputMin > inputMax) {
                throw new IllegalArgumentException(at + "'inputMin'/'inputMax' must be finite with inputMin <= inputMax, got ["
                        + inputMin + ", " + inputMax + "]");
            }
            if (!(inputScale > 0) || Double.isInfinite(inputScale)) {
                throw new IllegalArgumentException(at + "'inputScale' is " + inputScale + "; scales must be finite and > 0");
            }
            QParams qp = inputQParams(inputBits, inputSigned, inputMin, inputMax);
            if (Math.abs(qp.scale(0) - inputScale) > 1e-9 * Math.max(1, qp.scale(0)) || qp.zeroPoint(0) != inputZeroPoint) {
                throw new IllegalArgumentException(at + "'inputScale'/'inputZeroPoint' (" + inputScale + ", " + inputZeroPoint
                        + ") do not match inputMin/inputMax, which give (" + qp.scale(0) + ", " + qp.zeroPoint(0)
                        + "); edit the range, the scale and zero point are derived from it");
            }
        }

        private static double[] checkedScales(String at, String field, double[] scales) {
            for (int i = 0; i < scales.length; i++) {
                if (!(scales[i] > 0) || Double.isInfinite(scales[i])) {
                    throw new IllegalArgumentException(at + "'" + field + "[" + i + "]' is " + scales[i] + "; scales must be finite and > 0");
                }
            }
            return scales.clone();
        }

        /** A layer plan of a layer with one weight tensor (not SEPARABLE), with the derived input scale and zero point filled in. */
        public static LayerPlan of(String name, WeightedLayer.Kind kind, long weights, WeightQuantizer quantizer, int weightBits,
                                   boolean perChannel, double[] weightScales, int inputBits, boolean inputSigned, double inputMin,
                                   double inputMax, boolean keepFloat, Sensitivity sensitivity) {
            return of(name, kind, weights, quantizer, weightBits, perChannel, weightScales, null, inputBits, inputSigned, inputMin,
                    inputMax, keepFloat, sensitivity);
        }

        /** A layer plan (any kind; {@code pointwiseWeightScales} for a SEPARABLE layer), with the derived input scale and zero point filled in. */
        public static LayerPlan of(String name, WeightedLayer.Kind kind, long weights, WeightQuantizer quantizer, int weightBits,
                                   boolean perChannel, double[] weightScales, double[] pointwiseWeightScales, int inputBits,
                                   boolean inputSigned, double inputMin, double inputMax, boolean keepFloat, Sensitivity sensitivity) {
            QParams qp = inputQParams(inputBits, inputSigned, inputMin, inputMax);
            return new LayerPlan(name, kind, weights, quantizer, weightBits, perChannel, weightScales, pointwiseWeightScales, inputBits,
                    inputSigned, inputMin, inputMax, qp.scale(0), qp.zeroPoint(0), keepFloat, sensitivity);
        }

        /** The scales of one of the layer's weight tensors (null for BINARY/TERNARY weights). */
        public double[] scales(WeightedLayer.Tensor tensor) {
            return switch (tensor) {
                case WEIGHTS -> weightScales == null ? null : weightScales.clone();
                case POINTWISE -> {
                    if (kind != WeightedLayer.Kind.SEPARABLE) {
                        throw new IllegalArgumentException("layer '" + name + "' is " + kind + "; only a SEPARABLE layer has pointwise weights");
                    }
                    yield pointwiseWeightScales == null ? null : pointwiseWeightScales.clone();
                }
            };
        }

        static QParams inputQParams(int bits, boolean signed, double min, double max) {
            return QParams.fromRange(QuantSpec.activations(bits, signed), new double[] {min}, new double[] {max});
        }

        /** The layers-module settings of this entry: FIXED or LSQ weights from the plan, the given input mode. */
        public QuantSettings settings(InputQuantMode inputMode) {
            QuantSettings s = new QuantSettings();
            s.setWeightMode(switch (weightQuantizer) {
                case UNIFORM -> WeightQuantMode.LSQ;
                case BINARY -> WeightQuantMode.BINARY;
                case TERNARY -> WeightQuantMode.TERNARY;
            });
            s.setWeightBits(weightQuantizer == WeightQuantizer.UNIFORM ? weightBits : 8);
            s.setWeightPerChannel(perChannel);
            s.setInputMode(inputMode);
            s.setInputBits(inputBits);
            s.setInputSigned(inputSigned);
            s.setObserverEnabled(false);
            return s;
        }

        /** The same entry with other weight bits and scales (a layer with one weight tensor; a SEPARABLE layer with UNIFORM weights fails: give both). */
        public LayerPlan withWeights(WeightQuantizer quantizer, int bits, double[] scales) {
            return withWeights(quantizer, bits, scales, null);
        }

        /** The same entry with other weight bits and scales, {@code pointwiseScales} for a SEPARABLE layer's pW. */
        public LayerPlan withWeights(WeightQuantizer quantizer, int bits, double[] scales, double[] pointwiseScales) {
            return new LayerPlan(name, kind, weights, quantizer, bits, perChannel, scales, pointwiseScales, inputBits, inputSigned, inputMin,
                    inputMax, inputScale, inputZeroPoint, keepFloat, sensitivity);
        }

        public LayerPlan withKeepFloat(boolean keep) {
            return new LayerPlan(name, kind, weights, weightQuantizer, weightBits, perChannel, weightScales, pointwiseWeightScales, inputBits,
                    inputSigned, inputMin, inputMax, inputScale, inputZeroPoint, keep, sensitivity);
        }

        public LayerPlan withSensitivity(Sensitivity s) {
            return new LayerPlan(name, kind, weights, weightQuantizer, weightBits, perChannel, weightScales, pointwiseWeightScales, inputBits,
                    inputSigned, inputMin, inputMax, inputScale, inputZeroPoint, keepFloat, s);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof LayerPlan l && name.equals(l.name) && kind == l.kind && weights == l.weights
                    && weightQuantizer == l.weightQuantizer && weightBits == l.weightBits && perChannel == l.perChannel
                    && java.util.Arrays.equals(weightScales, l.weightScales)
                    && java.util.Arrays.equals(pointwiseWeightScales, l.pointwiseWeightScales) && inputBits == l.inputBits && inputSigned == l.inputSigned
                    && inputMin == l.inputMin && inputMax == l.inputMax && keepFloat == l.keepFloat;
        }

        @Override
        public int hashCode() {
            return name.hashCode();
        }
    }

    /** The entry of a layer. */
    public LayerPlan layer(String name) {
        for (LayerPlan l : layers) {
            if (l.name().equals(name)) {
                return l;
            }
        }
        throw new IllegalArgumentException("the plan has no layer '" + name + "'");
    }

    /** A copy with other layer entries (same order) and allocation (tensor ranges kept). */
    public QuantPlan with(List<LayerPlan> newLayers, AllocationInfo newAllocation) {
        return new QuantPlan(format, version, calibration, passes, newLayers, newAllocation, tensors);
    }

    /**
     * The calibrated range of a tensor, by the name of the vertex that produces it (or a network
     * input's name; see {@link NetworkView}).
     *
     * @throws IllegalArgumentException naming the tensors the plan has (none in a plan written before issue 16)
     */
    public TensorRange tensor(String name) {
        TensorRange r = tensors.get(name);
        if (r == null) {
            throw new IllegalArgumentException("the plan has no range for tensor '" + name + "'; it has "
                    + (tensors.isEmpty() ? "none (written before issue 16: re-run ptq)" : tensors.keySet()));
        }
        return r;
    }

    /**
     * Checks that the plan fits the network (a MultiLayerNetwork or ComputationGraph): the same
     * quantizable layers (no missing or extra names), kinds, weight counts and scale counts, and
     * tensor ranges only for tensors the network has. Throws with the layer or tensor and the field
     * named.
     */
    public void check(Model net) {
        NetworkView view = NetworkView.of(net);
        List<WeightedLayer> weighted = WeightedLayer.of(view);
        List<String> missing = new ArrayList<>();
        for (WeightedLayer w : weighted) {
            if (layers.stream().noneMatch(l -> l.name().equals(w.name()))) {
                missing.add(w.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("the plan has no entry for layer(s) " + missing + " of the network; re-run ptq on this network");
        }
        for (LayerPlan l : layers) {
            WeightedLayer w = weighted.stream().filter(x -> x.name().equals(l.name())).findFirst().orElseThrow(() ->
                    new IllegalArgumentException("layer '" + l.name() + "' of the plan is not a quantizable layer of the network; the network has "
                            + weighted.stream().map(WeightedLayer::name).toList()));
            if (w.kind() != l.kind()) {
                throw new IllegalArgumentException("layer '" + l.name() + "': field 'kind' is " + l.kind() + " but the network's layer is " + w.kind());
            }
            if (w.weights() != l.weights()) {
                throw new IllegalArgumentException("layer '" + l.name() + "': field 'weights' is " + l.weights() + " but the network's layer has "
                        + w.weights() + " weights");
            }
            for (WeightedLayer.Tensor t : w.tensors()) {
                double[] scales = l.scales(t);
                if (scales == null) {
                    continue;
                }
                INDArray wt = w.read(view.layer(w.name()), t);
                long channels = l.perChannel() ? wt.size(w.outAxis(t)) : 1;
                if (scales.length != channels) {
                    String field = t == WeightedLayer.Tensor.WEIGHTS ? "weightScales" : "pointwiseWeightScales";
                    throw new IllegalArgumentException("layer '" + l.name() + "': field '" + field + "' has " + scales.length
                            + " entries but the layer needs " + channels + (l.perChannel() ? " (one per output channel)" : " (per tensor)"));
                }
            }
        }
        List<String> names = new ArrayList<>(view.tensors());
        for (WeightedLayer w : weighted) {
            if (w.kind() == WeightedLayer.Kind.SEPARABLE) {
                names.add(w.midTensor());
            }
        }
        for (String t : tensors.keySet()) {
            if (!names.contains(t)) {
                throw new IllegalArgumentException("tensor '" + t + "' of the plan is not a tensor of the network (tensors are named after "
                        + "the vertex producing them, a separable convolution's depthwise output '<layer>/mid'); the network has " + names
                        + "; re-run ptq on this network");
            }
        }
    }

    /**
     * The layers-module plan: per layer its settings with {@code inputMode} (FIXED for a PTQ model,
     * LSQ/PACT to start QAT), the calibrated input range, UNIFORM weight scales as LSQ steps, and
     * keep-float layers. The activation quantizers graph-mode preparation places elsewhere get the
     * disabled defaults here; {@link #toQuantizationPlan(InputQuantMode, QuantizedModel.Wrapped)}
     * gives them their tensors' ranges.
     */
    public QuantizationPlan toQuantizationPlan(InputQuantMode inputMode) {
        return layerPlans(inputMode).build();
    }

    /**
     * {@link #toQuantizationPlan(InputQuantMode)} plus every activation quantizer that graph-mode
     * preparation placed in {@code placed} (the same float network wrapped with that plan; names are
     * deterministic, so wrapping again with this plan places the same quantizers): each gets
     * {@code inputMode} at its tensor's bits and signedness and its tensor's calibrated range
     * ({@link TensorRange#settings}), the tensor being the one it quantizes
     * ({@link InsertedQuantizer#tensor}); after an activation that wrap split off a weighted layer
     * ({@code <layer>_act}), the layer's own tensor, which is the float network's output of the
     * layer, activation included. The quantizer on such a layer's pre-activations quantizes a tensor
     * the float network never exposed, so calibration has no range for it: it gets the settings of
     * the layer's tensor and no range ({@link #unranged}).
     *
     * @throws IllegalArgumentException naming a placed quantizer whose tensor has no range in the plan
     *                                  (a plan written before issue 16 has none: re-run ptq)
     */
    public QuantizationPlan toQuantizationPlan(InputQuantMode inputMode, QuantizedModel.Wrapped<?> placed) {
        QuantizationPlan.Builder b = layerPlans(inputMode);
        for (InsertedQuantizer q : placed.insertedQuantizers().values()) {
            String producer = producer(q.tensor(), placed);
            TensorRange r = tensor(producer == null ? q.tensor() : producer);
            b.layer(q.name(), r.settings(inputMode));
            if (!placed.splitActivations().containsKey(q.tensor())) {
                b.inputRange(q.name(), r.min(), r.max());
            }
        }
        return b.build();
    }

    /**
     * The quantizers of {@code placed} that {@link #toQuantizationPlan(InputQuantMode, QuantizedModel.Wrapped)}
     * gives no range, quantizer name to the weighted layer whose pre-activations they quantize.
     */
    public static Map<String, String> unranged(QuantizedModel.Wrapped<?> placed) {
        Map<String, String> out = new LinkedHashMap<>();
        for (InsertedQuantizer q : placed.insertedQuantizers().values()) {
            if (placed.splitActivations().containsKey(q.tensor())) {
                out.put(q.name(), q.tensor());
            }
        }
        return out;
    }

    /** The weighted layer whose activation wrap split off into {@code tensor} ({@code <layer>_act}), or null. */
    private static String producer(String tensor, QuantizedModel.Wrapped<?> placed) {
        for (Map.Entry<String, String> e : placed.splitActivations().entrySet()) {
            if (e.getValue().equals(tensor)) {
                return e.getKey();
            }
        }
        return null;
    }

    /**
     * Per layer its settings, input range, weight scales and keep-float flag; a SEPARABLE layer's
     * pointwise scales under {@code <layer>/pointwise} and, unless it stays in float, its mid
     * quantizer's range from the tensor {@code <layer>/mid}.
     *
     * @throws IllegalArgumentException naming the mid tensor when a quantized SEPARABLE layer has no range for it
     */
    private QuantizationPlan.Builder layerPlans(InputQuantMode inputMode) {
        QuantizationPlan.Builder b = QuantizationPlan.builder(QuantSettings.disabled());
        for (LayerPlan l : layers) {
            b.layer(l.name(), l.settings(inputMode));
            b.inputRange(l.name(), l.inputMin(), l.inputMax());
            if (l.weightScales() != null) {
                b.weightScales(l.name(), l.weightScales());
            }
            if (l.kind() == WeightedLayer.Kind.SEPARABLE) {
                if (l.pointwiseWeightScales() != null) {
                    b.weightScales(QuantizedSeparableConvolutionLayer.pointwiseName(l.name()), l.pointwiseWeightScales());
                }
                if (!l.keepFloat()) {
                    TensorRange mid = tensor(QuantizedSeparableConvolutionLayer.midQuantizerName(l.name()));
                    b.inputRange(QuantizedSeparableConvolutionLayer.midQuantizerName(l.name()), mid.min(), mid.max());
                }
            }
            if (l.keepFloat()) {
                b.keepFloat(l.name());
            }
        }
        return b;
    }

    /**
     * Reads every field as exactly its JSON type: Jackson's defaults would read {@code "weightBits": 8.9}
     * as 8, {@code "8"} as 8, {@code 1} as true and {@code 0} as the first enum constant (issue 14 §9).
     * Strings stay allowed for floating-point fields only, where Jackson writes NaN as {@code "NaN"}.
     */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
            .withCoercionConfig(LogicalType.Integer, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Boolean, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail))
            .withCoercionConfig(LogicalType.Enum, c -> c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail))
            .build();

    /** Writes the plan as JSON: to a temporary file, then an atomic rename. */
    public void write(Path file) throws IOException {
        AtomicFiles.write(file, out -> JSON.writeValue(out, this));
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads and validates a plan; any problem is a {@link QuantPlanFormatException} naming the file, layer and field. */
    public static QuantPlan read(Path file) {
        try {
            return JSON.readValue(file.toFile(), QuantPlan.class);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new QuantPlanFormatException(file + ": no such plan file; write one with `qat4j ptq`");
        } catch (ValueInstantiationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new QuantPlanFormatException(file + ": " + cause.getMessage() + (e.getPath().isEmpty() ? "" : " (at " + path(e) + ")"), e);
        } catch (JsonMappingException e) {
            throw new QuantPlanFormatException(file + ": " + e.getOriginalMessage() + " at " + path(e), e);
        } catch (IOException e) {
            throw new QuantPlanFormatException(file + ": not a readable plan: " + e.getMessage(), e);
        }
    }

    private static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            sb.append(r.getFieldName() != null ? "." + r.getFieldName() : "[" + r.getIndex() + "]");
        }
        return sb.length() == 0 ? "the top level" : sb.substring(sb.charAt(0) == '.' ? 1 : 0);
    }

    private static String quoted(String s) {
        return s == null ? "nothing" : "\"" + s + "\"";
    }
}
