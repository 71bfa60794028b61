package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizationWarnings;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.QuantizerCollapsedException;
import io.qat4j.layers.SignedDataTasks;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.params.QuantizerParams;

/**
 * Issue 14 #2 with the exporter: a network whose steps training kept positive exports; a collapsed
 * weight step is an error naming the parameter at inference and at export, and training projects it
 * back (moved from the layers module's LearnedStepCollapseTest with the exporter).
 */
class LearnedStepExportTest {

    @Test
    void adamAtAHighLearningRateNeverLeavesAStepAtOrBelowZero() {
        // the issue: Adam at lr 0.02 drove an output-layer weight step to -0.10, silently replaced by 1e-8 (layer zeroed)
        DataSet train = SignedDataTasks.linearProjection(1500, 11);
        DataSet test = SignedDataTasks.linearProjection(500, 12);
        MultiLayerNetwork fp32 = SignedDataTasks.trainedOneHiddenMlp(train);
        for (InputQuantMode inputs : new InputQuantMode[] {InputQuantMode.LSQ, InputQuantMode.PACT}) {
            MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(
                    QuantSettings.of(WeightQuantMode.LSQ, 4, inputs, 4))).network();
            q.setLearningRate(0.02);
            QuantizationWarnings.drain();
            for (int e = 0; e < 4; e++) {
                SignedDataTasks.fit(q, train, 1);
                SignedDataTasks.assertLearnedStepsPositive(q);   // after every epoch, i.e. after the last update of the epoch too
            }
            double acc = SignedDataTasks.accuracy(q, test);
            java.util.List<String> warnings = QuantizationWarnings.drain();
            System.out.printf("lr 0.02, W4A4 %s: accuracy %.4f; %d projections, e.g. %s%n", inputs, acc, warnings.size(),
                    warnings.isEmpty() ? "-" : warnings.get(0));
            // the case is real: the optimizer did drive a step below its floor (else this test would prove nothing)
            assertTrue(warnings.stream().anyMatch(w -> w.contains("fell below its floor")), warnings.toString());
            Int8Exporter.export(q, train.getFeatures());   // exports without a collapse error
        }
    }

    @Test
    void aCollapsedWeightStepIsNamedAtInferenceAndExportAndProjectedByTraining() {
        DataSet train = SignedDataTasks.linearProjection(1500, 13);
        DataSet test = SignedDataTasks.linearProjection(500, 14);
        MultiLayerNetwork q = QuantizedModel.wrap(SignedDataTasks.trainedOneHiddenMlp(train), QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))).network();
        SignedDataTasks.fit(q, train, 1);
        double before = SignedDataTasks.accuracy(q, test);
        // the hand edit: one output-layer weight step set to -0.01 (accuracy 100% -> 27%, fit and export succeeded)
        q.getLayer(1).getParam(QuantizerParams.WEIGHT_STEP_KEY).putScalar(0, -0.01);
        QuantizerCollapsedException inference = assertThrows(QuantizerCollapsedException.class, () -> q.output(test.getFeatures()));
        assertTrue(inference.getMessage().contains("'layer1'") && inference.getMessage().contains("Ws[0] = -0.0099"), inference.getMessage());
        QuantizerCollapsedException export = assertThrows(QuantizerCollapsedException.class,
                () -> Int8Exporter.export(q, train.getFeatures()));
        assertTrue(export.getMessage().contains("Ws[0]"), export.getMessage());
        QuantizationWarnings.drain();
        SignedDataTasks.fit(q, train, 1);
        SignedDataTasks.assertLearnedStepsPositive(q);
        assertTrue(QuantizationWarnings.raised().stream().anyMatch(w -> w.contains("'layer1'") && w.contains("Ws[0] = -0.0099")),
                QuantizationWarnings.raised().toString());
        double after = SignedDataTasks.accuracy(q, test);
        System.out.printf("weight step set to -0.01: accuracy %.4f before, %.4f after one epoch of projected training%n", before, after);
        assertTrue(after >= before - 0.03, "training recovers from the projected step: " + after + " vs " + before);
    }
}
