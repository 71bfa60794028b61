package io.qat4j.training.experiment;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import com.fasterxml.jackson.annotation.JsonInclude;

import io.qat4j.ptq.QuantPlan;
import io.qat4j.training.config.ExperimentConfig;

/**
 * The result of one variant of an experiment. Which parts are present follows from {@link #status}
 * and is checked on construction: a failed variant has its error and time only; a variant whose
 * network kept layers in float has its plan and fake-quant accuracy but no integer model; an
 * exported one has everything. Paths are relative to the experiment's output directory.
 *
 * @param name              the variant's name (unique in the experiment)
 * @param method            what ran, in words ("PTQ percentile", "QAT LSQ/LSQ + KD from PTQ plan")
 * @param status            which of the three outcomes
 * @param error             {@link Status#FAILED}: the exception's class and message; otherwise null
 * @param quantization      not {@link Status#FAILED}: the plan that was applied; otherwise null
 * @param simulatedAccuracy not {@link Status#FAILED}: test accuracy in [0, 1] of the quantized DL4J network (fake
 *                          quantization in float); otherwise null
 * @param int8              {@link Status#EXPORTED}: the integer model and its accuracy in the INT8 runtime; otherwise null
 * @param timing            wall-clock seconds
 * @param target            the accuracy target's check, or null when the variant has none
 * @param provenance        revision, version, seed and configuration this result was produced with
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VariantResult(String name, String method, Status status, String error, Quantization quantization, Double simulatedAccuracy,
                            Int8 int8, Timing timing, TargetCheck target, StageProvenance<ExperimentConfig.Variant> provenance) {

    /** How a variant ended. */
    public enum Status {
        /** Quantized, exported to an integer model and evaluated in the INT8 runtime. */
        EXPORTED,
        /** Quantized and evaluated as the fake-quant network; layers kept in float (partial quantization) leave no integer model. */
        NOT_EXPORTABLE,
        /** An exception stopped it; the other variants still ran. */
        FAILED
    }

    /**
     * The quantization a variant applied.
     *
     * @param weights     weight bits in words ("4", "3 (first/last 8)", "mixed 3.02 avg", "ternary")
     * @param inputs      input (activation) bits in words
     * @param layerBits   weight bits per weighted layer, by layer name
     * @param sensitivity per-layer sensitivity {@code S_l(b)} when the variant measured it, else null
     * @param passes      the PTQ passes that ran, in order
     * @param keptInFloat layers left in float and why (empty unless {@link Status#NOT_EXPORTABLE})
     * @param plan        the PTQ plan file, relative to the output directory
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Quantization(String weights, String inputs, Map<String, Integer> layerBits, Map<String, QuantPlan.Sensitivity> sensitivity,
                               List<String> passes, Map<String, String> keptInFloat, String plan) {
        public Quantization {
            Objects.requireNonNull(weights, "weights");
            Objects.requireNonNull(inputs, "inputs");
            layerBits = ordered(Objects.requireNonNull(layerBits, "layerBits"));
            sensitivity = sensitivity == null ? null : ordered(sensitivity);
            passes = List.copyOf(Objects.requireNonNull(passes, "passes"));
            keptInFloat = keptInFloat == null ? Map.of() : ordered(keptInFloat);
            Objects.requireNonNull(plan, "plan");
        }
    }

    /** An unmodifiable copy that keeps the layer order. */
    private static <V> Map<String, V> ordered(Map<String, V> m) {
        return Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }

    /**
     * The exported integer model, evaluated in qat4j's INT8 runtime on the test set.
     *
     * @param accuracy   test accuracy in [0, 1]
     * @param agreement  share of test images, in [0, 1], where its argmax equals the fake-quant network's
     * @param modelBytes size of the model file
     * @param sizeRatio  model bytes / FP32 parameter bytes
     * @param model      the model file, relative to the output directory
     * @param epoch      QAT variants: the training epoch (1-based) whose network the model file holds, the last one trained;
     *                   null for PTQ variants (and results of qat4j before it was recorded)
     * @param bestEpoch  QAT variants: the epoch whose network {@code best.zip} beside the model file holds, the one of best
     *                   validation accuracy (what {@code qat4j export .../best.zip} exports); null where {@code epoch} is
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Int8(double accuracy, double agreement, long modelBytes, double sizeRatio, String model, Integer epoch,
                       Integer bestEpoch) {
        public Int8 {
            Objects.requireNonNull(model, "model");
            if ((epoch == null) != (bestEpoch == null) || (epoch != null && !(bestEpoch >= 1 && bestEpoch <= epoch))) {
                throw new IllegalArgumentException("int8: epoch and bestEpoch come together, 1 <= bestEpoch <= epoch; got " + epoch
                        + " and " + bestEpoch);
            }
        }

        /** A PTQ variant's integer model (no training epochs). */
        public Int8(double accuracy, double agreement, long modelBytes, double sizeRatio, String model) {
            this(accuracy, agreement, modelBytes, sizeRatio, model, null, null);
        }
    }

    /**
     * Seconds of wall-clock time, each what the variant costs on its own: {@code calibrationSeconds + trainSeconds <=
     * totalSeconds}. Variants with the same calibration settings share one calibration pass; it counts in the
     * calibration and total time of each of them, so the totals of an experiment add up to more than its wall time
     * ({@link ExperimentResults#seconds}).
     *
     * @param calibrationSeconds calibration and PTQ passes, the shared calibration pass included; null when the variant
     *                           failed
     * @param trainSeconds       QAT training, null for PTQ variants and failures
     * @param totalSeconds       the whole variant: calibration (the shared pass included), training, export, evaluation
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Timing(Double calibrationSeconds, Double trainSeconds, double totalSeconds) {
    }

    /**
     * An accuracy target and whether the variant met it.
     *
     * @param target what was asked, in words ("<= 1.0 pp below fp32")
     * @param met    true when met; false when missed or when the variant or its reference has no accuracy
     */
    public record TargetCheck(String target, boolean met) {
        public TargetCheck {
            Objects.requireNonNull(target, "target");
        }
    }

    public VariantResult {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(timing, "timing");
        Objects.requireNonNull(provenance, "provenance");
        String problem = switch (status) {
            case EXPORTED -> error != null || quantization == null || simulatedAccuracy == null || int8 == null
                    ? "an exported variant has its quantization, simulated accuracy and int8 result, and no error" : null;
            case NOT_EXPORTABLE -> error != null || quantization == null || simulatedAccuracy == null || int8 != null
                    || quantization.keptInFloat().isEmpty()
                    ? "a variant that is not exportable has its quantization (with the layers kept in float) and simulated accuracy, "
                    + "and no int8 result or error" : null;
            case FAILED -> error == null || quantization != null || simulatedAccuracy != null || int8 != null
                    ? "a failed variant has its error and nothing of a quantization, accuracy or int8 result" : null;
        };
        if (problem != null) {
            throw new IllegalArgumentException("variant " + name + " (" + status + "): " + problem);
        }
    }

    /** A variant that an exception stopped after {@code seconds}. */
    public static VariantResult failed(String name, String method, String error, double seconds,
                                       StageProvenance<ExperimentConfig.Variant> provenance) {
        return new VariantResult(name, method, Status.FAILED, error, null, null, null, new Timing(null, null, seconds), null, provenance);
    }

    /**
     * The accuracy the report compares, in [0, 1]: the INT8 runtime's when exported, else the fake-quant
     * network's; null for a failed variant.
     */
    public Double accuracy() {
        return switch (status) {
            case EXPORTED -> int8.accuracy();
            case NOT_EXPORTABLE -> simulatedAccuracy;
            case FAILED -> null;
        };
    }

    /** This result with its target's check. */
    public VariantResult withTarget(TargetCheck t) {
        return new VariantResult(name, method, status, error, quantization, simulatedAccuracy, int8, timing, t, provenance);
    }
}
