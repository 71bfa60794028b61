package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
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

/**
 * Two promises of issue 15's one-home helpers: {@link QuantizerReadout} reads quantizer state and
 * changes nothing, and {@link BatchNormStatistics} reads and writes DL4J's stored variance exactly as
 * DL4J's inference uses it, in both storage modes.
 */
class QuantizerReadoutAndBatchNormStatisticsTest {

    private static Map<String, INDArray> copyOf(Map<String, INDArray> params) {
        Map<String, INDArray> c = new LinkedHashMap<>();
        params.forEach((k, v) -> c.put(k, v.dup()));
        return c;
    }

    @Test
    void theReadoutChangesNeitherParametersNorSettings() {
        DataSet train = SignedDataTasks.linearProjection(256, 21);
        for (InputQuantMode mode : new InputQuantMode[] {InputQuantMode.FIXED, InputQuantMode.LSQ, InputQuantMode.PACT}) {
            MultiLayerNetwork fp32 = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(0.01)).list()
                    .layer(new DenseLayer.Builder().nOut(8).activation(Activation.TANH).build())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5).activation(Activation.SOFTMAX).build())
                    .setInputType(InputType.feedForward(12)).build());
            fp32.init();
            MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 4, mode, 8)))
                    .network();
            q.fit(train);
            for (Layer l : q.getLayers()) {
                if (!(l.conf().getLayer() instanceof io.qat4j.layers.conf.QuantizedLayerConf)) {
                    continue;   // the tanh that wrap split off the dense layer
                }
                Map<String, INDArray> before = copyOf(l.paramTable());
                QuantSettings settingsBefore = QuantizerReadout.settings(l).clone();
                QuantizerReadout.inputObserved(l);
                QuantizerReadout.inputGrid(l, "l");
                INDArray w = QuantizerReadout.weights(l);
                if (w != null) {   // not the activation quantizer wrap placed before the tanh
                    QuantizerReadout.bias(l);
                    QuantizerReadout.weightCodes(l, w.castTo(DataType.DOUBLE), 1, "l");
                    QuantizerReadout.fakeQuantDenseOutput(l, Nd4j.rand(DataType.DOUBLE, 3, w.size(0)), "l");
                }
                assertEquals(settingsBefore, QuantizerReadout.settings(l), mode.toString());
                for (Map.Entry<String, INDArray> e : before.entrySet()) {
                    assertEquals(e.getValue(), l.paramTable().get(e.getKey()), mode + " " + e.getKey());
                }
            }
        }
    }

    @Test
    void storedVarianceRoundTripsAndSigmaIsWhatDl4jInferenceDividesBy() {
        for (boolean logStd : new boolean[] {true, false}) {
            MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1).dataType(DataType.DOUBLE).list()
                    .layer(new BatchNormalization.Builder().useLogStd(logStd).eps(1e-3).nOut(4).build())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(4).activation(Activation.IDENTITY).build())
                    .setInputType(InputType.feedForward(4)).build());
            net.init();
            Layer bn = net.getLayer(0);
            INDArray var = Nd4j.createFromArray(4e-6, 0.25, 1.0, 9.0).reshape(1, 4);   // one channel below eps
            BatchNormStatistics.setVariance(bn, var);
            INDArray back = BatchNormStatistics.variance(bn, DataType.DOUBLE);
            assertTrue(back.reshape(4).equalsWithEps(var.reshape(4), 1e-12), logStd + ": " + back);
            // DL4J's own inference: y = gamma (x - mean) / sqrt(var + eps) + beta with gamma 1, beta 0, mean 0
            INDArray x = Nd4j.createFromArray(1.0, 1.0, 1.0, 1.0).reshape(1, 4);
            INDArray y = net.feedForwardToLayer(0, x, false).get(1);
            INDArray expected = x.div(BatchNormStatistics.sigma(bn, DataType.DOUBLE).reshape(1, 4));
            assertTrue(y.equalsWithEps(expected, 1e-6 * expected.amaxNumber().doubleValue()), logStd + ": " + y + " vs " + expected);
        }
    }
}
