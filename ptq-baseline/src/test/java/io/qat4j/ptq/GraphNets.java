package io.qat4j.ptq;

import java.util.Map;
import java.util.Random;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * ComputationGraphs for the graph PTQ tests: a tiny ResNet (stem conv-BN-ReLU, one residual block
 * conv-BN-ReLU-conv-BN + shortcut -> Add -> ReLU, global average pooling, dense, output), the same
 * layers without the shortcut as a graph and as its MultiLayerNetwork twin, and synthetic images
 * whose class is a shape (so a network with global pooling can learn it).
 */
final class GraphNets {

    static final int SIZE = 12;
    static final int CLASSES = 3;

    private GraphNets() {
    }

    private static NeuralNetConfiguration.Builder base(long seed) {
        return new NeuralNetConfiguration.Builder().seed(seed).weightInit(WeightInit.XAVIER).updater(new Adam(1e-2));
    }

    private static Layer conv(int nOut) {
        return new ConvolutionLayer.Builder(3, 3).nOut(nOut).padding(1, 1).activation(Activation.IDENTITY).build();
    }

    private static Layer relu() {
        return new ActivationLayer.Builder().activation(Activation.RELU).build();
    }

    private static Layer gap() {
        return new GlobalPoolingLayer.Builder(PoolingType.AVG).build();
    }

    private static Layer fc() {
        return new DenseLayer.Builder().nOut(12).activation(Activation.RELU).build();
    }

    private static Layer out() {
        return new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX).build();
    }

    /**
     * in -> conv0 -> bn0 -> relu0 -> conv1 -> bn1 -> relu1 -> conv2 -> bn2 -> add(relu0, bn2) -> relu2
     * -> gap -> fc -> out.
     */
    static ComputationGraph resnet(long seed) {
        ComputationGraphConfiguration conf = base(seed).graphBuilder()
                .addInputs("input")
                .addLayer("conv0", conv(6), "input")
                .addLayer("bn0", new BatchNormalization.Builder().build(), "conv0")
                .addLayer("relu0", relu(), "bn0")
                .addLayer("conv1", conv(6), "relu0")
                .addLayer("bn1", new BatchNormalization.Builder().build(), "conv1")
                .addLayer("relu1", relu(), "bn1")
                .addLayer("conv2", conv(6), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().build(), "conv2")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "relu0", "bn2")
                .addLayer("relu2", relu(), "add")
                .addLayer("gap", gap(), "relu2")
                .addLayer("fc", fc(), "gap")
                .addLayer("out", out(), "fc")
                .setOutputs("out")
                .setInputTypes(InputType.convolutional(SIZE, SIZE, 1))
                .build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    private static final String[] CHAIN = {"conv0", "bn0", "relu0", "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "gap", "fc", "out"};

    private static Layer chainLayer(String name) {
        Layer l = switch (name) {
            case "conv0", "conv1", "conv2" -> conv(6);
            case "bn0", "bn1", "bn2" -> new BatchNormalization.Builder().build();
            case "relu0", "relu1", "relu2" -> relu();
            case "gap" -> gap();
            case "fc" -> fc();
            case "out" -> out();
            default -> throw new IllegalArgumentException(name);
        };
        l.setLayerName(name);
        return l;
    }

    /** The residual network's layers without the shortcut, as a graph. */
    static ComputationGraph chainGraph(long seed) {
        ComputationGraphConfiguration.GraphBuilder b = base(seed).graphBuilder().addInputs("input");
        String previous = "input";
        for (String name : CHAIN) {
            b.addLayer(name, chainLayer(name), previous);
            previous = name;
        }
        ComputationGraph g = new ComputationGraph(b.setOutputs(previous).setInputTypes(InputType.convolutional(SIZE, SIZE, 1)).build());
        g.init();
        return g;
    }

    /** {@link #chainGraph} as a MultiLayerNetwork holding the graph's parameters. */
    static MultiLayerNetwork chainTwin(ComputationGraph graph) {
        NeuralNetConfiguration.ListBuilder b = base(0).list();
        for (String name : CHAIN) {
            b.layer(chainLayer(name));
        }
        MultiLayerNetwork net = new MultiLayerNetwork(b.setInputType(InputType.convolutional(SIZE, SIZE, 1)).build());
        net.init();
        for (String name : CHAIN) {
            for (Map.Entry<String, INDArray> e : graph.getLayer(name).paramTable().entrySet()) {
                net.getLayer(name).setParam(e.getKey(), e.getValue().dup());
            }
        }
        return net;
    }

    /**
     * Grey {@code [n, 1, 12, 12]} images: noise in [0, 0.3) and one bright shape at a random place,
     * class 0 a horizontal bar (1x5), 1 a vertical bar (5x1), 2 a 3x3 square.
     */
    static DataSet shapes(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * SIZE * SIZE];
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(CLASSES);
            y[i * CLASSES + k] = 1;
            int h = k == 0 ? 1 : k == 1 ? 5 : 3;
            int w = k == 0 ? 5 : k == 1 ? 1 : 3;
            int row = r.nextInt(SIZE - h + 1);
            int col = r.nextInt(SIZE - w + 1);
            for (int p = 0; p < SIZE * SIZE; p++) {
                x[i * SIZE * SIZE + p] = (float) (0.3 * r.nextDouble());
            }
            for (int dy = 0; dy < h; dy++) {
                for (int dx = 0; dx < w; dx++) {
                    x[i * SIZE * SIZE + (row + dy) * SIZE + col + dx] = (float) (0.8 + 0.2 * r.nextDouble());
                }
            }
        }
        return new DataSet(Nd4j.create(x, new long[] {n, 1, SIZE, SIZE}, DataType.FLOAT),
                Nd4j.create(y, new long[] {n, CLASSES}, DataType.FLOAT));
    }

    /** A few epochs of Adam in batches of 25. */
    static void fit(Model net, DataSet data, int epochs) {
        for (int e = 0; e < epochs; e++) {
            for (DataSet batch : data.batchBy(25)) {
                if (net instanceof ComputationGraph g) {
                    g.fit(batch);
                } else {
                    ((MultiLayerNetwork) net).fit(batch);
                }
            }
        }
    }

    /** Fraction of rows whose argmax matches the one-hot label. */
    static double accuracy(INDArray probabilities, INDArray labels) {
        int right = 0;
        for (int i = 0; i < probabilities.size(0); i++) {
            right += probabilities.getRow(i).argMax().getInt(0) == labels.getRow(i).argMax().getInt(0) ? 1 : 0;
        }
        return right / (double) probabilities.size(0);
    }
}
