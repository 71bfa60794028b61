package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
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

import io.qat4j.layers.impl.WeightQuantization;
import io.qat4j.layers.params.QuantizerParams;

/**
 * QAT end to end on synthetic data: a float MLP is trained, wrapped as W4A4 LSQ and fine-tuned; it
 * must reach the float accuracy within 2 percentage points, and its effective weights must lie
 * exactly on the 4-bit grid (integer multiples of the learned step in [-7, 7]).
 */
class LowBitTrainingTest {

    private static final int CLASSES = 6;
    private static final int DIM = 12;

    /** Gaussian clusters: fixed random centres, unit-variance noise (seeded). */
    private static DataSet clusters(int n, long seed, double[][] centres) {
        Random r = new Random(seed);
        float[] x = new float[n * DIM];
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(CLASSES);
            y[i * CLASSES + c] = 1;
            for (int d = 0; d < DIM; d++) {
                x[i * DIM + d] = (float) (centres[c][d] + r.nextGaussian() * 0.9);
            }
        }
        return new DataSet(Nd4j.create(x, new long[] {n, DIM}, DataType.FLOAT), Nd4j.create(y, new long[] {n, CLASSES}, DataType.FLOAT));
    }

    private static double accuracy(MultiLayerNetwork net, DataSet test) {
        INDArray predicted = net.output(test.getFeatures()).argMax(1);
        INDArray truth = test.getLabels().argMax(1);
        return predicted.eq(truth).castTo(DataType.DOUBLE).meanNumber().doubleValue();
    }

    private static void train(MultiLayerNetwork net, DataSet train, int epochs) {
        for (int e = 0; e < epochs; e++) {
            for (DataSet batch : train.batchBy(100)) {
                net.fit(batch);
            }
        }
    }

    @Test
    void w4a4LsqMatchesFloatAccuracyWithWeightsOnTheGrid() {
        Random r = new Random(1);
        double[][] centres = new double[CLASSES][DIM];
        for (double[] c : centres) {
            for (int d = 0; d < DIM; d++) {
                c[d] = r.nextGaussian() * 1.2;
            }
        }
        DataSet train = clusters(3000, 2, centres);
        DataSet test = clusters(1500, 3, centres);
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(7).updater(new Adam(5e-3)).list()
                .layer(new DenseLayer.Builder().name("fc1").nOut(32).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name("fc2").nOut(32).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(DIM)).build();
        MultiLayerNetwork fp = new MultiLayerNetwork(conf);
        fp.init();
        train(fp, train, 15);
        double fpAccuracy = accuracy(fp, test);
        assertTrue(fpAccuracy > 0.7, "float baseline learned the task: " + fpAccuracy);

        QuantSettings w4a4 = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4);
        QuantSettings firstLayer = w4a4.clone();
        firstLayer.setInputSigned(true);   // the raw features are signed
        MultiLayerNetwork q = QuantizedModel.wrap(fp, QuantizationPlan.builder(w4a4).layer("fc1", firstLayer).build()).network();
        q.setLearningRate(1e-3);
        train(q, train, 8);
        double qAccuracy = accuracy(q, test);
        System.out.printf("synthetic clusters: float %.4f, W4A4 LSQ %.4f%n", fpAccuracy, qAccuracy);
        assertTrue(qAccuracy >= fpAccuracy - 0.02, "W4A4 " + qAccuracy + " vs float " + fpAccuracy);

        for (int i = 0; i < q.getnLayers(); i++) {
            QuantSettings s = ((io.qat4j.layers.conf.QuantizedLayerConf) q.getLayer(i).conf().getLayer()).getQuant();
            INDArray w = q.getLayer(i).getParam("W");
            INDArray wq = WeightQuantization.forward(s, w, 1, q.getLayer(i).paramTable(), "layer" + i, false).castTo(DataType.DOUBLE);
            INDArray steps = q.getLayer(i).getParam(QuantizerParams.WEIGHT_STEP_KEY).castTo(DataType.DOUBLE);
            INDArray codes = wq.divRowVector(steps.reshape(1, steps.length()));
            INDArray rounded = org.nd4j.linalg.ops.transforms.Transforms.round(codes, true);
            assertEquals(0.0, codes.sub(rounded).amaxNumber().doubleValue(), 1e-4, "layer " + i + " weights on the grid");
            assertTrue(rounded.amaxNumber().doubleValue() <= 7, "layer " + i + " codes within [-7, 7]");
            assertTrue(steps.minNumber().doubleValue() > 0, "steps stay positive");
        }
    }
}
