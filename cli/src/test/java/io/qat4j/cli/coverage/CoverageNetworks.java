package io.qat4j.cli.coverage;

import java.util.List;
import java.util.function.Supplier;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.zoo.model.LeNet;
import org.deeplearning4j.zoo.model.SimpleCNN;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The float networks of the coverage matrix (issue 16): the architectures users bring, at the
 * bundled Fashion-MNIST subset's input shape {@code [1, 28, 28]}, 10 classes. Each is built from
 * stock DL4J layers (or by deeplearning4j-zoo, exactly as DL4J builds it) and initialised, not
 * trained: {@link CoverageMatrixTest} trains it briefly so that its predictions vary.
 */
final class CoverageNetworks {

    /** One row of the matrix: a name, what it exercises, and how to build the float network. */
    record Entry(String name, String exercises, Supplier<Model> build) {
    }

    static final int CLASSES = 10;
    private static final long SEED = 42;

    private CoverageNetworks() {
    }

    static List<Entry> all() {
        return List.of(
                new Entry("zoo-lenet", "FeedForwardToCnn input, Same-mode conv and max pool, dense", CoverageNetworks::zooLeNet),
                new Entry("zoo-simplecnn", "conv+BN folding, avg pool, dropout, global avg pool, softmax ActivationLayer output",
                        CoverageNetworks::zooSimpleCnn),
                new Entry("avgpool-cnn", "average pooling between ReLU convolutions (the drift case)", CoverageNetworks::avgPoolCnn),
                new Entry("resnet-graph", "conv-BN-Add(shortcut)-ReLU residual blocks, global avg pool", CoverageNetworks::resNetGraph),
                new Entry("mobilenet", "depthwise (multiplier 2) and separable convolutions with BN, ReLU6", CoverageNetworks::mobileNet),
                new Entry("inception-graph", "channel concat of 1x1, 3x3 and pooled branches", CoverageNetworks::inceptionGraph),
                new Entry("darknet", "conv-BN-LeakyReLU(0.1) blocks, max pool", CoverageNetworks::darknet),
                new Entry("unet-graph", "zero padding, cropping, nearest upsampling, skip concat", CoverageNetworks::unetGraph),
                new Entry("mlp-dropout", "dense layers with dropout", CoverageNetworks::mlpDropout),
                new Entry("lut-cnn", "ELU, tanh and sigmoid activation layers, global average pooling", CoverageNetworks::lutCnn));
    }

    private static NeuralNetConfiguration.Builder base() {
        return new NeuralNetConfiguration.Builder().seed(SEED).updater(new Adam(5e-3)).weightInit(WeightInit.XAVIER);
    }

    private static OutputLayer output(int nIn) {
        OutputLayer.Builder b = new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX);
        if (nIn > 0) {
            b.nIn(nIn);
        }
        return b.build();
    }

    /** deeplearning4j-zoo's LeNet at 28x28x1 as DL4J builds it (flat input, FeedForwardToCnnPreProcessor). */
    static Model zooLeNet() {
        LeNet zoo = LeNet.builder().numClasses(CLASSES).seed(SEED).inputShape(new int[] {1, 28, 28}).updater(new Adam(1e-3)).build();
        MultiLayerNetwork net = new MultiLayerNetwork((MultiLayerConfiguration) zoo.conf());
        net.init();
        return net;
    }

    /**
     * deeplearning4j-zoo's SimpleCNN at 28x28x1 as DL4J builds it: it ends in a softmax
     * ActivationLayer with no output layer, so it cannot be fitted as is; {@link CoverageMatrixTest}
     * trains a twin whose last layer is a loss layer and copies the parameters back.
     */
    static Model zooSimpleCnn() {
        SimpleCNN zoo = SimpleCNN.builder().numClasses(CLASSES).seed(SEED).inputShape(new int[] {1, 28, 28}).build();
        MultiLayerNetwork net = new MultiLayerNetwork((MultiLayerConfiguration) zoo.conf());
        net.init();
        return net;
    }

    static Model avgPoolCnn() {
        MultiLayerConfiguration conf = base().list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(8).padding(1, 1).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.AVG).name("avg1").kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv2").nOut(16).padding(1, 1).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.AVG).name("avg2").kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("fc").nOut(32).activation(Activation.RELU).build())
                .layer(output(0))
                .setInputType(InputType.convolutional(28, 28, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static Model resNetGraph() {
        ComputationGraphConfiguration.GraphBuilder g = base().graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(28, 28, 1))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(8).stride(2, 2).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build(), "in")
                .addLayer("stem_bn", new BatchNormalization.Builder().build(), "stem")
                .addLayer("stem_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "stem_bn");
        String x = "stem_relu";
        for (int b = 1; b <= 2; b++) {
            String p = "b" + b;
            g.addLayer(p + "c1", new ConvolutionLayer.Builder(3, 3).nOut(8).convolutionMode(ConvolutionMode.Same)
                            .activation(Activation.IDENTITY).build(), x)
                    .addLayer(p + "bn1", new BatchNormalization.Builder().build(), p + "c1")
                    .addLayer(p + "relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), p + "bn1")
                    .addLayer(p + "c2", new ConvolutionLayer.Builder(3, 3).nOut(8).convolutionMode(ConvolutionMode.Same)
                            .activation(Activation.IDENTITY).build(), p + "relu1")
                    .addLayer(p + "bn2", new BatchNormalization.Builder().build(), p + "c2")
                    .addVertex(p + "add", new ElementWiseVertex(ElementWiseVertex.Op.Add), p + "bn2", x)
                    .addLayer(p + "out", new ActivationLayer.Builder().activation(Activation.RELU).build(), p + "add");
            x = p + "out";
        }
        g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x)
                .addLayer("fc", output(8), "gap")
                .setOutputs("fc");
        ComputationGraph net = new ComputationGraph(g.build());
        net.init();
        return net;
    }

    static Model mobileNet() {
        MultiLayerConfiguration conf = base().list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(8).stride(2, 2).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().name("relu1").activation(Activation.RELU6).build())
                .layer(new DepthwiseConvolution2D.Builder(3, 3).name("dw2").depthMultiplier(2).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn2").build())
                .layer(new ActivationLayer.Builder().name("relu2").activation(Activation.RELU6).build())
                .layer(new SeparableConvolution2D.Builder(3, 3).name("sep3").nOut(16).stride(2, 2).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(output(0))
                .setInputType(InputType.convolutional(28, 28, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static Model inceptionGraph() {
        ComputationGraphConfiguration conf = base().graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(28, 28, 1))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(8).stride(2, 2).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build(), "in")
                .addLayer("b1x1", new ConvolutionLayer.Builder(1, 1).nOut(4).activation(Activation.RELU).build(), "stem")
                .addLayer("b3x3", new ConvolutionLayer.Builder(3, 3).nOut(8).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build(), "stem")
                .addLayer("bpool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(1, 1)
                        .convolutionMode(ConvolutionMode.Same).build(), "stem")
                .addVertex("concat", new MergeVertex(), "b1x1", "b3x3", "bpool")
                .addLayer("mix", new ConvolutionLayer.Builder(3, 3).nOut(16).stride(2, 2).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build(), "concat")
                .addLayer("fc", new DenseLayer.Builder().nOut(32).activation(Activation.RELU).build(), "mix")
                .addLayer("out", output(32), "fc")
                .setOutputs("out").build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }

    static Model darknet() {
        NeuralNetConfiguration.ListBuilder b = base().list();
        int[] channels = {8, 16};
        for (int i = 0; i < channels.length; i++) {
            b.layer(new ConvolutionLayer.Builder(3, 3).name("conv" + i).nOut(channels[i]).convolutionMode(ConvolutionMode.Same)
                            .hasBias(false).activation(Activation.IDENTITY).build())
                    .layer(new BatchNormalization.Builder().name("bn" + i).build())
                    .layer(new ActivationLayer.Builder().name("leaky" + i).activation(new ActivationLReLU(0.1)).build())
                    .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("pool" + i).kernelSize(2, 2).stride(2, 2)
                            .convolutionMode(ConvolutionMode.Same).build());
        }
        MultiLayerConfiguration conf = b.layer(new ConvolutionLayer.Builder(1, 1).name("head").nOut(CLASSES).activation(Activation.IDENTITY).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(output(0))
                .setInputType(InputType.convolutional(28, 28, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static Model unetGraph() {
        ComputationGraphConfiguration conf = base().graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(28, 28, 1))
                .addLayer("enc", new ConvolutionLayer.Builder(3, 3).nOut(8).activation(Activation.RELU).build(), "in")     // 26x26
                .addLayer("pad", new ZeroPaddingLayer.Builder(1, 1).build(), "enc")                                        // 28x28
                .addLayer("down", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "pad") // 14x14
                .addLayer("mid", new ConvolutionLayer.Builder(3, 3).nOut(8).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build(), "down")
                .addLayer("up", new Upsampling2D.Builder(2).build(), "mid")                                              // 28x28
                .addLayer("crop", new Cropping2D(1, 1, 1, 1), "pad")                                                     // 26x26
                .addLayer("upcrop", new Cropping2D(1, 1, 1, 1), "up")                                                    // 26x26
                .addVertex("skip", new MergeVertex(), "crop", "upcrop")
                .addLayer("dec", new ConvolutionLayer.Builder(3, 3).nOut(8).stride(2, 2).activation(Activation.RELU).build(), "skip")
                .addLayer("out", output(0), "dec")
                .setOutputs("out").build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }

    static Model mlpDropout() {
        MultiLayerConfiguration conf = base().list()
                .layer(new DenseLayer.Builder().name("fc1").nOut(64).activation(Activation.RELU).dropOut(0.8).build())
                .layer(new DenseLayer.Builder().name("fc2").nOut(32).activation(Activation.RELU).dropOut(0.8).build())
                .layer(output(0))
                .setInputType(InputType.feedForward(784)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static Model lutCnn() {
        MultiLayerConfiguration conf = base().list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(8).stride(2, 2).activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().name("elu").activation(Activation.ELU).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv2").nOut(12).activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().name("tanh").activation(Activation.TANH).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv3").nOut(16).activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().name("sigmoid").activation(Activation.SIGMOID).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(output(0))
                .setInputType(InputType.convolutional(28, 28, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
