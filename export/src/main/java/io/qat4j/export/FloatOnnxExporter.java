package io.qat4j.export;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution2D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.params.DepthwiseConvolutionParamInitializer;
import org.deeplearning4j.nn.params.SeparableConvolutionParamInitializer;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationHardSigmoid;
import org.nd4j.linalg.activations.impl.ActivationHardTanH;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftPlus;
import org.nd4j.linalg.activations.impl.ActivationSoftSign;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationSwish;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.export.GraphExporter.Network;
import io.qat4j.export.GraphExporter.Vertex;
import io.qat4j.layers.BatchNormStatistics;
import onnx.Onnx;

/**
 * Float ONNX export (opset {@link OnnxExporter#OPSET}) of a float DL4J network, MultiLayerNetwork or
 * ComputationGraph, whose output equals DL4J's {@code output()} (inference mode). Both network
 * kinds go through one walk over the vertex view the integer export uses
 * ({@link Network#of(MultiLayerNetwork)}, {@link Network#of(ComputationGraph)}): vertices in
 * topological order, a layer list's input preprocessors as its layer vertices' preprocessors.
 * Shapes come from DL4J's own {@code InputType} propagation ({@code getOutputType}), Same-mode
 * padding from DL4J's {@link ConvolutionUtils#getSameModeTopLeftPadding} and
 * {@link ConvolutionUtils#getSameModeBottomRightPadding} (the extra unit at the bottom/right).
 *
 * <p>The graph has one input {@value #INPUT}, float {@code [N, features]} or NCHW
 * {@code [N, channels, height, width]}, and one output {@value #OUTPUT}, DL4J's output shape
 * ({@code [N, features]} or NCHW). Weights are stored as float32 (a float64 network is cast).
 *
 * <p>Mapping (DL4J 1.0.0-M2.1 layer or vertex: ONNX ops), see {@link LayerKind}, {@link ActivationKind}:
 * <table>
 *   <caption>DL4J to ONNX</caption>
 *   <tr><td>ConvolutionLayer, Convolution2D (Truncate/Strict, Same incl. asymmetric padding, stride,
 *       dilation, with or without bias)</td><td>Conv</td></tr>
 *   <tr><td>DepthwiseConvolution2D (depth multiplier m)</td><td>Conv, group = nIn, weights
 *       {@code [kH,kW,nIn,m]} reordered to {@code [nIn*m,1,kH,kW]} (output channel {@code i*m+j})</td></tr>
 *   <tr><td>SeparableConvolution2D</td><td>Conv (group = nIn, no bias), then 1x1 Conv with the bias</td></tr>
 *   <tr><td>BatchNormalization (CNN or dense input)</td><td>BatchNormalization with DL4J's stored
 *       mean and {@link BatchNormStatistics#variance} (log-std or variance storage), epsilon = eps;
 *       locked gamma/beta as constants; no activation (DL4J applies none)</td></tr>
 *   <tr><td>DenseLayer, OutputLayer</td><td>Gemm ({@code W} stored {@code [nIn, nOut]}), then the activation</td></tr>
 *   <tr><td>ActivationLayer, LossLayer</td><td>the activation</td></tr>
 *   <tr><td>SubsamplingLayer MAX / AVG (Truncate/Strict, Same)</td><td>MaxPool (with dilations) /
 *       AveragePool, {@code count_include_pad} = {@code avgPoolIncludePadInDivisor}</td></tr>
 *   <tr><td>GlobalPoolingLayer MAX / AVG over a CNN input</td><td>GlobalMaxPool / GlobalAveragePool,
 *       then Flatten to {@code [N, C]} when it collapses dimensions (DL4J's default)</td></tr>
 *   <tr><td>ZeroPaddingLayer</td><td>Pad (constant 0)</td></tr>
 *   <tr><td>Cropping2D</td><td>Slice on axes 2, 3</td></tr>
 *   <tr><td>Upsampling2D</td><td>Resize, nearest, asymmetric coordinates, floor (repeats each pixel)</td></tr>
 *   <tr><td>DropoutLayer, dropout on any layer</td><td>nothing (identity at inference)</td></tr>
 *   <tr><td>ElementWiseVertex Add / Subtract / Product / Average / Max</td><td>Add (Sum for 3+) / Sub / Mul / Mean / Max</td></tr>
 *   <tr><td>MergeVertex</td><td>Concat on its merge axis (channels for NCHW)</td></tr>
 *   <tr><td>FeedForwardToCnnPreProcessor / CnnToFeedForwardPreProcessor (NCHW)</td><td>Reshape
 *       {@code [-1, C, H, W]} / Flatten (axis 1), both in DL4J's C order</td></tr>
 * </table>
 * Activations: identity (none), ReLU (Relu), ReLU6 (Clip 0..6), LeakyReLU (LeakyRelu, alpha), sigmoid,
 * tanh, ELU (Elu, alpha), hard sigmoid ({@code min(1, max(0, 0.2 x + 0.5))}: HardSigmoid alpha 0.2,
 * beta 0.5), hard tanh (Clip -1..1), swish ({@code x sigmoid(x)}: Sigmoid, Mul), softplus, softsign,
 * softmax (Softmax over axis 1 of a {@code [N, F]} tensor).
 *
 * <p>Errors ({@link IllegalArgumentException}, naming the layer or vertex and listing what is
 * supported): any other layer, vertex, preprocessor or activation (LSTM, Embedding, attention,
 * Deconvolution2D, SpaceToDepth, custom layers...), NHWC data formats, Causal convolution mode,
 * SUM/PNORM pooling, dilated average pooling, a DenseLayer with layer norm, ReLU with
 * max/threshold/negative slope, softmax over a CNN tensor, and networks with more than one input or
 * output.
 */
public final class FloatOnnxExporter {

    /** Name of the graph input. */
    public static final String INPUT = "input";
    /** Name of the graph output. */
    public static final String OUTPUT = "output";

    /** The DL4J layer configurations with a float ONNX mapping (exact classes: a subclass is not assumed to behave alike). */
    enum LayerKind {
        CONVOLUTION("Conv", ConvolutionLayer.class, Convolution2D.class),
        DEPTHWISE_CONVOLUTION("Conv (group = nIn)", DepthwiseConvolution2D.class),
        SEPARABLE_CONVOLUTION("Conv (group = nIn), 1x1 Conv", SeparableConvolution2D.class),
        BATCH_NORMALIZATION("BatchNormalization", BatchNormalization.class),
        DENSE("Gemm", DenseLayer.class, OutputLayer.class),
        LOSS("its activation", LossLayer.class),
        ACTIVATION("its activation", ActivationLayer.class),
        POOLING("MaxPool / AveragePool", SubsamplingLayer.class),
        GLOBAL_POOLING("GlobalMaxPool / GlobalAveragePool, Flatten", GlobalPoolingLayer.class),
        ZERO_PADDING("Pad", ZeroPaddingLayer.class),
        CROPPING("Slice", Cropping2D.class),
        UPSAMPLING("Resize (nearest)", Upsampling2D.class),
        DROPOUT("identity", DropoutLayer.class);

        /** The ONNX ops this layer becomes. */
        final String onnx;
        private final List<Class<? extends org.deeplearning4j.nn.conf.layers.Layer>> classes;

        @SafeVarargs
        LayerKind(String onnx, Class<? extends org.deeplearning4j.nn.conf.layers.Layer>... classes) {
            this.onnx = onnx;
            this.classes = List.of(classes);
        }

        static Optional<LayerKind> of(org.deeplearning4j.nn.conf.layers.Layer conf) {
            return Arrays.stream(values()).filter(k -> k.classes.contains(conf.getClass())).findFirst();
        }

        /** The supported DL4J layer class names, for error messages. */
        static String supported() {
            return Arrays.stream(values()).flatMap(k -> k.classes.stream()).map(Class::getSimpleName).collect(Collectors.joining(", "));
        }
    }

    /** The DL4J activation functions with a float ONNX mapping. */
    enum ActivationKind {
        IDENTITY("none", ActivationIdentity.class),
        RELU("Relu", ActivationReLU.class),
        RELU6("Clip [0, 6]", ActivationReLU6.class),
        LEAKY_RELU("LeakyRelu", ActivationLReLU.class),
        SIGMOID("Sigmoid", ActivationSigmoid.class),
        TANH("Tanh", ActivationTanH.class),
        ELU("Elu", ActivationELU.class),
        HARD_SIGMOID("HardSigmoid (alpha 0.2, beta 0.5)", ActivationHardSigmoid.class),
        HARD_TANH("Clip [-1, 1]", ActivationHardTanH.class),
        SWISH("Sigmoid, Mul", ActivationSwish.class),
        SOFTPLUS("Softplus", ActivationSoftPlus.class),
        SOFTSIGN("Softsign", ActivationSoftSign.class),
        SOFTMAX("Softmax (axis 1 of [N, F])", ActivationSoftmax.class);

        final String onnx;
        private final Class<? extends IActivation> type;

        ActivationKind(String onnx, Class<? extends IActivation> type) {
            this.onnx = onnx;
            this.type = type;
        }

        static Optional<ActivationKind> of(IActivation a) {
            return Arrays.stream(values()).filter(k -> k.type == a.getClass()).findFirst();
        }

        static String supported() {
            return Arrays.stream(values()).map(k -> k.type.getSimpleName()).collect(Collectors.joining(", "));
        }
    }

    /** A vertex output in the ONNX graph: its tensor name and DL4J's type for it (shape per example). */
    private record Value(String tensor, InputType type) {
    }

    private final OnnxGraph g = new OnnxGraph("qat4j-fp32");

    private FloatOnnxExporter() {
    }

    /**
     * {@code net} as a float ONNX model.
     *
     * @param inputDims one example's input shape: {@code {features}} or {@code {channels, height, width}}
     *                  (NCHW; a network starting with a FeedForwardToCnnPreProcessor takes {@code {features}})
     * @throws IllegalArgumentException for a layer, activation, preprocessor or setting without a mapping (named)
     */
    public static Onnx.ModelProto export(MultiLayerNetwork net, int[] inputDims) {
        return new FloatOnnxExporter().run(Network.of(net), inputDims);
    }

    /**
     * {@code graph} as a float ONNX model; as {@link #export(MultiLayerNetwork, int[])}.
     *
     * @throws IllegalArgumentException as there, and for a graph with more than one input or output
     */
    public static Onnx.ModelProto export(ComputationGraph graph, int[] inputDims) {
        return new FloatOnnxExporter().run(Network.of(graph), inputDims);
    }

    private Onnx.ModelProto run(Network net, int[] inputDims) {
        if (net.inputs().size() != 1 || net.outputs().size() != 1) {
            throw new IllegalArgumentException("the float ONNX export needs one network input and one output; this network has inputs "
                    + net.inputs() + " and outputs " + net.outputs());
        }
        InputType inType = inputType(inputDims);
        g.input(INPUT, dims(inType, "network input"));
        g.reserve(OUTPUT);
        Map<String, Value> values = new HashMap<>();
        values.put(net.inputs().get(0), new Value(INPUT, inType));
        for (Vertex v : net.vertices()) {
            List<Value> in = v.inputs().stream().map(values::get).toList();
            values.put(v.key(), vertex(v, in));
        }
        Vertex last = net.vertices().stream().filter(v -> v.key().equals(net.outputs().get(0))).findFirst().orElseThrow();
        Value out = values.get(last.key());
        g.nodeTo("Identity", OUTPUT, List.of(out.tensor()), OUTPUT, List.of());
        g.output(OUTPUT, dims(out.type(), "vertex '" + last.name() + "' (the network output)"));
        return g.model();
    }

    private static InputType inputType(int[] d) {
        return switch (d.length) {
            case 1 -> InputType.feedForward(d[0]);
            case 3 -> InputType.convolutional(d[1], d[2], d[0], CNN2DFormat.NCHW);
            default -> throw new IllegalArgumentException("input dims " + Arrays.toString(d)
                    + ": give one example's shape, {features} or {channels, height, width}");
        };
    }

    /** One example's shape in ONNX (NCHW) order. */
    private static long[] dims(InputType t, String what) {
        if (t instanceof InputType.InputTypeFeedForward f) {
            return new long[] {f.getSize()};
        }
        if (t instanceof InputType.InputTypeConvolutional c && c.getFormat() == CNN2DFormat.NCHW) {
            return new long[] {c.getChannels(), c.getHeight(), c.getWidth()};
        }
        throw new IllegalArgumentException(what + ": a " + t + " tensor has no float ONNX mapping (dense [N, F] or NCHW only)");
    }

    private Value vertex(Vertex v, List<Value> in) {
        org.deeplearning4j.nn.conf.graph.GraphVertex vc = v.conf();
        String name = v.name();
        InputType[] types = in.stream().map(Value::type).toArray(InputType[]::new);
        List<String> tensors = in.stream().map(Value::tensor).toList();
        if (vc instanceof LayerVertex lv) {
            if (in.size() != 1) {
                throw new IllegalArgumentException("vertex '" + name + "': a layer with " + in.size() + " inputs (merge them first)");
            }
            return layer(name, lv.getPreProcessor(), v.layer(), in.get(0));
        }
        if (vc instanceof ElementWiseVertex e) {
            return new Value(elementwise(name, e.getOp(), tensors), vc.getOutputType(-1, types));
        }
        if (vc instanceof MergeVertex m) {
            for (InputType t : types) {
                dims(t, "vertex '" + name + "' (MergeVertex input)");
            }
            return new Value(g.node("Concat", name, tensors, List.of(OnnxGraph.intAttr("axis", m.getMergeAxis()))),
                    vc.getOutputType(-1, types));
        }
        throw new IllegalArgumentException("vertex '" + name + "': " + vc.getClass().getSimpleName() + " has no float ONNX mapping "
                + "(supported: layer vertices, ElementWiseVertex Add/Subtract/Product/Average/Max, MergeVertex)");
    }

    private String elementwise(String name, ElementWiseVertex.Op op, List<String> in) {
        return switch (op) {
            case Add -> g.node(in.size() == 2 ? "Add" : "Sum", name, in, List.of());
            case Subtract -> {
                if (in.size() != 2) {
                    throw new IllegalArgumentException("vertex '" + name + "': elementwise Subtract of " + in.size() + " inputs (DL4J needs two)");
                }
                yield g.node("Sub", name, in, List.of());
            }
            case Product -> {
                String y = in.get(0);
                for (int i = 1; i < in.size(); i++) {
                    y = g.node("Mul", name, List.of(y, in.get(i)), List.of());
                }
                yield y;
            }
            case Average -> g.node("Mean", name, in, List.of());
            case Max -> g.node("Max", name, in, List.of());
        };
    }

    private Value preprocess(String name, InputPreProcessor pre, Value in) {
        InputType out = pre.getOutputType(in.type());
        if (pre instanceof CnnToFeedForwardPreProcessor p) {
            requireNchw(name, "CnnToFeedForwardPreProcessor", p.getFormat());
            cnn(name, in);
            return new Value(g.node("Flatten", name + "_flatten", List.of(in.tensor()), List.of(OnnxGraph.intAttr("axis", 1))), out);
        }
        if (pre instanceof FeedForwardToCnnPreProcessor) {
            long[] d = dims(out, "layer '" + name + "' (FeedForwardToCnnPreProcessor output)");
            String shape = g.longs(name + "_shape", -1, d[0], d[1], d[2]);
            return new Value(g.node("Reshape", name + "_reshape", List.of(in.tensor(), shape), List.of()), out);
        }
        throw new IllegalArgumentException("layer '" + name + "': input preprocessor " + pre.getClass().getSimpleName()
                + " has no float ONNX mapping (supported: FeedForwardToCnnPreProcessor, CnnToFeedForwardPreProcessor)");
    }

    private Value layer(String name, InputPreProcessor pre, Layer layer, Value input) {
        Value in = pre == null ? input : preprocess(name, pre, input);
        org.deeplearning4j.nn.conf.layers.Layer lc = layer.conf().getLayer();
        LayerKind kind = LayerKind.of(lc).orElseThrow(() -> new IllegalArgumentException("layer '" + name + "': "
                + lc.getClass().getSimpleName() + " has no float ONNX mapping (supported layers: " + LayerKind.supported() + ")"));
        String x = in.tensor();
        return switch (kind) {
            case CONVOLUTION -> {
                ConvolutionLayer c = (ConvolutionLayer) lc;
                InputType out = lc.getOutputType(-1, in.type());
                String y = conv(name, x, g.floats(name + "_W", layer.getParam(ConvolutionParamInitializer.WEIGHT_KEY), null),
                        bias(name, layer, ConvolutionParamInitializer.BIAS_KEY), c, pads(name, c.getConvolutionMode(), c.getPadding(),
                                c.getKernelSize(), c.getStride(), c.getDilation(), in, out), 1);
                yield new Value(activation(name, y, c.getActivationFn(), out), out);
            }
            case DEPTHWISE_CONVOLUTION -> {
                DepthwiseConvolution2D c = (DepthwiseConvolution2D) lc;
                InputType out = lc.getOutputType(-1, in.type());
                // DL4J: [kH, kW, nIn, m], output channel i*m + j; ONNX group conv: [nIn*m, 1, kH, kW], group i = channels i*m..i*m+m-1
                INDArray w = layer.getParam(DepthwiseConvolutionParamInitializer.WEIGHT_KEY);
                long nIn = w.size(2);
                INDArray onnxW = w.permute(2, 3, 0, 1).dup('c').reshape('c', nIn * w.size(3), 1, w.size(0), w.size(1));
                String y = conv(name, x, g.floats(name + "_W", onnxW, null), bias(name, layer, DepthwiseConvolutionParamInitializer.BIAS_KEY),
                        c, pads(name, c.getConvolutionMode(), c.getPadding(), c.getKernelSize(), c.getStride(), c.getDilation(), in, out), nIn);
                yield new Value(activation(name, y, c.getActivationFn(), out), out);
            }
            case SEPARABLE_CONVOLUTION -> {
                SeparableConvolution2D c = (SeparableConvolution2D) lc;
                InputType out = lc.getOutputType(-1, in.type());
                // DL4J: depthwise [m, nIn, kH, kW] (its kernel reads it as [kH, kW, nIn, m]), pointwise [nOut, nIn*m, 1, 1]
                INDArray dw = layer.getParam(SeparableConvolutionParamInitializer.DEPTH_WISE_WEIGHT_KEY);
                long nIn = dw.size(1);
                INDArray onnxDw = dw.permute(1, 0, 2, 3).dup('c').reshape('c', nIn * dw.size(0), 1, dw.size(2), dw.size(3));
                String depthwise = conv(name + "_depthwise", x, g.floats(name + "_depthwise_W", onnxDw, null), null, c,
                        pads(name, c.getConvolutionMode(), c.getPadding(), c.getKernelSize(), c.getStride(), c.getDilation(), in, out), nIn);
                String y = g.node("Conv", name + "_pointwise", withBias(List.of(depthwise, g.floats(name + "_pointwise_W",
                        layer.getParam(SeparableConvolutionParamInitializer.POINT_WISE_WEIGHT_KEY), null)),
                        bias(name, layer, SeparableConvolutionParamInitializer.BIAS_KEY)), List.of(OnnxGraph.ints("kernel_shape", 1, 1)));
                yield new Value(activation(name, y, c.getActivationFn(), out), out);
            }
            case BATCH_NORMALIZATION -> {
                BatchNormalization bn = (BatchNormalization) lc;
                if (in.type() instanceof InputType.InputTypeConvolutional) {
                    requireNchw(name, "BatchNormalization", bn.getCnn2DFormat());
                }
                long channels = dims(in.type(), "layer '" + name + "' input")[0];
                long[] shape = {channels};
                String gamma;
                String beta;
                if (bn.isLockGammaBeta()) {
                    gamma = g.floats(name + "_gamma", filled(channels, bn.getGamma()), shape);
                    beta = g.floats(name + "_beta", filled(channels, bn.getBeta()), shape);
                } else {
                    gamma = g.floats(name + "_gamma", layer.getParam(BatchNormalizationParamInitializer.GAMMA), shape);
                    beta = g.floats(name + "_beta", layer.getParam(BatchNormalizationParamInitializer.BETA), shape);
                }
                // ONNX divides by sqrt(var + epsilon) as DL4J's inference does with the variance it stores (no eps inside);
                // DL4J's batch-norm layer applies no activation function (its configured one is unused)
                String y = g.node("BatchNormalization", name, List.of(x, gamma, beta,
                        g.floats(name + "_mean", layer.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN), shape),
                        g.floats(name + "_var", BatchNormStatistics.variance(layer), shape)), List.of(OnnxGraph.floatAttr("epsilon", bn.getEps())));
                yield new Value(y, in.type());
            }
            case DENSE -> {
                if (lc instanceof DenseLayer d && d.isHasLayerNorm()) {
                    throw new IllegalArgumentException("layer '" + name + "': DenseLayer with layer normalization has no float ONNX mapping");
                }
                if (!(in.type() instanceof InputType.InputTypeFeedForward)) {
                    throw new IllegalArgumentException("layer '" + name + "': a dense layer reading a " + in.type()
                            + " tensor (add a CnnToFeedForwardPreProcessor, as setInputType does)");
                }
                InputType out = lc.getOutputType(-1, in.type());
                // DL4J stores W as [nIn, nOut]: Gemm without transB
                String y = g.node("Gemm", name, withBias(List.of(x, g.floats(name + "_W", layer.getParam(DefaultParamInitializer.WEIGHT_KEY),
                        null)), bias(name, layer, DefaultParamInitializer.BIAS_KEY)), List.of());
                yield new Value(activation(name, y, ((BaseLayer) lc).getActivationFn(), out), out);
            }
            case LOSS -> new Value(activation(name, x, ((LossLayer) lc).getActivationFn(), in.type()), in.type());
            case ACTIVATION -> new Value(activation(name, x, ((ActivationLayer) lc).getActivationFn(), in.type()), in.type());
            case POOLING -> {
                SubsamplingLayer s = (SubsamplingLayer) lc;
                requireNchw(name, "SubsamplingLayer", s.getCnn2dDataFormat());
                InputType out = lc.getOutputType(-1, in.type());
                int[] k = s.getKernelSize();
                int[] st = s.getStride();
                int[] d = s.getDilation();
                long[] p = pads(name, s.getConvolutionMode(), s.getPadding(), k, st, d, in, out);
                List<Onnx.AttributeProto> window = List.of(OnnxGraph.ints("kernel_shape", k[0], k[1]), OnnxGraph.ints("strides", st[0], st[1]),
                        OnnxGraph.ints("pads", p));
                String y = switch (s.getPoolingType()) {
                    case MAX -> g.node("MaxPool", name, List.of(x), concat(window, OnnxGraph.ints("dilations", d[0], d[1])));
                    case AVG -> {
                        if (d[0] != 1 || d[1] != 1) {
                            throw new IllegalArgumentException("layer '" + name + "': average pooling with dilation " + Arrays.toString(d)
                                    + " has no opset-" + OnnxExporter.OPSET + " mapping (AveragePool has no dilations before opset 19)");
                        }
                        yield g.node("AveragePool", name, List.of(x), concat(window,
                                OnnxGraph.intAttr("count_include_pad", s.isAvgPoolIncludePadInDivisor() ? 1 : 0)));
                    }
                    case SUM, PNORM -> throw new IllegalArgumentException("layer '" + name + "': " + s.getPoolingType()
                            + " pooling has no float ONNX mapping (MAX, AVG)");
                };
                yield new Value(y, out);
            }
            case GLOBAL_POOLING -> {
                GlobalPoolingLayer gp = (GlobalPoolingLayer) lc;
                if (!(in.type() instanceof InputType.InputTypeConvolutional)) {
                    throw new IllegalArgumentException("layer '" + name + "': global pooling over a " + in.type()
                            + " tensor has no float ONNX mapping (CNN inputs only)");
                }
                cnn(name, in);
                int[] pd = gp.getPoolingDimensions();
                if (pd != null && !(pd.length == 2 && Math.min(pd[0], pd[1]) == 2 && Math.max(pd[0], pd[1]) == 3)) {
                    throw new IllegalArgumentException("layer '" + name + "': global pooling over dimensions " + Arrays.toString(pd)
                            + " has no float ONNX mapping (height and width, {2, 3})");
                }
                String y = switch (gp.getPoolingType()) {
                    case MAX -> g.node("GlobalMaxPool", name, List.of(x), List.of());
                    case AVG -> g.node("GlobalAveragePool", name, List.of(x), List.of());
                    case SUM, PNORM -> throw new IllegalArgumentException("layer '" + name + "': global " + gp.getPoolingType()
                            + " pooling has no float ONNX mapping (MAX, AVG)");
                };
                if (gp.isCollapseDimensions()) {
                    y = g.node("Flatten", name + "_flatten", List.of(y), List.of(OnnxGraph.intAttr("axis", 1)));
                }
                yield new Value(y, lc.getOutputType(-1, in.type()));
            }
            case ZERO_PADDING -> {
                ZeroPaddingLayer z = (ZeroPaddingLayer) lc;
                requireNchw(name, "ZeroPaddingLayer", z.getDataFormat());
                cnn(name, in);
                int[] p = z.getPadding();   // top, bottom, left, right
                String pads = g.longs(name + "_pads", 0, 0, p[0], p[2], 0, 0, p[1], p[3]);
                yield new Value(g.node("Pad", name, List.of(x, pads), List.of(OnnxGraph.stringAttr("mode", "constant"))),
                        lc.getOutputType(-1, in.type()));
            }
            case CROPPING -> {
                Cropping2D c = (Cropping2D) lc;
                requireNchw(name, "Cropping2D", c.getDataFormat());
                InputType.InputTypeConvolutional t = cnn(name, in);
                int[] cr = c.getCropping();   // top, bottom, left, right
                String y = g.node("Slice", name, List.of(x, g.longs(name + "_starts", cr[0], cr[2]),
                        g.longs(name + "_ends", t.getHeight() - cr[1], t.getWidth() - cr[3]), g.longs(name + "_axes", 2, 3)), List.of());
                yield new Value(y, lc.getOutputType(-1, in.type()));
            }
            case UPSAMPLING -> {
                Upsampling2D u = (Upsampling2D) lc;
                requireNchw(name, "Upsampling2D", u.getFormat());
                cnn(name, in);
                int[] size = u.getSize();
                String scales = g.floats(name + "_scales", new float[] {1, 1, size[0], size[1]}, new long[] {4});
                // integer scales with asymmetric coordinates and floor: output pixel (i, j) reads input (i / sH, j / sW), DL4J's repeat
                String y = g.node("Resize", name, List.of(x, "", scales), List.of(OnnxGraph.stringAttr("mode", "nearest"),
                        OnnxGraph.stringAttr("coordinate_transformation_mode", "asymmetric"), OnnxGraph.stringAttr("nearest_mode", "floor")));
                yield new Value(y, lc.getOutputType(-1, in.type()));
            }
            case DROPOUT -> in;
        };
    }

    private static List<Onnx.AttributeProto> concat(List<Onnx.AttributeProto> a, Onnx.AttributeProto b) {
        List<Onnx.AttributeProto> all = new ArrayList<>(a);
        all.add(b);
        return all;
    }

    private static List<String> withBias(List<String> inputs, String bias) {
        if (bias == null) {
            return inputs;
        }
        List<String> all = new ArrayList<>(inputs);
        all.add(bias);
        return all;
    }

    private static float[] filled(long n, double v) {
        float[] a = new float[(int) n];
        Arrays.fill(a, (float) v);
        return a;
    }

    /** The layer's bias initializer (flattened to 1-D), or null when the layer has none. */
    private String bias(String name, Layer layer, String key) {
        if (!layer.paramTable().containsKey(key)) {
            return null;
        }
        INDArray b = layer.getParam(key);
        return g.floats(name + "_b", b, new long[] {b.length()});
    }

    /** An ONNX Conv with DL4J's kernel, stride and dilation, padding {@code pads} (top, left, bottom, right), {@code group}. */
    private String conv(String name, String x, String w, String bias, ConvolutionLayer c, long[] pads, long group) {
        requireNchw(name, c.getClass().getSimpleName(), c.getCnn2dDataFormat());
        int[] k = c.getKernelSize();
        int[] s = c.getStride();
        int[] d = c.getDilation();
        return g.node("Conv", name, withBias(List.of(x, w), bias), List.of(OnnxGraph.ints("kernel_shape", k[0], k[1]),
                OnnxGraph.ints("strides", s[0], s[1]), OnnxGraph.ints("pads", pads), OnnxGraph.ints("dilations", d[0], d[1]),
                OnnxGraph.intAttr("group", group)));
    }

    /**
     * ONNX pads {top, left, bottom, right} of a convolution or pooling window: the configured padding
     * on both sides (Truncate, Strict), or DL4J's Same-mode padding for the output size DL4J computes.
     */
    private static long[] pads(String name, ConvolutionMode mode, int[] p, int[] k, int[] s, int[] d, Value in, InputType out) {
        InputType.InputTypeConvolutional t = cnn(name, in);
        return switch (mode) {
            case Strict, Truncate -> new long[] {p[0], p[1], p[0], p[1]};
            case Same -> {
                InputType.InputTypeConvolutional o = (InputType.InputTypeConvolutional) out;
                int[] outSize = {(int) o.getHeight(), (int) o.getWidth()};
                int[] inSize = {(int) t.getHeight(), (int) t.getWidth()};
                int[] tl = ConvolutionUtils.getSameModeTopLeftPadding(outSize, inSize, k, s, d);
                int[] br = ConvolutionUtils.getSameModeBottomRightPadding(outSize, inSize, k, s, d);
                // a window that overshoots the input by less than nothing (1x1 kernel, stride 2 on an even size) needs no padding
                yield new long[] {Math.max(0, tl[0]), Math.max(0, tl[1]), Math.max(0, br[0]), Math.max(0, br[1])};
            }
            case Causal -> throw new IllegalArgumentException("layer '" + name + "': Causal convolution mode has no 2-D float ONNX mapping");
        };
    }

    private static InputType.InputTypeConvolutional cnn(String name, Value in) {
        if (in.type() instanceof InputType.InputTypeConvolutional c && c.getFormat() == CNN2DFormat.NCHW) {
            return c;
        }
        throw new IllegalArgumentException("layer '" + name + "': needs an NCHW CNN input, got " + in.type());
    }

    private static void requireNchw(String name, String what, CNN2DFormat format) {
        if (format != null && format != CNN2DFormat.NCHW) {
            throw new IllegalArgumentException("layer '" + name + "': " + what + " in " + format
                    + " format has no float ONNX mapping (NCHW only)");
        }
    }

    private String scalar(String name, float v) {
        return g.floats(name, new float[] {v}, new long[0]);
    }

    /** {@code x} through DL4J activation {@code a} on a tensor of type {@code type}; returns the result's tensor name. */
    private String activation(String name, String x, IActivation a, InputType type) {
        ActivationKind kind = ActivationKind.of(a).orElseThrow(() -> new IllegalArgumentException("layer '" + name + "': activation "
                + a.getClass().getSimpleName() + " (" + a + ") has no float ONNX mapping (supported: " + ActivationKind.supported() + ")"));
        return switch (kind) {
            case IDENTITY -> x;
            case RELU -> {
                ActivationReLU r = (ActivationReLU) a;
                if (r.getMax() != null || !zeroOrNull(r.getThreshold()) || !zeroOrNull(r.getNegativeSlope())) {
                    throw new IllegalArgumentException("layer '" + name + "': ReLU with max " + r.getMax() + ", threshold " + r.getThreshold()
                            + ", negative slope " + r.getNegativeSlope() + " has no float ONNX mapping (use ReLU6 or LeakyReLU)");
                }
                yield g.node("Relu", name, List.of(x), List.of());
            }
            case RELU6 -> g.node("Clip", name, List.of(x, scalar(name + "_min", 0f), scalar(name + "_max", 6f)), List.of());
            case LEAKY_RELU -> g.node("LeakyRelu", name, List.of(x), List.of(OnnxGraph.floatAttr("alpha", ((ActivationLReLU) a).getAlpha())));
            case SIGMOID -> g.node("Sigmoid", name, List.of(x), List.of());
            case TANH -> g.node("Tanh", name, List.of(x), List.of());
            case ELU -> g.node("Elu", name, List.of(x), List.of(OnnxGraph.floatAttr("alpha", ((ActivationELU) a).getAlpha())));
            // ND4J's HardSigmoid: min(1, max(0, 0.2 x + 0.5))
            case HARD_SIGMOID -> g.node("HardSigmoid", name, List.of(x), List.of(OnnxGraph.floatAttr("alpha", 0.2),
                    OnnxGraph.floatAttr("beta", 0.5)));
            case HARD_TANH -> g.node("Clip", name, List.of(x, scalar(name + "_min", -1f), scalar(name + "_max", 1f)), List.of());
            case SWISH -> g.node("Mul", name, List.of(x, g.node("Sigmoid", name, List.of(x), List.of())), List.of());
            case SOFTPLUS -> g.node("Softplus", name, List.of(x), List.of());
            case SOFTSIGN -> g.node("Softsign", name, List.of(x), List.of());
            case SOFTMAX -> {
                if (!(type instanceof InputType.InputTypeFeedForward)) {
                    throw new IllegalArgumentException("layer '" + name + "': softmax over a " + type
                            + " tensor has no float ONNX mapping (dense [N, F] outputs only)");
                }
                yield g.node("Softmax", name, List.of(x), List.of(OnnxGraph.intAttr("axis", 1)));
            }
        };
    }

    private static boolean zeroOrNull(Double v) {
        return v == null || v == 0.0;
    }
}
