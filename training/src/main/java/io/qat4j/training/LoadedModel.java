package io.qat4j.training;

import java.nio.file.Path;

import org.deeplearning4j.nn.api.Model;

/**
 * A network read by {@link ModelLoader}, with what it was read from.
 *
 * @param file    the file it was read from
 * @param format  what the file is
 * @param network the network: a MultiLayerNetwork or a ComputationGraph ({@link Networks#kind})
 * @param input   what the network takes ({@link ModelInput}; from a Keras file, with the image size of its input layer)
 */
public record LoadedModel(Path file, ModelLoader.Format format, Model network, ModelInput input) {

    /** "runs/x/best.zip (DL4J zip, ComputationGraph)", the model in the user's words. */
    public String describe() {
        return file + " (" + format.description() + ")";
    }

    public Networks.Kind kind() {
        return Networks.kind(network);
    }
}
