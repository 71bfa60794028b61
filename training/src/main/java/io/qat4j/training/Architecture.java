package io.qat4j.training;

import io.qat4j.training.config.ConfigChoices;

/**
 * The networks an FP32 run builds by name (the {@code model.architecture} configuration key and
 * {@code qat4j train --model}): qat4j's reference CNN (the default) or one of the
 * {@code deeplearning4j-zoo} classifiers ({@link ZooArchitecture}).
 */
public enum Architecture {
    /** {@code io.qat4j.layers.ReferenceCnn}, sized to the data. */
    REFERENCE_CNN,
    LENET, SIMPLECNN, ALEXNET, VGG16, VGG19, RESNET50, SQUEEZENET, DARKNET19, XCEPTION;

    /** The zoo model, or null for the reference CNN. */
    public ZooArchitecture zoo() {
        return switch (this) {
            case REFERENCE_CNN -> null;
            case LENET -> ZooArchitecture.LENET;
            case SIMPLECNN -> ZooArchitecture.SIMPLECNN;
            case ALEXNET -> ZooArchitecture.ALEXNET;
            case VGG16 -> ZooArchitecture.VGG16;
            case VGG19 -> ZooArchitecture.VGG19;
            case RESNET50 -> ZooArchitecture.RESNET50;
            case SQUEEZENET -> ZooArchitecture.SQUEEZENET;
            case DARKNET19 -> ZooArchitecture.DARKNET19;
            case XCEPTION -> ZooArchitecture.XCEPTION;
        };
    }

    /** The name in configurations and on the command line ({@link ConfigChoices#spelling}: "reference-cnn", "resnet50"). */
    public String id() {
        return ConfigChoices.spelling(this);
    }

    /** {@link #id()}, as messages show it. */
    @Override
    public String toString() {
        return id();
    }
}
