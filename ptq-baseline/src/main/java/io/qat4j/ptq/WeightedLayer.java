package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.params.DepthwiseConvolutionParamInitializer;
import org.deeplearning4j.nn.params.SeparableConvolutionParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.DepthwiseWeightLayout;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;

/**
 * A layer of a float MultiLayerNetwork or ComputationGraph that PTQ quantizes: a plain DL4J
 * {@code ConvolutionLayer}, {@code DenseLayer}, {@code OutputLayer}, {@code DepthwiseConvolution2D}
 * or {@code SeparableConvolution2D} (the classes {@code QuantizedModel.wrap} replaces; exact
 * classes, not subclasses).
 *
 * <p>Weight tensors ({@link Tensor}). Every kind has DL4J's {@code W}; a separable convolution also
 * has its pointwise {@code pW}. PTQ reads each in the layout the layers module quantizes it in
 * ({@link #toQuantizerLayout}), where one axis ({@link #outAxis(Tensor)}) holds the output channels
 * that per-channel scales follow: a conv kernel {@code [out, in, kh, kw]} (axis 0), a dense weight
 * {@code [in, out]} (axis 1), a depthwise kernel channels first {@code [nIn mult, kh, kw]} (axis 0;
 * DL4J stores it {@code [kh, kw, nIn, mult]} for a DepthwiseConvolution2D and
 * {@code [mult, nIn, kh, kw]} for a separable one's depthwise part, where output channel
 * {@code o = c mult + m} spans the {@code nIn} and {@code mult} axes; {@link DepthwiseWeightLayout}),
 * a pointwise kernel {@code [nOut, nIn mult, 1, 1]} (axis 0). So a depthwise kernel has
 * {@code nIn mult} per-channel scales, in the order the integer DepthwiseConv2D node and TFLite use.
 *
 * @param index   MultiLayerNetwork layer index, or ComputationGraph vertex index ({@link NetworkView.Vertex#index})
 * @param name    layer name ({@code "layer" + index} for an unnamed MultiLayerNetwork layer; the vertex name in a graph)
 * @param kind    the layer kind (an output layer counts as DENSE)
 * @param weights number of weights n_l over all of the layer's weight tensors (without bias): the count that bit
 *                allocation charges at the layer's one weight width
 */
public record WeightedLayer(int index, String name, Kind kind, long weights) {

    /** Layer kinds PTQ handles. */
    public enum Kind {
        /** {@code ConvolutionLayer}: {@code W [out, in, kh, kw]}. */
        CONV,
        /** {@code DenseLayer} or {@code OutputLayer}: {@code W [in, out]}. */
        DENSE,
        /** {@code DepthwiseConvolution2D}: {@code W [kh, kw, nIn, mult]}, output channels {@code nIn mult}. */
        DEPTHWISE,
        /**
         * {@code SeparableConvolution2D}: depthwise {@code W [mult, nIn, kh, kw]} (no bias), then pointwise
         * {@code pW [nOut, nIn mult, 1, 1]} with the bias; the depthwise output between them is the plan's
         * tensor {@code <layer>/mid}.
         */
        SEPARABLE
    }

    /** A weight tensor of a layer. */
    public enum Tensor {
        /** DL4J's {@code W}: the kernel of CONV, DENSE and DEPTHWISE layers, a SEPARABLE layer's depthwise kernel. */
        WEIGHTS,
        /** DL4J's {@code pW}: a SEPARABLE layer's pointwise kernel. */
        POINTWISE
    }

    /** The layer's weight tensors: {@code [WEIGHTS]}, or {@code [WEIGHTS, POINTWISE]} for a separable convolution. */
    public List<Tensor> tensors() {
        return switch (kind) {
            case CONV, DENSE, DEPTHWISE -> List.of(Tensor.WEIGHTS);
            case SEPARABLE -> List.of(Tensor.WEIGHTS, Tensor.POINTWISE);
        };
    }

    /** The tensor that produces the layer's output channels (and that the bias follows): pW for SEPARABLE, else W. */
    public Tensor outputTensor() {
        return switch (kind) {
            case CONV, DENSE, DEPTHWISE -> Tensor.WEIGHTS;
            case SEPARABLE -> Tensor.POINTWISE;
        };
    }

    /** Output-channel axis of {@code W} in the quantizer layout: 1 for DENSE, else 0. */
    public int outAxis() {
        return outAxis(Tensor.WEIGHTS);
    }

    /** Output-channel axis of a weight tensor in the quantizer layout ({@link #toQuantizerLayout}): 1 for a dense weight, else 0. */
    public int outAxis(Tensor tensor) {
        requireTensor(tensor);
        return kind == Kind.DENSE ? 1 : 0;
    }

    /** DL4J's parameter key of a weight tensor. */
    public String paramKey(Tensor tensor) {
        requireTensor(tensor);
        return switch (tensor) {
            case WEIGHTS -> switch (kind) {
                case CONV, DENSE -> DefaultParamInitializer.WEIGHT_KEY;
                case DEPTHWISE -> DepthwiseConvolutionParamInitializer.WEIGHT_KEY;
                case SEPARABLE -> SeparableConvolutionParamInitializer.DEPTH_WISE_WEIGHT_KEY;
            };
            case POINTWISE -> SeparableConvolutionParamInitializer.POINT_WISE_WEIGHT_KEY;
        };
    }

    /**
     * The name under which a {@code QuantizationPlan} carries a tensor's weight scales: the layer's
     * name for W, {@code <layer>/pointwise} for pW.
     */
    public String scalesName(Tensor tensor) {
        requireTensor(tensor);
        return switch (tensor) {
            case WEIGHTS -> name;
            case POINTWISE -> QuantizedSeparableConvolutionLayer.pointwiseName(name);
        };
    }

    /**
     * The plan's name of a separable convolution's depthwise output, the tensor its mid quantizer
     * quantizes: {@code <layer>/mid}.
     *
     * @throws IllegalArgumentException for another kind
     */
    public String midTensor() {
        if (kind != Kind.SEPARABLE) {
            throw new IllegalArgumentException("layer '" + name + "' is " + kind + "; only a SEPARABLE layer has a mid tensor");
        }
        return QuantizedSeparableConvolutionLayer.midQuantizerName(name);
    }

    /**
     * A weight tensor {@code param} (as DL4J stores it) in the layout the layers module quantizes it:
     * a depthwise kernel channels first {@code [nIn mult, kh, kw]} (a new array); every other tensor
     * as it is (the same array).
     */
    public INDArray toQuantizerLayout(Tensor tensor, INDArray param) {
        DepthwiseWeightLayout layout = depthwiseLayout(tensor);
        return layout == null ? param : layout.toChannelsFirst(param);
    }

    /** The inverse of {@link #toQuantizerLayout}: {@code q} as DL4J stores the tensor, {@code shape} being the parameter's shape. */
    public INDArray toParamLayout(Tensor tensor, INDArray q, long[] shape) {
        DepthwiseWeightLayout layout = depthwiseLayout(tensor);
        return layout == null ? q.reshape(shape) : layout.fromChannelsFirst(q, shape);
    }

    /** A weight tensor of the runtime layer {@code layer} (this one's), in the quantizer layout (a new array for depthwise kernels). */
    public INDArray read(org.deeplearning4j.nn.api.Layer layer, Tensor tensor) {
        return toQuantizerLayout(tensor, layer.getParam(paramKey(tensor)));
    }

    /** Sets a weight tensor of {@code layer} from {@code q} in the quantizer layout (cast to the parameter's data type). */
    public void write(org.deeplearning4j.nn.api.Layer layer, Tensor tensor, INDArray q) {
        INDArray p = layer.getParam(paramKey(tensor));
        layer.setParam(paramKey(tensor), toParamLayout(tensor, q, p.shape()).castTo(p.dataType()));
    }

    /** The depthwise layout of a tensor that is a depthwise kernel, else null. */
    private DepthwiseWeightLayout depthwiseLayout(Tensor tensor) {
        requireTensor(tensor);
        return tensor == Tensor.POINTWISE ? null : switch (kind) {
            case CONV, DENSE -> null;
            case DEPTHWISE -> DepthwiseWeightLayout.DEPTHWISE;
            case SEPARABLE -> DepthwiseWeightLayout.SEPARABLE;
        };
    }

    private void requireTensor(Tensor tensor) {
        if (!tensors().contains(tensor)) {
            throw new IllegalArgumentException("layer '" + name + "' (" + kind + ") has no " + tensor + " weight tensor; it has " + tensors());
        }
    }

    /** Weighted layers of a MultiLayerNetwork or ComputationGraph, in network (topological) order. */
    public static List<WeightedLayer> of(Model net) {
        return of(NetworkView.of(net));
    }

    /** Weighted layers of a network view, in its vertex order. */
    public static List<WeightedLayer> of(NetworkView view) {
        List<WeightedLayer> out = new ArrayList<>();
        for (NetworkView.Vertex v : view.vertices()) {
            Kind kind = kindOf(v.layer());
            if (kind != null) {
                WeightedLayer l = new WeightedLayer(v.index(), v.name(), kind, 1);
                long n = 0;
                for (Tensor t : l.tensors()) {
                    n += view.layer(v.name()).getParam(l.paramKey(t)).length();
                }
                out.add(new WeightedLayer(v.index(), v.name(), kind, n));
            }
        }
        return out;
    }

    /** The kind of the layer classes PTQ quantizes (exactly, not subclasses), else null. */
    static Kind kindOf(Layer conf) {
        if (conf == null) {
            return null;
        }
        Class<?> c = conf.getClass();
        return c == ConvolutionLayer.class ? Kind.CONV
                : c == DenseLayer.class || c == OutputLayer.class ? Kind.DENSE
                : c == DepthwiseConvolution2D.class ? Kind.DEPTHWISE
                : c == SeparableConvolution2D.class ? Kind.SEPARABLE : null;
    }

    /** The name {@code QuantizedModel} uses for layer {@code index}. */
    public static String nameOf(Layer conf, int index) {
        return conf.getLayerName() != null ? conf.getLayerName() : "layer" + index;
    }

    /** The layer of this name, or an error listing the names there are. */
    public static WeightedLayer named(List<WeightedLayer> layers, String name) {
        for (WeightedLayer l : layers) {
            if (l.name.equals(name)) {
                return l;
            }
        }
        List<String> names = new ArrayList<>();
        layers.forEach(l -> names.add(l.name));
        throw new IllegalArgumentException("no quantizable layer named '" + name + "'; the network has " + names);
    }
}
