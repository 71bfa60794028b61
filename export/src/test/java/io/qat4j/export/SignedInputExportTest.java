package io.qat4j.export;

import static io.qat4j.layers.SignedDataTasks.CLASSES;
import static io.qat4j.layers.SignedDataTasks.accuracy;
import static io.qat4j.layers.SignedDataTasks.fit;
import static io.qat4j.layers.SignedDataTasks.forcedSigned;
import static io.qat4j.layers.SignedDataTasks.negativeCounting;
import static io.qat4j.layers.SignedDataTasks.predictionsAfterQat;
import static io.qat4j.layers.SignedDataTasks.settingsOf;
import static io.qat4j.layers.SignedDataTasks.trainedFloat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.runtime.Int8Model;

/**
 * Issue 14 #1, end to end: QAT on signed data takes its input signedness from the data, and the
 * exported integer model computes what the QAT network computes (moved from the layers module's
 * InputSignednessTest with the exporter).
 */
class SignedInputExportTest {

    @Test
    void qatOnSignedDataMatchesFloatWithoutAnySignednessSetting() throws Exception {
        DataSet train = negativeCounting(2000, 1);
        DataSet test = negativeCounting(600, 2);
        MultiLayerNetwork fp32 = trainedFloat(Activation.RELU, train);
        double fpAcc = accuracy(fp32, test);
        // the config: weights and inputs LSQ 8-bit, no firstLayerSigned. Before: QAT 52% (negatives clipped to 0)
        QuantSettings w8a8 = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8);
        MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(w8a8)).network();
        fit(q, train, 3);
        double qatAcc = accuracy(q, test);
        assertTrue(settingsOf(q, 0).isInputSigned(), "the first layer's input quantizer became signed from the data");
        assertTrue(!settingsOf(q, 1).isInputSigned(), "after ReLU the hidden input stays unsigned");
        // the right value: what `firstLayerSigned: true` gives (100% there), the same run bit for bit
        INDArray reference = predictionsAfterQat(fp32, QuantizationPlan.builder(w8a8).layer("layer0", forcedSigned(w8a8)).build(),
                train, test, 3);
        assertEquals(reference, q.output(test.getFeatures()), "signedness from the data == firstLayerSigned: true, output for output");
        Int8Model model = new Int8Model(Int8Exporter.export(q, train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 256)))
                .graph());
        // the integer model computes what the QAT network computes: unsaturated logits within one output step
        int n = (int) test.numExamples();
        float[] x = test.getFeatures().dup('c').data().asFloat();
        float[] logits = model.run(x, n);
        byte[] codes = model.runQuantized(model.quantizeInput(x, n), n);
        INDArray qatLogits = Int8Exporter.fakeQuantLogits(q, test.getFeatures());
        double step = model.graph().tensors().get(model.graph().output()).scale();
        double worst = 0;
        for (int i = 0; i < logits.length; i++) {
            if (codes[i] != 127 && codes[i] != -128) {
                worst = Math.max(worst, Math.abs(logits[i] - qatLogits.getDouble(i / CLASSES, i % CLASSES)) / step);
            }
        }
        System.out.printf("signed data (issue's counting task): FP32 %.4f, QAT W8A8 %.4f, INT8 logits within %.2f output steps%n", fpAcc,
                qatAcc, worst);
        // an MLP learns the counting task only in part (chance: 35%); QAT keeps what FP32 has
        assertTrue(fpAcc > 0.5, "the float network learned the task: " + fpAcc);
        assertTrue(qatAcc >= fpAcc - 0.05, "QAT keeps the float accuracy: " + qatAcc + " vs " + fpAcc);
        assertTrue(worst <= 1.0, "INT8 logits within one output step of the fake-quant logits: " + worst);
    }
}
