package io.qat4j.ptq;

import java.util.Random;

import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Small networks and data for the PTQ tests (no dataset needed). */
final class TestNets {

    private TestNets() {
    }

    /**
     * conv(3x3, 4, identity)-BN-relu-maxpool-conv(3x3, 6, identity, same)-BN-relu-dense(16, identity)-relu-output(3):
     * the reference CNN's shape in miniature, with non-trivial batch-norm statistics and unequal
     * channel ranges (so folding, equalization and correction have something to do).
     */
    static MultiLayerNetwork cnn(long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(4).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().name("relu1").activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).name("pool1").kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv2").nOut(6).stride(2, 2)
                        .convolutionMode(org.deeplearning4j.nn.conf.ConvolutionMode.Same).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn2").build())
                .layer(new ActivationLayer.Builder().name("relu2").activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name("fc1").nOut(16).activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().name("relu3").activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(9, 9, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Random r = new Random(seed);
        for (String bn : new String[] {"bn1", "bn2"}) {
            org.deeplearning4j.nn.api.Layer l = net.getLayer(bn);
            long c = l.getParam("gamma").length();
            l.setParam("gamma", Nd4j.create(randoms(r, (int) c, 0.5, 2.0), l.getParam("gamma").shape()));
            l.setParam("beta", Nd4j.create(randoms(r, (int) c, -0.5, 0.5), l.getParam("beta").shape()));
            l.setParam("mean", Nd4j.create(randoms(r, (int) c, -0.3, 0.3), l.getParam("mean").shape()));
            double[] var = randoms(r, (int) c, 0.2, 3.0);
            if (l.getParam("var") != null) {
                l.setParam("var", Nd4j.create(var, l.getParam("var").shape()));
            } else {   // DL4J's default useLogStd stores log10(std)
                double[] log10Std = java.util.Arrays.stream(var).map(v -> Math.log10(Math.sqrt(v))).toArray();
                l.setParam("log10stdev", Nd4j.create(log10Std, l.getParam("log10stdev").shape()));
            }
        }
        for (String name : new String[] {"conv1", "conv2", "fc1", "out"}) {
            org.deeplearning4j.nn.api.Layer l = net.getLayer(name);
            l.setParam("b", Nd4j.create(randoms(r, (int) l.getParam("b").length(), -0.2, 0.2), l.getParam("b").shape()));
        }
        return net;
    }

    static double[] randoms(Random r, int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = lo + (hi - lo) * r.nextDouble();
        }
        return v;
    }

    /** Random non-negative images [n, 1, 9, 9] with 3 one-hot classes. */
    static DataSet data(int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, n, 1, 9, 9);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, 3);
        for (int i = 0; i < n; i++) {
            y.putScalar(i, i % 3, 1);
        }
        return new DataSet(x, y);
    }

    static DataSetIterator iterator(DataSet ds, int batch) {
        return new ListDataSetIterator<>(ds.asList(), batch);
    }

    static double maxAbsDiff(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    }
}
