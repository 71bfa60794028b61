package io.qat4j.training;

import java.util.Locale;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.transferlearning.FineTuneConfiguration;
import org.deeplearning4j.nn.transferlearning.TransferLearning;
import org.deeplearning4j.zoo.ZooModel;
import org.deeplearning4j.zoo.model.AlexNet;
import org.deeplearning4j.zoo.model.Darknet19;
import org.deeplearning4j.zoo.model.LeNet;
import org.deeplearning4j.zoo.model.ResNet50;
import org.deeplearning4j.zoo.model.SimpleCNN;
import org.deeplearning4j.zoo.model.SqueezeNet;
import org.deeplearning4j.zoo.model.Xception;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The image classifiers of {@code deeplearning4j-zoo} that {@code qat4j train} builds by name, at any
 * input shape and class count, with random initialization from the run's seed: {@link ZooModel#init()}
 * builds the configuration and initializes it; pretrained weights are never downloaded. The
 * detection, segmentation, embedding and text models of the zoo (YOLO, UNet, FaceNet, TextGenerationLSTM)
 * are not classifiers of {@code [C, H, W]} images and are not offered; nor is NASNet, whose DL4J
 * 1.0.0-M2.1 configuration fails to build at any input size ("Cannot calculate activation types if no
 * inputs have been set").
 *
 * <p>Network kinds as DL4J builds them: LeNet, SimpleCNN and AlexNet are MultiLayerNetworks (LeNet
 * takes flat {@code [C*H*W]} input through a FeedForwardToCnnPreProcessor); VGG16, VGG19, ResNet50,
 * SqueezeNet, Darknet19 and Xception are ComputationGraphs. Each architecture's own minimum input
 * size applies (ResNet50 builds at 96 x 96 but not at 64 x 64, Darknet19 and SqueezeNet at 32 x 32,
 * Xception at 71 x 71); a shape below it fails in DL4J's configuration check, whose message names the
 * layer.
 */
public enum ZooArchitecture {
    LENET, SIMPLECNN, ALEXNET, VGG16, VGG19, RESNET50, SQUEEZENET, DARKNET19, XCEPTION;

    /** The name in configurations and on the command line: lower case, e.g. "resnet50". */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The architecture called {@code id} (case-insensitive), or null when there is none. */
    public static ZooArchitecture of(String id) {
        for (ZooArchitecture a : values()) {
            if (a.id().equalsIgnoreCase(id)) {
                return a;
            }
        }
        return null;
    }

    /**
     * All ids in declaration order, for messages and help texts (a constant, so that annotations can use
     * it; {@code ZooArchitectureTest} checks it against {@link #values()}).
     */
    public static final String IDS = "lenet, simplecnn, alexnet, vgg16, vgg19, resnet50, squeezenet, darknet19, xception";

    /**
     * The network, initialized with random parameters (SimpleCNN's softmax activation layer becomes a
     * softmax loss layer, {@link #withLossLayer}).
     *
     * @param inputShape {@code [C, H, W]}, each >= 1
     * @param classes    outputs, >= 2
     * @param seed       initialization seed
     * @param updater    the optimizer (its learning rate is replaced every epoch by the run's schedule)
     */
    public Model build(int[] inputShape, int classes, long seed, IUpdater updater) {
        int[] s = inputShape.clone();
        ZooModel<?> zoo = switch (this) {
            case LENET -> LeNet.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case SIMPLECNN -> SimpleCNN.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case ALEXNET -> AlexNet.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case VGG16 -> org.deeplearning4j.zoo.model.VGG16.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case VGG19 -> org.deeplearning4j.zoo.model.VGG19.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case RESNET50 -> ResNet50.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case SQUEEZENET -> SqueezeNet.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case DARKNET19 -> Darknet19.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
            case XCEPTION -> Xception.builder().inputShape(s).numClasses(classes).seed(seed).updater(updater).build();
        };
        Model net = zoo.init();
        return net instanceof MultiLayerNetwork m && !(m.getOutputLayer() instanceof IOutputLayer) ? withLossLayer(m) : net;
    }

    /**
     * SimpleCNN as DL4J builds it ends in a softmax {@code ActivationLayer}, without a loss, so it cannot
     * be fitted: that last layer becomes a {@code LossLayer} with the same softmax and the multi-class
     * cross entropy (the same outputs; the loss of every other zoo classifier). Any other ending is left
     * as it is (the trainer then names the layer that lacks a loss).
     */
    private static Model withLossLayer(MultiLayerNetwork m) {
        org.deeplearning4j.nn.conf.layers.Layer last = m.getOutputLayer().conf().getLayer();
        if (!(last instanceof ActivationLayer a) || !(a.getActivationFn() instanceof ActivationSoftmax)) {
            return m;
        }
        return new TransferLearning.Builder(m).fineTuneConfiguration(new FineTuneConfiguration.Builder().build()).removeLayersFromOutput(1)
                .addLayer(new LossLayer.Builder(LossFunctions.LossFunction.MCXENT).activation(Activation.SOFTMAX).name(last.getLayerName())
                        .build())
                .build();
    }
}
