package io.qat4j.layers;

import static io.qat4j.layers.SignedDataTasks.accuracy;
import static io.qat4j.layers.SignedDataTasks.fit;
import static io.qat4j.layers.SignedDataTasks.forcedSigned;
import static io.qat4j.layers.SignedDataTasks.linearProjection;
import static io.qat4j.layers.SignedDataTasks.mlp;
import static io.qat4j.layers.SignedDataTasks.negativeCounting;
import static io.qat4j.layers.SignedDataTasks.predictionsAfterQat;
import static io.qat4j.layers.SignedDataTasks.settingsOf;
import static io.qat4j.layers.SignedDataTasks.trainedFloat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedLayerConf;

/**
 * Issue 14 #1: every input quantizer takes its signedness from the data (first layer and hidden
 * layers, LSQ, LSQ+, PACT, FIXED); a quantizer forced unsigned on negative data warns, naming the
 * layer, the minimum and the key to set; signed data at 1 bit is an error.
 */
class InputSignednessTest {

    @Test
    void hiddenInputsAfterTanhAndLeakyReluBecomeSignedInEveryInputMode() {
        DataSet train = linearProjection(1500, 4);
        DataSet test = linearProjection(500, 5);
        for (Activation hidden : new Activation[] {Activation.TANH, Activation.LEAKYRELU}) {
            MultiLayerNetwork fp32 = trainedFloat(hidden, train);
            double fpAcc = accuracy(fp32, test);
            assertTrue(fpAcc > 0.85, hidden + ": the float network learned the task: " + fpAcc);
            for (InputQuantMode mode : new InputQuantMode[] {InputQuantMode.LSQ, InputQuantMode.LSQ_PLUS, InputQuantMode.PACT,
                    InputQuantMode.FIXED}) {
                QuantSettings base = QuantSettings.of(WeightQuantMode.LSQ, 8, mode, 8);
                MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(base)).network();
                fit(q, train, 1);
                // three weighted layers and the quantizers placed before each split-off hidden activation
                List<QuantizedLayerConf> quantizers = QuantizedModel.quantizedLayers(q);
                assertEquals(5, quantizers.size(), hidden + "/" + mode);
                for (QuantizedLayerConf c : quantizers) {
                    assertTrue(c.getQuant().isInputSigned(), hidden + "/" + mode + ": " + ((org.deeplearning4j.nn.conf.layers.Layer) c)
                            .getLayerName() + " input is signed");
                }
                // the right value: every layer forced signed by hand, the same run output for output
                INDArray reference = predictionsAfterQat(fp32, QuantizationPlan.uniform(forcedSigned(base)), train, test, 1);
                assertEquals(reference, q.output(test.getFeatures()), hidden + "/" + mode);
                System.out.printf("%s hidden, %s inputs: FP32 %.4f, QAT %.4f (signed from the data = forced signed)%n", hidden, mode,
                        fpAcc, accuracy(q, test));
            }
        }
    }

    @Test
    void forcingUnsignedInputsOnSignedDataLosesWhatSignednessFromTheDataKeeps() {
        // the size of the fault the default now avoids: unsigned inputs (the old default) on the constructed task
        DataSet train = linearProjection(1500, 8);
        DataSet test = linearProjection(500, 9);
        MultiLayerNetwork fp32 = trainedFloat(Activation.TANH, train);
        double fpAcc = accuracy(fp32, test);
        QuantSettings forced = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8);
        forced.setInputSignFromData(false);
        MultiLayerNetwork unsigned = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(forced)).network();
        MultiLayerNetwork auto = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))).network();
        fit(unsigned, train, 2);
        fit(auto, train, 2);
        double u = accuracy(unsigned, test);
        double a = accuracy(auto, test);
        System.out.printf("constructed signed task: FP32 %.4f, QAT forced unsigned %.4f, QAT signedness from data %.4f%n", fpAcc, u, a);
        assertTrue(u <= a - 0.15, "forced unsigned clips the negative half: " + u + " vs " + a);
    }

    @Test
    void aCalibratedRangeWithNegativeMinimumMakesTheQuantizerSigned() {
        MultiLayerNetwork fp32 = mlp(Activation.RELU, 3);
        QuantizationPlan plan = QuantizationPlan.builder(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.PACT, 8))
                .inputRange("layer0", -0.9, 1.0).inputRange("layer1", 0, 2.0).build();
        MultiLayerNetwork q = QuantizedModel.wrap(fp32, plan).network();
        assertTrue(settingsOf(q, 0).isInputSigned());
        assertTrue(!settingsOf(q, 1).isInputSigned());
        // signed PACT over [-alpha, alpha], alpha = max(|min|, max)
        assertEquals(1.0, q.getLayer(0).getParam(io.qat4j.layers.params.QuantizerParams.INPUT_ALPHA_KEY).getDouble(0), 1e-12);
    }

    @Test
    void aQuantizerForcedUnsignedWarnsNamingTheLayerTheMinimumAndTheKey() {
        DataSet train = negativeCounting(256, 6);
        QuantSettings forced = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8);
        forced.setInputSigned(false);
        forced.setInputSignFromData(false);
        MultiLayerNetwork q = QuantizedModel.wrap(mlp(Activation.RELU, 3), QuantizationPlan.builder(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8)).layer("layer0", forced).build()).network();
        QuantizationWarnings.drain();
        fit(q, train, 1);
        assertTrue(!settingsOf(q, 0).isInputSigned(), "a forced setting is kept");
        List<String> warnings = QuantizationWarnings.raised();
        assertTrue(warnings.stream().anyMatch(w -> w.contains("'layer0'") && w.contains("minimum -0.9") && w.contains("firstLayerSigned")
                && w.contains("inputSigned=true")), warnings.toString());
    }

    @Test
    void signedDataAtOneInputBitIsAnErrorNamingTheLayer() {
        DataSet train = negativeCounting(128, 7);
        for (InputQuantMode mode : new InputQuantMode[] {InputQuantMode.LSQ, InputQuantMode.FIXED, InputQuantMode.PACT}) {
            MultiLayerNetwork q = QuantizedModel.wrap(mlp(Activation.RELU, 3), QuantizationPlan.builder(
                    QuantSettings.of(WeightQuantMode.LSQ, 8, mode, 8)).layer("layer0", QuantSettings.of(WeightQuantMode.LSQ, 8, mode, 1))
                    .build()).network();
            Exception e = assertThrows(Exception.class, () -> q.fit(train), mode.toString());
            while (!(e instanceof IllegalArgumentException) && e.getCause() instanceof Exception c) {
                e = c;
            }
            assertTrue(e.getMessage().contains("'layer0'") && e.getMessage().contains("inputBits >= 2"), e.getMessage());
        }
    }
}
