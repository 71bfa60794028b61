package io.qat4j.layers;

import java.util.List;

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
 * The reference CNN for small grey images (Fashion-MNIST). With {@link Options#DEFAULT}:
 * Conv3x3(16)-BN-ReLU-MaxPool2-Conv3x3(32)-BN-ReLU-MaxPool2-Dense(128)-ReLU-Dense(10, softmax),
 * 207,114 parameters for 28x28x1 inputs and 10 classes. {@link Options} widen it: one
 * Conv3x3(c)-BN-ReLU-MaxPool2 block per entry of {@code channels} (layers {@code conv<i>},
 * {@code bn<i>}, {@code relu<i>}, {@code pool<i>}, i from 1), the hidden dense width, and inverted
 * dropout on the inputs of the dense and output layers (DL4J's layer {@code dropOut}, training only:
 * the identity at inference, so {@code QuantizedModel.wrap}, the PTQ passes and both exporters see the
 * same function with and without it).
 * Convolutions have identity activations so that {@code QuantizedModel.wrap} folds each batch
 * norm into its convolution; 3x3 convolutions are zero-padded by 1 (same size), pools halve the size
 * (floor).
 */
public final class ReferenceCnn {

    private ReferenceCnn() {
    }

    /**
     * The architecture's width and regularization; immutable, validated.
     *
     * @param channels output channels of each Conv3x3-BN-ReLU-MaxPool2 block, in order, 1 to {@value #MAX_BLOCKS} blocks, each
     *                 1..4096 (default [16, 32])
     * @param dense    units of the hidden dense layer, 1..65536 (default 128)
     * @param dropout  probability of dropping each input of the dense layer and of the output layer during training, in
     *                 [0, 1) (default 0: no dropout); DL4J's {@code dropOut} takes the retain probability {@code 1 - dropout}
     */
    public record Options(List<Integer> channels, int dense, double dropout) {

        /** Most convolution blocks: each halves the image, and four make a 28x28 image 1x1. */
        public static final int MAX_BLOCKS = 4;

        /** The reference CNN as it was before these options: [16, 32], 128, no dropout. */
        public static final Options DEFAULT = new Options(List.of(16, 32), 128, 0);

        public Options {
            if (channels == null || channels.isEmpty() || channels.size() > MAX_BLOCKS) {
                throw new IllegalArgumentException("ReferenceCnn.channels must list 1 to " + MAX_BLOCKS
                        + " convolution widths (one Conv3x3-BN-ReLU-MaxPool2 block each, e.g. [32, 64]), got " + channels);
            }
            for (Integer c : channels) {
                if (c == null || c < 1 || c > 4096) {
                    throw new IllegalArgumentException("ReferenceCnn.channels: each width must be 1..4096, got " + channels);
                }
            }
            channels = List.copyOf(channels);
            if (dense < 1 || dense > 65536) {
                throw new IllegalArgumentException("ReferenceCnn.dense must be 1..65536 units, got " + dense);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException("ReferenceCnn.dropout is the probability of dropping an input, in [0, 1) (0 = none), got "
                        + dropout);
            }
        }
    }

    /**
     * The default reference CNN ({@link Options#DEFAULT}).
     *
     * @param seed        weight-initialization seed
     * @param updater     optimizer with its learning rate (the trainer adjusts the rate per epoch)
     * @param weightDecay decoupled weight decay on weights (not biases, BN or quantizer parameters); 0 for none
     * @param channels    input channels; @param height image height; @param width image width; @param classes outputs
     */
    public static MultiLayerNetwork build(long seed, IUpdater updater, double weightDecay, int channels, int height, int width, int classes) {
        return build(seed, updater, weightDecay, channels, height, width, classes, Options.DEFAULT);
    }

    /**
     * The reference CNN with {@code options}, initialized (He/ReLU initialization seeded by {@code seed}).
     *
     * @param options the blocks, dense width and dropout
     * @throws IllegalArgumentException when the blocks' pools would shrink a {@code height x width} image below 1x1, naming
     *                                  the sizes and the block
     */
    public static MultiLayerNetwork build(long seed, IUpdater updater, double weightDecay, int channels, int height, int width, int classes,
                                          Options options) {
        NeuralNetConfiguration.Builder b = new NeuralNetConfiguration.Builder().seed(seed).updater(updater).weightInit(WeightInit.RELU);
        if (weightDecay > 0) {
            b.weightDecay(weightDecay, false);
        }
        NeuralNetConfiguration.ListBuilder list = b.list();
        int h = height;
        int w = width;
        for (int i = 1; i <= options.channels().size(); i++) {
            h /= 2;
            w /= 2;
            if (h < 1 || w < 1) {
                throw new IllegalArgumentException("ReferenceCnn.channels: " + options.channels().size() + " blocks each halve the image, "
                        + "but a " + height + "x" + width + " image is below 1x1 after block " + i + "; use at most " + (i - 1) + " blocks");
            }
            list.layer(new ConvolutionLayer.Builder(3, 3).name("conv" + i).nOut(options.channels().get(i - 1)).padding(1, 1)
                            .activation(Activation.IDENTITY).build())
                    .layer(new BatchNormalization.Builder().name("bn" + i).build())
                    .layer(new ActivationLayer.Builder().name("relu" + i).activation(Activation.RELU).build())
                    .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).name("pool" + i).kernelSize(2, 2).stride(2, 2).build());
        }
        DenseLayer.Builder fc = new DenseLayer.Builder().name("fc1").nOut(options.dense()).activation(Activation.RELU);
        OutputLayer.Builder out = new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(classes).activation(Activation.SOFTMAX);
        if (options.dropout() > 0) {
            fc.dropOut(1 - options.dropout());   // DL4J's argument is the retain probability
            out.dropOut(1 - options.dropout());
        }
        MultiLayerNetwork net = new MultiLayerNetwork(list.layer(fc.build()).layer(out.build())
                .setInputType(InputType.convolutional(height, width, channels)).build());
        net.init();
        return net;
    }
}
