package io.qat4j.training.experiment;

import java.util.Objects;

import com.fasterxml.jackson.annotation.JsonInclude;

import io.qat4j.training.config.ExperimentConfig;

/**
 * The FP32 stage of an experiment: the model every variant quantizes.
 *
 * @param accuracy       test accuracy in [0, 1]
 * @param parameterBytes 4 bytes per parameter (the size the variants' model files are compared with)
 * @param trainSeconds   wall-clock seconds of training here; null when the model was loaded ({@code fp32.model})
 * @param model          the model file: relative to the output directory when it lies inside it ({@code fp32/best.zip}
 *                       when trained here), else as the configuration names it
 * @param provenance     revision, version, seed and the {@code fp32} section this result was produced with
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Fp32Result(double accuracy, long parameterBytes, Double trainSeconds, String model,
                         StageProvenance<ExperimentConfig.Fp32> provenance) {

    public Fp32Result {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(provenance, "provenance");
    }

    /** True when this stage trained the model (rather than loading {@code fp32.model}). */
    public boolean trainedHere() {
        return trainSeconds != null;
    }
}
