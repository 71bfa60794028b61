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

import io.qat4j.layers.params.QuantizerParams;

/**
 * Issue 14 #2: learned steps and PACT clipping values stay positive (projected back to a floor
 * relative to LSQ's initial step after every update, with a warning); a collapsed value where the
 * network is used without training (inference, export) is an error naming the layer and parameter.
 */
class LearnedStepCollapseTest {

    @Test
    void aCollapsedInputStepOrAlphaIsNamedAtInference() {
        DataSet train = SignedDataTasks.linearProjection(300, 15);
        for (InputQuantMode inputs : new InputQuantMode[] {InputQuantMode.LSQ, InputQuantMode.LSQ_PLUS, InputQuantMode.PACT}) {
            MultiLayerNetwork q = QuantizedModel.wrap(SignedDataTasks.trainedOneHiddenMlp(train), QuantizationPlan.uniform(
                    QuantSettings.of(WeightQuantMode.LSQ, 8, inputs, 8))).network();
            SignedDataTasks.fit(q, train, 1);
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
        DataSet train = SignedDataTasks.linearProjection(256, 16);
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
        SignedDataTasks.assertLearnedStepsPositive(q);
        q.output(train.getFeatures());   // inference runs: nothing collapsed is left
    }
}
