package io.qat4j.training.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.training.config.ExperimentConfig;
import io.qat4j.training.config.RunConfig;

/** The experiment's progress line: done of total, elapsed, and a time left measured on the variants of each kind. */
class RemainingTimeTest {

    private static final ExperimentConfig.Variant PTQ = ExperimentConfig.Variant.postTraining("p", RunConfig.Ptq.builder().weightBits(8).build());

    private static ExperimentConfig.Variant qat(int epochs) {
        return ExperimentConfig.Variant.quantAware("q" + epochs, new RunConfig.Quantization(new RunConfig.Weights(WeightQuantMode.LSQ, 4, null),
                new RunConfig.Inputs(InputQuantMode.LSQ, 4), null), RunConfig.Train.of(epochs, 1e-3));
    }

    @Test
    void estimatesFromTheVariantsOfEachKindFinishedSoFar() {
        RemainingTime t = new RemainingTime();
        assertEquals("0 of 3 variants done, 5 s elapsed", t.line(0, 3, 5, List.of(PTQ, PTQ, qat(3))), "nothing timed: no estimate");
        t.finished(PTQ, 10);
        t.finished(PTQ, 20);
        assertEquals("2 of 4 variants done, 40 s elapsed, at least 15 s left (no QAT variant timed yet)",
                t.line(2, 4, 40, List.of(PTQ, qat(3))));
        t.finished(qat(2), 120);   // 60 s an epoch
        assertEquals("3 of 5 variants done, 2 min 40 s elapsed, about 3 min 15 s left", t.line(3, 5, 160, List.of(PTQ, qat(3))));
        assertEquals("5 of 5 variants done, 1 h 2 min elapsed", t.line(5, 5, 3725, List.of()));
    }

    @Test
    void durationsReadLikeAClock() {
        assertEquals("0 s", RemainingTime.duration(0.2));
        assertEquals("59 s", RemainingTime.duration(59.4));
        assertEquals("1 min 0 s", RemainingTime.duration(59.6));
        assertEquals("1 h 0 min", RemainingTime.duration(3600));
    }
}
