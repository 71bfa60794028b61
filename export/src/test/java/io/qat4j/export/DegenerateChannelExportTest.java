package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;

/**
 * Issue 14 #4: a pruned output channel (all weights zero) with a large bias exports (any scale
 * represents the zeros, so the exporter picks one at which the bias fits int32), and the integer
 * model agrees with the fake-quant network; batch norm trained on one value per channel is refused
 * with a message instead of ending in an int32 overflow at export.
 */
class DegenerateChannelExportTest {

    private static MultiLayerNetwork mlp() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(8)).build());
        net.init();
        return net;
    }

    /** Four Gaussian clusters in 8 dimensions. */
    private static DataSet clusters(int n, long seed) {
        java.util.Random rnd = new java.util.Random(seed);
        double[][] x = new double[n][8];
        double[][] y = new double[n][4];
        for (int i = 0; i < n; i++) {
            int c = i % 4;
            for (int f = 0; f < 8; f++) {
                x[i][f] = (f % 4 == c ? 2.0 : 0.0) + rnd.nextGaussian() * 0.5;
            }
            y[i][c] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT),
                Nd4j.createFromArray(y).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT));
    }

    @Test
    void aPrunedChannelWithALargeBiasExportsAndAgreesWithTheFakeQuantNetwork() {
        DataSet train = clusters(800, 1);
        for (WeightQuantMode mode : new WeightQuantMode[] {WeightQuantMode.LSQ, WeightQuantMode.FIXED, WeightQuantMode.TERNARY}) {
            MultiLayerNetwork fp32 = mlp();
            for (int e = 0; e < 10; e++) {
                fp32.fit(train);
            }
            // prune hidden channel 0 and output channel 2: all weights 0; the output bias 3.0 keeps class 2 alive
            fp32.getLayer(0).getParam("W").getColumn(0).assign(0);
            fp32.getLayer(0).getParam("b").putScalar(0, 3.0);
            fp32.getLayer(1).getParam("W").getColumn(2).assign(0);
            fp32.getLayer(1).getParam("b").putScalar(2, 3.0);
            MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(QuantSettings.of(mode, 8, InputQuantMode.LSQ, 8)))
                    .network();
            q.fit(train);
            fp32.getLayer(0).getParam("W").getColumn(0).assign(0);   // keep the pruned channels pruned after the QAT step
            q.getLayer(0).getParam("W").getColumn(0).assign(0);
            q.getLayer(1).getParam("W").getColumn(2).assign(0);
            Int8Graph g = Int8Exporter.export(q, train.getFeatures()).graph();   // "bias 3.0 of channel 0 overflows int32" before
            Int8Model model = new Int8Model(g);
            int n = (int) train.numExamples();
            int[] pred = model.predict(train.getFeatures().dup('c').data().asFloat(), n);
            INDArray qat = q.output(train.getFeatures()).argMax(1);
            int agree = 0;
            for (int i = 0; i < n; i++) {
                agree += pred[i] == qat.getInt(i) ? 1 : 0;
            }
            System.out.printf("%s weights, pruned channels with bias 3.0: INT8 vs fake-quant agreement %d/%d%n", mode, agree, n);
            assertTrue(agree >= n * 0.99, mode + ": agreement " + agree + "/" + n);
        }
    }

    @Test
    void batchNormTrainedOnOneValuePerChannelIsRefusedWithAMessage() {
        // batch size 1 on 1x1 feature maps: the batch variance is 0 and the folded weights explode (PyTorch refuses too)
        MultiLayerNetwork fp32 = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(0.01)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(3, 3, 1)).build());
        fp32.init();
        MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))).network();
        DataSet one = new DataSet(Nd4j.rand(1, 1, 3, 3), Nd4j.createFromArray(new float[][] {{1, 0}}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> q.fit(one));
        assertTrue(e.getMessage().contains("'layer0'") && e.getMessage().contains("one value per channel")
                && e.getMessage().contains("batch size >= 2"), e.getMessage());
        q.fit(new DataSet(Nd4j.rand(2, 1, 3, 3), Nd4j.createFromArray(new float[][] {{1, 0}, {0, 1}})));   // two values: fine
    }
}
