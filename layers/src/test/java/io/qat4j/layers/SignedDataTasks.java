package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.params.QuantizerParams;

/**
 * Small MLP tasks on signed data (issue 14) and what the tests do with them: data, float
 * networks, training, accuracy, QAT runs. Shared with the export module's tests (test-jar).
 */
public final class SignedDataTasks {

    private SignedDataTasks() {
    }

    /** Features of the tasks below. */
    public static final int FEATURES = 12;
    /** Classes of the tasks below. */
    public static final int CLASSES = 5;

    /** The data: 12 features uniform in [-1, 1], class = number of features below -0.5, capped at 4. */
    public static DataSet negativeCounting(int n, long seed) {
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

    /**
     * A constructed case of the same kind: class = quintile bin of a fixed random projection
     * {@code y = sum w_f x_f} of 12 features uniform in [-1, 1]. Nearly linear, so a float MLP learns
     * it well, and half of its information is in the negative values an unsigned quantizer clips.
     */
    public static DataSet linearProjection(int n, long seed) {
        Random weights = new Random(99);
        double[] w = new double[FEATURES];
        double var = 0;
        for (int f = 0; f < FEATURES; f++) {
            w[f] = weights.nextGaussian();
            var += w[f] * w[f] / 3;
        }
        double sd = Math.sqrt(var);
        double[] cuts = {-0.84 * sd, -0.25 * sd, 0.25 * sd, 0.84 * sd};
        Random rnd = new Random(seed);
        double[][] x = new double[n][FEATURES];
        double[][] y = new double[n][CLASSES];
        for (int i = 0; i < n; i++) {
            double v = 0;
            for (int f = 0; f < FEATURES; f++) {
                x[i][f] = rnd.nextDouble() * 2 - 1;
                v += w[f] * x[i][f];
            }
            int c = 0;
            while (c < cuts.length && v > cuts[c]) {
                c++;
            }
            y[i][c] = 1;
        }
        return new DataSet(Nd4j.createFromArray(x).castTo(DataType.FLOAT), Nd4j.createFromArray(y).castTo(DataType.FLOAT));
    }

    public static MultiLayerNetwork mlp(Activation hidden, long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(seed).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nOut(32).activation(hidden).build())
                .layer(new DenseLayer.Builder().nOut(16).activation(hidden).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(FEATURES)).build());
        net.init();
        return net;
    }

    public static void fit(MultiLayerNetwork net, DataSet data, int epochs) {
        for (int e = 0; e < epochs; e++) {
            for (DataSet b : data.batchBy(64)) {
                net.fit(b);
            }
        }
    }

    public static double accuracy(MultiLayerNetwork net, DataSet data) {
        return net.output(data.getFeatures()).argMax(1).eq(data.getLabels().argMax(1)).castTo(DataType.DOUBLE).meanNumber().doubleValue();
    }

    public static QuantSettings settingsOf(MultiLayerNetwork net, int layer) {
        return ((QuantizedLayerConf) net.getLayer(layer).conf().getLayer()).getQuant();
    }

    public static MultiLayerNetwork trainedFloat(Activation hidden, DataSet train) {
        MultiLayerNetwork fp32 = mlp(hidden, 3);
        fit(fp32, train, 30);
        return fp32;
    }

    /** Settings with the input signedness forced (as {@code firstLayerSigned: true} does for the first layer). */
    public static QuantSettings forcedSigned(QuantSettings base) {
        QuantSettings s = base.clone();
        s.setInputSigned(true);
        s.setInputSignFromData(false);
        return s;
    }

    public static INDArray predictionsAfterQat(MultiLayerNetwork fp32, QuantizationPlan plan, DataSet train, DataSet test, int epochs) {
        MultiLayerNetwork q = QuantizedModel.wrap(fp32, plan).network();
        fit(q, train, epochs);
        return q.output(test.getFeatures());
    }

    /** A float MLP (12-32-5, ReLU) trained 30 epochs on {@code train}. */
    public static MultiLayerNetwork trainedOneHiddenMlp(DataSet train) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(0.01)).list()
                .layer(new DenseLayer.Builder().nOut(32).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(12)).build());
        net.init();
        fit(net, train, 30);
        return net;
    }

    /** Every learned step and alpha of the network, checked finite and > 0. */
    public static void assertLearnedStepsPositive(MultiLayerNetwork q) {
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
}
