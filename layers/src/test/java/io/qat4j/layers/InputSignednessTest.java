package io.qat4j.layers;

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
import io.qat4j.layers.export.Int8Exporter;
import io.qat4j.runtime.Int8Model;

/**
 * Issue 14 #1: every input quantizer takes its signedness from the data (first layer and hidden
 * layers, LSQ, LSQ+, PACT, FIXED); a quantizer forced unsigned on negative data warns, naming the
 * layer, the minimum and the key to set; signed data at 1 bit is an error.
 */
class InputSignednessTest {

    private static final int FEATURES = 12;
    private static final int CLASSES = 5;

    /** The data: 12 features uniform in [-1, 1], class = number of features below -0.5, capped at 4. */
    static DataSet negativeCounting(int n, long seed) {
        Random rnd = new Random(seed);
        double[][] x = new double[n][FEATURES];
        double[][] y = new double[n][CLASSES];
        for (int i = 0; i < n; i++) {
            int below = 0;
            for (int f = 0; f < FEATURES; f++) {
                x[i][f] = rnd.nextDouble() * 2 - 1;
                below += x[i][f] < -0.5 ? 1 : 0;
            }
            y[i][Math.min(4, below)] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).castTo(DataType.FLOAT), Nd4j.createFromArray(y).castTo(DataType.FLOAT));
    }

    static MultiLayerNetwork mlp(Activation hidden, long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(seed).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nOut(32).activation(hidden).build())
                .layer(new DenseLayer.Builder().nOut(16).activation(hidden).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(FEATURES)).build());
        net.init();
        return net;
    }

    static void fit(MultiLayerNetwork net, DataSet data, int epochs) {
        for (int e = 0; e < epochs; e++) {
            for (DataSet b : data.batchBy(64)) {
                net.fit(b);
            }
        }
    }

    static double accuracy(MultiLayerNetwork net, DataSet data) {
        return net.output(data.getFeatures()).argMax(1).eq(data.getLabels().argMax(1)).castTo(DataType.DOUBLE).meanNumber().doubleValue();
    }

    private static QuantSettings settingsOf(MultiLayerNetwork net, int layer) {
        return ((QuantizedLayerConf) net.getLayer(layer).conf().getLayer()).getQuant();
    }

    private static MultiLayerNetwork trainedFloat(Activation hidden, DataSet train) {
        MultiLayerNetwork fp32 = mlp(hidden, 3);
        fit(fp32, train, 30);
        return fp32;
    }

    @Test
    void qatOnSignedDataMatchesFloatWithoutAnySignednessSetting() throws Exception {
        DataSet train = negativeCounting(2000, 1);
        DataSet test = negativeCounting(600, 2);
        MultiLayerNetwork fp32 = trainedFloat(Activation.RELU, train);
        double fpAcc = accuracy(fp32, test);
        // the config: weights and inputs LSQ 8-bit, no firstLayerSigned. Before: QAT 52% (negatives clipped to 0)
        MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))).network();
        fit(q, train, 3);
        double qatAcc = accuracy(q, test);
        assertTrue(settingsOf(q, 0).isInputSigned(), "the first layer's input quantizer became signed from the data");
        assertTrue(!settingsOf(q, 1).isInputSigned(), "after ReLU the hidden input stays unsigned");
        Int8Model model = new Int8Model(Int8Exporter.export(q, train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 256)))
                .graph());
        int[] pred = model.predict(test.getFeatures().dup('c').data().asFloat(), (int) test.numExamples());
        INDArray truth = test.getLabels().argMax(1);
        int correct = 0;
        for (int i = 0; i < pred.length; i++) {
            correct += pred[i] == truth.getInt(i) ? 1 : 0;
        }
        double int8Acc = (double) correct / pred.length;
        System.out.printf("signed data: FP32 %.4f, QAT W8A8 %.4f, INT8 runtime %.4f%n", fpAcc, qatAcc, int8Acc);
        assertTrue(fpAcc > 0.9, "the float network learned the task: " + fpAcc);
        assertTrue(qatAcc >= fpAcc - 0.03, "QAT within 3 pp of FP32: " + qatAcc + " vs " + fpAcc);
        assertTrue(int8Acc >= fpAcc - 0.03, "INT8 within 3 pp of FP32: " + int8Acc + " vs " + fpAcc);
    }

    @Test
    void hiddenInputsAfterTanhAndLeakyReluBecomeSignedInEveryInputMode() {
        DataSet train = negativeCounting(1500, 4);
        DataSet test = negativeCounting(500, 5);
        for (Activation hidden : new Activation[] {Activation.TANH, Activation.LEAKYRELU}) {
            MultiLayerNetwork fp32 = trainedFloat(hidden, train);
            double fpAcc = accuracy(fp32, test);
            for (InputQuantMode mode : new InputQuantMode[] {InputQuantMode.LSQ, InputQuantMode.LSQ_PLUS, InputQuantMode.PACT,
                    InputQuantMode.FIXED}) {
                MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(
                        QuantSettings.of(WeightQuantMode.LSQ, 8, mode, 8))).network();
                fit(q, train, 2);
                double acc = accuracy(q, test);
                System.out.printf("%s hidden, %s inputs: FP32 %.4f, QAT %.4f%n", hidden, mode, fpAcc, acc);
                for (int l = 0; l < 3; l++) {
                    assertTrue(settingsOf(q, l).isInputSigned(), hidden + "/" + mode + ": layer " + l + " input is signed");
                }
                assertTrue(acc >= fpAcc - 0.05, hidden + "/" + mode + ": QAT " + acc + " vs FP32 " + fpAcc);
            }
        }
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
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q.fit(train), mode.toString());
            assertTrue(e.getMessage().contains("'layer0'") && e.getMessage().contains("inputBits >= 2"), e.getMessage());
        }
    }
}
