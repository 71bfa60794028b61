package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.export.Int8Exporter;
import io.qat4j.layers.params.QuantizerParams;

/**
 * Issue 14 #2: learned steps and PACT clipping values stay positive (projected back to a floor
 * relative to LSQ's initial step after every update, with a warning); a collapsed value where the
 * network is used without training (inference, export) is an error naming the layer and parameter.
 */
class LearnedStepCollapseTest {

    private static MultiLayerNetwork trainedFloat(DataSet train) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nOut(32).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(12)).build());
        net.init();
        InputSignednessTest.fit(net, train, 30);
        return net;
    }

    /** Every learned step and alpha of the network, checked finite and > 0. */
    private static void assertPositive(MultiLayerNetwork q) {
        for (Layer l : q.getLayers()) {
            for (String key : new String[] {QuantizerParams.WEIGHT_STEP_KEY, QuantizerParams.INPUT_STEP_KEY, QuantizerParams.INPUT_ALPHA_KEY}) {
                INDArray p = l.paramTable().get(key);
                if (p != null) {
                    for (long i = 0; i < p.length(); i++) {
                        double v = p.getDouble(i);
                        assertTrue(v > 0 && Double.isFinite(v), "layer " + l.getIndex() + " " + key + "[" + i + "] = " + v);
                    }
                }
            }
        }
    }

    @Test
    void adamAtAHighLearningRateNeverLeavesAStepAtOrBelowZero() {
        // the issue: Adam at lr 0.02 drove an output-layer weight step to -0.10, silently replaced by 1e-8 (layer zeroed)
        DataSet train = InputSignednessTest.linearProjection(1500, 11);
        DataSet test = InputSignednessTest.linearProjection(500, 12);
        MultiLayerNetwork fp32 = trainedFloat(train);
        for (InputQuantMode inputs : new InputQuantMode[] {InputQuantMode.LSQ, InputQuantMode.PACT}) {
            MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(
                    QuantSettings.of(WeightQuantMode.LSQ, 4, inputs, 4))).network();
            q.setLearningRate(0.02);
            QuantizationWarnings.drain();
            for (int e = 0; e < 4; e++) {
                InputSignednessTest.fit(q, train, 1);
                assertPositive(q);   // after every epoch, i.e. after the last update of the epoch too
            }
            double acc = InputSignednessTest.accuracy(q, test);
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
        DataSet train = InputSignednessTest.linearProjection(1500, 13);
        DataSet test = InputSignednessTest.linearProjection(500, 14);
        MultiLayerNetwork q = QuantizedModel.wrap(trainedFloat(train), QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))).network();
        InputSignednessTest.fit(q, train, 1);
        double before = InputSignednessTest.accuracy(q, test);
        // the hand edit: one output-layer weight step set to -0.01 (accuracy 100% -> 27%, fit and export succeeded)
        q.getLayer(1).getParam(QuantizerParams.WEIGHT_STEP_KEY).putScalar(0, -0.01);
        QuantizerCollapsedException inference = assertThrows(QuantizerCollapsedException.class, () -> q.output(test.getFeatures()));
        assertTrue(inference.getMessage().contains("'layer1'") && inference.getMessage().contains("Ws[0] = -0.0099"), inference.getMessage());
        QuantizerCollapsedException export = assertThrows(QuantizerCollapsedException.class,
                () -> Int8Exporter.export(q, train.getFeatures()));
        assertTrue(export.getMessage().contains("Ws[0]"), export.getMessage());
        QuantizationWarnings.drain();
        InputSignednessTest.fit(q, train, 1);
        assertPositive(q);
        assertTrue(QuantizationWarnings.raised().stream().anyMatch(w -> w.contains("'layer1'") && w.contains("Ws[0] = -0.0099")),
                QuantizationWarnings.raised().toString());
        double after = InputSignednessTest.accuracy(q, test);
        System.out.printf("weight step set to -0.01: accuracy %.4f before, %.4f after one epoch of projected training%n", before, after);
        assertTrue(after >= before - 0.03, "training recovers from the projected step: " + after + " vs " + before);
    }

    @Test
    void aCollapsedInputStepOrAlphaIsNamedAtInference() {
        DataSet train = InputSignednessTest.linearProjection(300, 15);
        for (InputQuantMode inputs : new InputQuantMode[] {InputQuantMode.LSQ, InputQuantMode.LSQ_PLUS, InputQuantMode.PACT}) {
            MultiLayerNetwork q = QuantizedModel.wrap(trainedFloat(train), QuantizationPlan.uniform(
                    QuantSettings.of(WeightQuantMode.LSQ, 8, inputs, 8))).network();
            InputSignednessTest.fit(q, train, 1);
            String key = inputs == InputQuantMode.PACT ? QuantizerParams.INPUT_ALPHA_KEY : QuantizerParams.INPUT_STEP_KEY;
            q.getLayer(1).getParam(key).putScalar(0, 0.0);
            QuantizerCollapsedException e = assertThrows(QuantizerCollapsedException.class, () -> q.output(train.getFeatures()));
            assertTrue(e.getMessage().contains("'layer1'") && e.getMessage().contains(key + "[0] = 0.0"), e.getMessage());
        }
    }

    @Test
    void everyQuantizedLayerProjectsItsStepRightAfterAnUpdate() {
        // DL4J calls applyConstraints after every update: a step the update drove to <= 0 never reaches a checkpoint,
        // also in an activation-quantizer layer (graph-mode quantizers on Add/concat outputs)
        DataSet train = InputSignednessTest.linearProjection(256, 16);
        QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8);
        MultiLayerNetwork q = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(0.01)).list()
                .layer(io.qat4j.layers.conf.QuantizedDenseLayer.of(new DenseLayer.Builder().nOut(16).activation(Activation.TANH).build(), s))
                .layer(io.qat4j.layers.conf.ActivationQuantizerLayer.of("aq", s.clone()))
                .layer(io.qat4j.layers.conf.QuantizedOutputLayer.of(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5)
                        .activation(Activation.SOFTMAX).build(), s.clone()))
                .setInputType(InputType.feedForward(12)).build());
        q.init();
        q.fit(train);   // one training batch sets the floors
        for (int l = 0; l < 3; l++) {
            q.getLayer(l).getParam(QuantizerParams.INPUT_STEP_KEY).putScalar(0, -0.5);   // what a bad update leaves
            if (q.getLayer(l).paramTable().containsKey(QuantizerParams.WEIGHT_STEP_KEY)) {
                q.getLayer(l).getParam(QuantizerParams.WEIGHT_STEP_KEY).putScalar(0, -0.5);
            }
            q.getLayer(l).applyConstraints(1, 0);
        }
        assertPositive(q);
        q.output(train.getFeatures());   // inference runs: nothing collapsed is left
    }
}
