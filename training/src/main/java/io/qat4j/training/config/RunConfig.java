package io.qat4j.training.config;

import java.util.Locale;

import com.fasterxml.jackson.annotation.JsonProperty;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.training.TrainSpec;

/**
 * One run: data, model, training and (for QAT) quantization. Every section validates itself with
 * messages naming the key; defaults are documented on each field.
 *
 * @param name         run name (used for output directories), required
 * @param seed         seed of data order and initialization (default 1)
 * @param data         where the data comes from (default: the standard search)
 * @param model        architecture (default reference-cnn)
 * @param train        training schedule, required
 * @param fp32         QAT runs: path of the trained FP32 model zip to start from; null for FP32 runs
 * @param quantization QAT runs: what to quantize how; null for FP32 runs
 * @param distillation QAT runs: distill from the FP32 model (optional)
 */
public record RunConfig(@JsonProperty(required = true) String name, Long seed, Data data, Model model,
                        @JsonProperty(required = true) Train train, String fp32, Quantization quantization, Distillation distillation) {

    public RunConfig {
        if (name == null || !name.matches("[A-Za-z0-9._+-]+")) {
            throw new IllegalArgumentException("name must be a non-empty word of letters, digits and . _ + -, got " + name);
        }
        seed = seed == null ? 1L : seed;
        data = data == null ? new Data(null, null, null, null, null) : data;
        model = model == null ? new Model(null) : model;
        if (distillation != null && quantization == null) {
            throw new IllegalArgumentException("distillation needs a QAT run (fp32 teacher and quantization)");
        }
        if ((fp32 == null) != (quantization == null)) {
            throw new IllegalArgumentException("a QAT run needs both 'fp32' (the float model to start from) and 'quantization'; "
                    + "an FP32 run has neither");
        }
    }

    public boolean isQat() {
        return quantization != null;
    }

    /**
     * @param source     "auto" (default: QAT4J_DATA, Debian package, cache, bundled subset) or "bundled"
     * @param dir        explicit directory holding the IDX files (overrides the search), or null
     * @param trainLimit use only the first n training examples (default: all)
     * @param testLimit  use only the first n test examples (default: all)
     * @param validationFraction share of the training examples held out (seeded) for model selection
     *                   and early stopping, in [0, 0.5]; default 0 selects on the test set (quick runs only)
     */
    public record Data(String source, String dir, Integer trainLimit, Integer testLimit, Double validationFraction) {
        public Data {
            validationFraction = validationFraction == null ? 0.0 : validationFraction;
            if (!(validationFraction >= 0 && validationFraction <= 0.5)) {
                throw new IllegalArgumentException("data.validationFraction must be in [0, 0.5], got " + validationFraction);
            }
            if ((trainLimit != null && trainLimit < 1) || (testLimit != null && testLimit < 1)) {
                throw new IllegalArgumentException("data.trainLimit and data.testLimit must be >= 1 when given");
            }
            source = source == null ? "auto" : source.toLowerCase(Locale.ROOT);
            if (!source.equals("auto") && !source.equals("bundled")) {
                throw new IllegalArgumentException("data.source must be 'auto' or 'bundled', got '" + source + "'");
            }
            if (dir != null && source.equals("bundled")) {
                throw new IllegalArgumentException("data.dir and data.source: bundled contradict each other; remove one");
            }
        }
    }

    /**
     * @param weight      KD term weight b in (0, 1] (the cross entropy gets 1 - b), default 0.5
     * @param temperature T > 0, default 4
     */
    public record Distillation(Double weight, Double temperature) {
        public Distillation {
            weight = weight == null ? 0.5 : weight;
            temperature = temperature == null ? 4.0 : temperature;
            if (!(weight > 0 && weight <= 1) || !(temperature > 0)) {
                throw new IllegalArgumentException("distillation.weight must be in (0, 1] and distillation.temperature > 0, got "
                        + weight + " and " + temperature);
            }
        }
    }

    /** @param architecture only "reference-cnn" so far (default) */
    public record Model(String architecture) {
        public Model {
            architecture = architecture == null ? "reference-cnn" : architecture;
            if (!architecture.equals("reference-cnn")) {
                throw new IllegalArgumentException("model.architecture must be 'reference-cnn', got '" + architecture + "'");
            }
        }
    }

    /**
     * @param epochs                     >= 1, required
     * @param batchSize                  default 64
     * @param learningRate               Adam learning rate, required
     * @param schedule                   constant (default), cosine or step
     * @param stepEvery                  step schedule: epochs per decay (default 1)
     * @param stepGamma                  step schedule: decay factor (default 0.1)
     * @param weightDecay                decoupled weight decay on weights (default 0)
     * @param earlyStoppingPatience      epochs without improvement before stopping (default 0 = off)
     * @param freezeObserversAfterEpoch  QAT (default -1 = never)
     * @param freezeBatchNormAfterEpoch  QAT (default -1 = never; exporting needs frozen statistics)
     */
    public record Train(@JsonProperty(required = true) Integer epochs, Integer batchSize,
                        @JsonProperty(required = true) Double learningRate, String schedule, Integer stepEvery, Double stepGamma,
                        Double weightDecay, Integer earlyStoppingPatience, Integer freezeObserversAfterEpoch,
                        Integer freezeBatchNormAfterEpoch) {
        public Train {
            batchSize = batchSize == null ? 64 : batchSize;
            schedule = schedule == null ? "constant" : schedule.toLowerCase(Locale.ROOT);
            stepEvery = stepEvery == null ? 1 : stepEvery;
            stepGamma = stepGamma == null ? 0.1 : stepGamma;
            weightDecay = weightDecay == null ? 0.0 : weightDecay;
            earlyStoppingPatience = earlyStoppingPatience == null ? 0 : earlyStoppingPatience;
            freezeObserversAfterEpoch = freezeObserversAfterEpoch == null ? -1 : freezeObserversAfterEpoch;
            freezeBatchNormAfterEpoch = freezeBatchNormAfterEpoch == null ? -1 : freezeBatchNormAfterEpoch;
            if (!(weightDecay >= 0)) {
                throw new IllegalArgumentException("train.weightDecay must be >= 0, got " + weightDecay);
            }
            // the fields are assigned after this body: validate through the parameters
            spec(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, 0, freezeObserversAfterEpoch,
                    freezeBatchNormAfterEpoch);
        }

        public TrainSpec toSpec(long seed) {
            return spec(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, seed,
                    freezeObserversAfterEpoch, freezeBatchNormAfterEpoch);
        }

        private static TrainSpec spec(int epochs, int batchSize, double learningRate, String schedule, int stepEvery, double stepGamma,
                                      int earlyStoppingPatience, long seed, int freezeObserversAfterEpoch, int freezeBatchNormAfterEpoch) {
            TrainSpec.Schedule s = switch (schedule) {
                case "constant" -> TrainSpec.Schedule.CONSTANT;
                case "cosine" -> TrainSpec.Schedule.COSINE;
                case "step" -> TrainSpec.Schedule.STEP;
                default -> throw new IllegalArgumentException("train.schedule must be constant, cosine or step, got '" + schedule + "'");
            };
            return new TrainSpec(epochs, batchSize, learningRate, s, stepEvery, stepGamma, earlyStoppingPatience, seed,
                    freezeObserversAfterEpoch, freezeBatchNormAfterEpoch);
        }
    }

    /**
     * @param weights          weight quantizer, required
     * @param inputs           activation (input) quantizer, required
     * @param firstLayerSigned whether the network input is signed (default false: images in [0, 1])
     */
    public record Quantization(@JsonProperty(required = true) Weights weights, @JsonProperty(required = true) Inputs inputs,
                               Boolean firstLayerSigned) {
        public Quantization {
            firstLayerSigned = firstLayerSigned != null && firstLayerSigned;
            if (weights != null && inputs != null) {
                settings(weights, inputs);   // validates bits and combinations now, with the key names in the message
            }
        }

        /** Settings for every layer (the first layer's signedness is applied by the caller). */
        public QuantSettings settings() {
            return settings(weights, inputs);
        }

        private static QuantSettings settings(Weights weights, Inputs inputs) {
            QuantSettings s = QuantSettings.of(weights.mode(), weights.bits(), inputs.mode(), inputs.bits());
            s.setWeightPerChannel(weights.perChannel());
            s.validate("quantization (config)");
            return s;
        }
    }

    /** @param mode FIXED, LSQ, LSQ_PLUS, BINARY or TERNARY; @param bits 2..8 for uniform modes; @param perChannel default true */
    public record Weights(@JsonProperty(required = true) WeightQuantMode mode, Integer bits, Boolean perChannel) {
        public Weights {
            bits = bits == null ? 8 : bits;
            perChannel = perChannel == null || perChannel;
        }
    }

    /** @param mode FIXED, LSQ, LSQ_PLUS or PACT; @param bits 1..8 */
    public record Inputs(@JsonProperty(required = true) InputQuantMode mode, Integer bits) {
        public Inputs {
            bits = bits == null ? 8 : bits;
        }
    }
}
