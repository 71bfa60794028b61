package io.qat4j.training.config;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;

import io.qat4j.ptq.QuantPlan;

/**
 * A PTQ-vs-QAT experiment ({@code qat4j experiment}): one FP32 model (trained here or loaded), then
 * every listed variant from it, each exported and evaluated in the INT8 runtime. Each variant is
 * validated as the {@link RunConfig} it becomes (same keys, same messages, prefixed with the
 * variant's place in the list). Read from YAML by {@link ConfigLoader}, or built in code (the static
 * factories of {@link Fp32}, {@link Variant} and {@link Target}) and run with
 * {@link io.qat4j.training.experiment.Experiment}.
 *
 * @param name     experiment name, required
 * @param seed     seed for data order, initialization and every variant (default 1)
 * @param data     data of all runs (as in a run config)
 * @param fp32     the FP32 model: {@code model} (a DL4J zip to load) or {@code train} (a schedule), required
 * @param variants the variants, in report order, required, names unique
 * @param diagnostics per-layer diagnostics of every variant (default on, {@link Diagnostics#DEFAULT_SAMPLES} samples)
 */
public record ExperimentConfig(@JsonProperty(required = true) String name, Long seed, RunConfig.Data data,
                               @JsonProperty(required = true) Fp32 fp32, @JsonProperty(required = true) List<Variant> variants,
                               Diagnostics diagnostics) {

    /** An experiment with the default diagnostics. */
    public ExperimentConfig(String name, Long seed, RunConfig.Data data, Fp32 fp32, List<Variant> variants) {
        this(name, seed, data, fp32, variants, null);
    }

    public ExperimentConfig {
        if (name == null || !name.matches("[A-Za-z0-9._+-]+")) {
            throw new IllegalArgumentException("name must be a non-empty word of letters, digits and . _ + -, got " + name);
        }
        seed = seed == null ? 1L : seed;
        data = data == null ? new RunConfig.Data(null, null, null, null, null, null, null) : data;
        if (variants == null || variants.isEmpty()) {
            throw new IllegalArgumentException("variants: list at least one variant");
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < variants.size(); i++) {
            Variant v = variants.get(i);
            if (v == null) {
                throw new IllegalArgumentException("variants[" + i + "] is empty");
            }
            if (!names.add(v.name())) {
                throw new IllegalArgumentException("variants[" + i + "]: the name '" + v.name() + "' is used twice");
            }
            try {
                v.toRunConfig(seed, data, "fp32.zip");
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("variants[" + i + "] (" + v.name() + "): " + e.getMessage(), e);
            }
        }
        for (Variant v : variants) {
            if (v.target() != null && !v.target().vs().equals("fp32") && !names.contains(v.target().vs())) {
                throw new IllegalArgumentException("variant " + v.name() + ": target.vs '" + v.target().vs()
                        + "' is neither fp32 nor a variant name");
            }
        }
        variants = List.copyOf(variants);
        diagnostics = diagnostics == null ? new Diagnostics(null, null) : diagnostics;
    }

    /**
     * Per-layer diagnostics ({@link io.qat4j.ptq.LayerDiagnostics}) of each variant, written to the
     * variant's {@code diagnostics.json}/{@code .csv} and a section of the report: on the validation split
     * when the data has one, else on the test set (the report says which).
     *
     * @param samples samples analysed, >= 0 (default {@value #DEFAULT_SAMPLES}); 0 turns the diagnostics off
     * @param bins    bins of each layer's input histogram, 2..1000 (default {@value #DEFAULT_BINS})
     */
    public record Diagnostics(Integer samples, Integer bins) {
        public static final int DEFAULT_SAMPLES = 1000;
        public static final int DEFAULT_BINS = 60;

        public Diagnostics {
            samples = samples == null ? DEFAULT_SAMPLES : samples;
            bins = bins == null ? DEFAULT_BINS : bins;
            if (samples < 0) {
                throw new IllegalArgumentException("diagnostics.samples must be >= 0 (0 turns the diagnostics off), got " + samples);
            }
            if (bins < 2 || bins > 1000) {
                throw new IllegalArgumentException("diagnostics.bins must be between 2 and 1000, got " + bins);
            }
        }

        /** Whether any diagnostics run. */
        @JsonIgnore
        public boolean enabled() {
            return samples > 0;
        }
    }

    /**
     * @param model        path of a trained FP32 model to load (DL4J zip of either network kind, or Keras .h5), or null
     * @param train        schedule to train the FP32 reference CNN with, or null
     * @param referenceCnn with {@code train}: the reference CNN's widths and dropout ({@link RunConfig.ReferenceCnnOptions};
     *                     default [16, 32] channels, 128 dense units, no dropout); not with {@code model}
     */
    public record Fp32(String model, RunConfig.Train train, RunConfig.ReferenceCnnOptions referenceCnn) {
        public Fp32 {
            if ((model == null) == (train == null)) {
                throw new IllegalArgumentException("fp32: give exactly one of 'model' (a trained zip) or 'train' (a schedule)");
            }
            if (model != null && referenceCnn != null) {
                throw new IllegalArgumentException("fp32.referenceCnn sizes the reference CNN trained here; fp32.model loads a trained "
                        + "network: remove one of them");
            }
            if (train != null && referenceCnn == null) {
                referenceCnn = new RunConfig.ReferenceCnnOptions(null, null, null);
            }
        }

        /** Train the default reference CNN here with {@code train}. */
        public static Fp32 schedule(RunConfig.Train train) {
            return new Fp32(null, train, null);
        }

        /** Train the reference CNN with {@code referenceCnn} here with {@code train}. */
        public static Fp32 schedule(RunConfig.Train train, RunConfig.ReferenceCnnOptions referenceCnn) {
            return new Fp32(null, train, referenceCnn);
        }

        /** Load the trained FP32 model at {@code model} (DL4J zip of either network kind, or Keras .h5). */
        public static Fp32 file(String model) {
            return new Fp32(model, null, null);
        }
    }

    /**
     * An accuracy target checked in the report.
     *
     * @param vs        "fp32" or another variant's name
     * @param maxDropPp the variant's INT8 accuracy may be at most this many points below {@code vs}'s
     * @param minGainPp the variant's accuracy must be at least this many points above {@code vs}'s
     */
    public record Target(@JsonProperty(required = true) String vs, Double maxDropPp, Double minGainPp) {
        public Target {
            if ((maxDropPp == null) == (minGainPp == null)) {
                throw new IllegalArgumentException("target: give exactly one of maxDropPp or minGainPp");
            }
        }

        /** Whether {@code accuracy} meets the target against {@code reference} (fractions). */
        public boolean met(double accuracy, double reference) {
            double diffPp = 100 * (accuracy - reference);
            return maxDropPp != null ? diffPp >= -maxDropPp - 1e-9 : diffPp >= minGainPp - 1e-9;
        }

        public String describe() {
            return maxDropPp != null ? "<= " + maxDropPp + " pp below " + vs : ">= " + minGainPp + " pp above " + vs;
        }

        /** The variant's accuracy at most {@code pp} percentage points below {@code vs}'s ("fp32" or a variant name). */
        public static Target maxDrop(String vs, double pp) {
            return new Target(vs, pp, null);
        }

        /** The variant's accuracy at least {@code pp} percentage points above {@code vs}'s. */
        public static Target minGain(String vs, double pp) {
            return new Target(vs, null, pp);
        }
    }

    /**
     * One variant: PTQ only ({@code ptq}), or QAT ({@code quantization} + {@code train}, optionally
     * {@code distillation}; it starts from the PTQ plan of the same bits, {@code ptq} or one derived
     * from {@code quantization}).
     */
    public record Variant(@JsonProperty(required = true) String name, RunConfig.Ptq ptq, RunConfig.Quantization quantization,
                          RunConfig.Train train, RunConfig.Distillation distillation, Target target) {

        /** Post-training quantization with {@code ptq}. */
        public static Variant postTraining(String name, RunConfig.Ptq ptq) {
            return new Variant(name, ptq, null, null, null, null);
        }

        /** QAT with {@code quantization}, trained with {@code train}, started from the PTQ plan of the same bits. */
        public static Variant quantAware(String name, RunConfig.Quantization quantization, RunConfig.Train train) {
            return new Variant(name, null, quantization, train, null, null);
        }

        /** This variant with an accuracy target. */
        public Variant withTarget(Target t) {
            return new Variant(name, ptq, quantization, train, distillation, t);
        }

        /** This QAT variant distilled from the FP32 model. */
        public Variant withDistillation(RunConfig.Distillation d) {
            return new Variant(name, ptq, quantization, train, d, target);
        }

        /** This QAT variant started from the PTQ plan of {@code p} (same bits) instead of the derived one. */
        public Variant withPtq(RunConfig.Ptq p) {
            return new Variant(name, p, quantization, train, distillation, target);
        }

        /** Derived from {@code quantization}; not a key (a resolved configuration does not repeat it). */
        @JsonIgnore
        public boolean isQat() {
            return quantization != null;
        }

        /** The run configuration of this variant against an FP32 model file. */
        public RunConfig toRunConfig(long seed, RunConfig.Data data, String fp32) {
            if (ptq == null && quantization == null) {
                throw new IllegalArgumentException("give 'ptq' (post-training) or 'quantization' + 'train' (QAT)");
            }
            return new RunConfig(name, seed, data, null, train, fp32, quantization, distillation, ptq != null ? ptq : derivedPtq(), null);
        }

        /** The PTQ recipe that initializes a QAT variant without its own: same weight quantizer and bits, percentile ranges. */
        RunConfig.Ptq derivedPtq() {
            if (quantization == null) {
                return null;
            }
            QuantPlan.WeightQuantizer quantizer = quantization.weights().ptqQuantizer();
            int wb = switch (quantizer) {
                case UNIFORM -> quantization.weights().bits();
                case BINARY, TERNARY -> 8;   // unused: binary and ternary weights have no width to choose
            };
            return new RunConfig.Ptq(quantizer, wb, quantization.weights().perChannel(), null, quantization.inputs().bits(), null, null,
                    null, null, null, null, null, null, null, null, null, null, null, null, null);
        }
    }
}
