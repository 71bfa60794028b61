package io.qat4j.layers;

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
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The reference CNN for 28x28 grey images (Fashion-MNIST):
 * Conv3x3(16)-BN-ReLU-MaxPool2-Conv3x3(32)-BN-ReLU-MaxPool2-Dense(128)-ReLU-Dense(10, softmax).
 * Convolutions have identity activations so that {@code QuantizedModel.wrap} folds each batch
 * norm into its convolution.
 */
public final class ReferenceCnn {

    private ReferenceCnn() {
    }

    /**
     * @param seed        weight-initialization seed
     * @param updater     optimizer with its learning rate (the trainer adjusts the rate per epoch)
     * @param weightDecay decoupled weight decay on weights (not biases, BN or quantizer parameters); 0 for none
     * @param channels    input channels; @param height image height; @param width image width; @param classes outputs
     */
    public static MultiLayerNetwork build(long seed, IUpdater updater, double weightDecay, int channels, int height, int width, int classes) {
        NeuralNetConfiguration.Builder b = new NeuralNetConfiguration.Builder().seed(seed).updater(updater).weightInit(WeightInit.RELU);
        if (weightDecay > 0) {
            b.weightDecay(weightDecay, false);
        }
        MultiLayerConfiguration conf = b.list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(16).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().name("relu1").activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).name("pool1").kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv2").nOut(32).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn2").build())
                .layer(new ActivationLayer.Builder().name("relu2").activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).name("pool2").kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("fc1").nOut(128).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(classes).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(height, width, channels)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
