package io.qat4j.training;

import java.util.Arrays;
import java.util.List;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LocalResponseNormalization;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.Subsampling1DLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.layers.conf.ActivationQuantizerLayer;

/**
 * What a network takes as input, read from its configuration (DL4J 1.0.0-M2.1 stores no input type
 * in a saved network, so it is inferred from the layers that first see the input):
 * <ul>
 *   <li>{@link Kind#IMAGE}: {@code [C, H, W]} images as a rank-4 array in {@link #format} (NCHW, DL4J's
 *       default, or NHWC, Keras' channels_last); the first convolution fixes C, while H and W are
 *       unknown ({@value #UNKNOWN}) unless the network was built or imported with them (zoo input
 *       shape, Keras {@code batch_input_shape});</li>
 *   <li>{@link Kind#FLAT_IMAGE}: a {@code FeedForwardToCnnPreProcessor} first (DL4J's
 *       {@code InputType.convolutionalFlat}, e.g. zoo LeNet): {@code [C*H*W]} vectors or
 *       {@code [C, H, W]} images (NCHW), all of C, H, W known;</li>
 *   <li>{@link Kind#VECTOR}: a dense layer first: {@code [n]} vectors;</li>
 *   <li>{@link Kind#OTHER}: anything else (recurrent, embedding, several inputs): not checked here.</li>
 * </ul>
 * {@link #fit} turns a dataset of {@code [N, C, H, W]} images (what qat4j's data readers give) into
 * the layout the network takes, or says why it cannot, naming both shapes.
 *
 * @param kind   what the input is
 * @param shape  {@code [C, H, W]} (IMAGE, FLAT_IMAGE; {@value #UNKNOWN} where not known) or {@code [n]} (VECTOR); empty for OTHER
 * @param format the image layout the network takes (IMAGE; NCHW for FLAT_IMAGE); null otherwise
 * @param from   where this was read, for messages (e.g. "first layer 'conv1' (ConvolutionLayer)")
 */
public record ModelInput(Kind kind, long[] shape, CNN2DFormat format, String from) {

    /** A dimension the configuration does not fix. */
    public static final long UNKNOWN = -1;

    /** What the input is. */
    public enum Kind { IMAGE, FLAT_IMAGE, VECTOR, OTHER }

    public ModelInput {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The input of a DL4J network of either kind. */
    public static ModelInput of(Model net) {
        return switch (Networks.kind(net)) {
            case MULTI_LAYER -> of(((MultiLayerNetwork) net).getLayerWiseConfigurations());
            case GRAPH -> of(((ComputationGraph) net).getConfiguration());
        };
    }

    /** The input of a MultiLayerNetwork configuration: its first layer, past layers that keep the shape. */
    public static ModelInput of(MultiLayerConfiguration conf) {
        boolean spatial = false;
        for (int i = 0; i < conf.getConfs().size(); i++) {
            Layer l = conf.getConf(i).getLayer();
            Step s = step(l, conf.getInputPreProcess(i), spatial);
            if (s.input != null) {
                return s.input;
            }
            spatial |= s.spatial;
        }
        return other("no layer of the network says what it takes");
    }

    /** The input of a single-input ComputationGraph configuration: the chain of layers from its input. */
    public static ModelInput of(ComputationGraphConfiguration conf) {
        List<String> inputs = conf.getNetworkInputs();
        if (inputs.size() != 1) {
            return other("the graph takes " + inputs.size() + " inputs " + inputs);
        }
        String current = inputs.get(0);
        boolean spatial = false;
        for (int guard = 0; guard <= conf.getVertices().size(); guard++) {
            LayerVertex next = null;
            for (String name : conf.getVertexInputs().keySet()) {
                GraphVertex v = conf.getVertices().get(name);
                if (conf.getVertexInputs().get(name).contains(current) && v instanceof LayerVertex lv) {
                    next = lv;
                    current = name;
                    break;
                }
            }
            if (next == null) {
                return other("no layer of the graph reads its input directly");
            }
            Step s = step(next.getLayerConf().getLayer(), next.getPreProcessor(), spatial);
            if (s.input != null) {
                return s.input;
            }
            spatial |= s.spatial;
        }
        return other("the graph's layers do not say what it takes");
    }

    /** What one layer (with its input preprocessor) says: an input, or "look further" (and whether it is spatial). */
    private record Step(ModelInput input, boolean spatial) {
    }

    private static Step step(Layer l, InputPreProcessor pre, boolean afterSpatial) {
        String name = "'" + l.getLayerName() + "' (" + l.getClass().getSimpleName() + ")";
        if (pre instanceof FeedForwardToCnnPreProcessor p) {
            return new Step(new ModelInput(Kind.FLAT_IMAGE, new long[] {p.getNumChannels(), p.getInputHeight(), p.getInputWidth()},
                    CNN2DFormat.NCHW, "the FeedForwardToCnnPreProcessor before layer " + name), false);
        }
        if (pre != null) {
            return new Step(other("input preprocessor " + pre.getClass().getSimpleName() + " before layer " + name), false);
        }
        if (l instanceof Convolution1DLayer || l instanceof Convolution3D || l instanceof Subsampling1DLayer) {
            return new Step(other("layer " + name + " takes sequences or volumes"), false);
        }
        if (l instanceof ConvolutionLayer c) {
            return new Step(new ModelInput(Kind.IMAGE, new long[] {c.getNIn(), UNKNOWN, UNKNOWN}, c.getCnn2dDataFormat(),
                    "layer " + name + ", nIn " + c.getNIn() + ", " + c.getCnn2dDataFormat()), false);
        }
        if (l instanceof DenseLayer || l instanceof OutputLayer) {
            long n = ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) l).getNIn();
            return new Step(afterSpatial ? other("dense layer " + name + " after a spatial layer without a preprocessor")
                    : new ModelInput(Kind.VECTOR, new long[] {n}, null, "layer " + name + ", nIn " + n), false);
        }
        if (l instanceof ActivationLayer || l instanceof DropoutLayer || l instanceof BatchNormalization || l instanceof LocalResponseNormalization
                || l instanceof ActivationQuantizerLayer) {
            return new Step(null, false);
        }
        if (l instanceof SubsamplingLayer || l instanceof ZeroPaddingLayer || l instanceof Upsampling2D || l instanceof Cropping2D) {
            return new Step(null, true);
        }
        return new Step(other("layer " + name), false);
    }

    private static ModelInput other(String from) {
        return new ModelInput(Kind.OTHER, new long[0], null, from);
    }

    /** This input with image height and width fixed (a zoo input shape, a Keras {@code batch_input_shape}). */
    public ModelInput withImageSize(long height, long width) {
        return switch (kind) {
            case IMAGE, FLAT_IMAGE -> new ModelInput(kind, new long[] {shape[0], height, width}, format, from);
            case VECTOR, OTHER -> this;
        };
    }

    /** {@code [C, H, W]} when this input fixes all three (image folders are resized to it), else null. */
    public int[] imageShape() {
        return switch (kind) {
            case IMAGE, FLAT_IMAGE -> Arrays.stream(shape).allMatch(d -> d > 0) ? new int[] {(int) shape[0], (int) shape[1], (int) shape[2]}
                    : null;
            case VECTOR, OTHER -> null;
        };
    }

    /** In words, e.g. "[1, 28, 28] images (NCHW)", "[3, ?, ?] images (NHWC)", "[784] vectors or [1, 28, 28] images". */
    public String describe() {
        return switch (kind) {
            case IMAGE -> dims(shape) + " images (" + format + ")";
            case FLAT_IMAGE -> "[" + shape[0] * shape[1] * shape[2] + "] vectors or " + dims(shape) + " images";
            case VECTOR -> dims(shape) + " vectors";
            case OTHER -> "an input qat4j does not check (" + from + ")";
        };
    }

    private static String dims(long[] s) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < s.length; i++) {
            b.append(i == 0 ? "" : ", ").append(s[i] == UNKNOWN ? "?" : Long.toString(s[i]));
        }
        return b.append(']').toString();
    }

    /**
     * The per-example shape of {@code data} as the network takes it, or null when it does not fit.
     * IMAGE: rank-4 data of the same C (and H, W where known), permuted to NHWC for an NHWC network;
     * FLAT_IMAGE: {@code [C, H, W]} data as is, or vectors of C*H*W; VECTOR: vectors of n, or images
     * of C*H*W = n flattened (C, H, W order); OTHER: as is.
     */
    private INDArray fitted(INDArray features) {
        long[] s = Arrays.copyOfRange(features.shape(), 1, features.rank());
        long n = features.size(0);
        return switch (kind) {
            case IMAGE -> {
                if (s.length != 3 || s[0] != shape[0] || !matches(s[1], shape[1]) || !matches(s[2], shape[2])) {
                    yield null;
                }
                yield switch (format) {
                    case NCHW -> features;
                    case NHWC -> features.permute(0, 2, 3, 1).dup('c');
                };
            }
            case FLAT_IMAGE -> (s.length == 3 && Arrays.equals(s, shape)) || (s.length == 1 && s[0] == shape[0] * shape[1] * shape[2])
                    ? features : null;
            case VECTOR -> {
                long total = Arrays.stream(s).reduce(1, (a, b) -> a * b);
                yield total != shape[0] ? null : s.length == 1 ? features : features.dup('c').reshape('c', n, total);
            }
            case OTHER -> features;
        };
    }

    private static boolean matches(long actual, long expected) {
        return expected == UNKNOWN || actual == expected;
    }

    /**
     * {@code data} in the layout the network takes (the same object when nothing changes).
     *
     * @param data     features {@code [N, ...]} and labels
     * @param dataName the data in the user's words (file, folder or configuration), for the message
     * @param model    the network in the user's words
     * @throws IllegalArgumentException naming the data's per-example shape and this input's, when they do not fit
     */
    public DataSet fit(DataSet data, String dataName, String model) {
        INDArray f = fitted(data.getFeatures());
        if (f == null) {
            long[] s = Arrays.copyOfRange(data.getFeatures().shape(), 1, data.getFeatures().rank());
            throw new IllegalArgumentException(dataName + " holds examples of shape " + Arrays.toString(s) + " but " + model + " takes "
                    + describe() + " (from " + from + "); give data of that shape"
                    + (kind == Kind.IMAGE || kind == Kind.FLAT_IMAGE ? " (image folders are resized to the shape given in data.images.shape)"
                            : ""));
        }
        return f == data.getFeatures() ? data : new DataSet(f, data.getLabels());
    }
}
