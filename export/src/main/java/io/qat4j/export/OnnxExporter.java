package io.qat4j.export;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.protobuf.ByteString;

import io.qat4j.runtime.AtomicFiles;
import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.TableFunction;
import onnx.Onnx;

/**
 * ONNX export (opset 13, IR version 7) with the protobuf classes nd4j-api bundles ({@code onnx.Onnx}).
 *
 * <p>{@link #qdq}: an exported integer model as a QDQ graph. Every int8 tensor of the
 * {@link Int8Graph} is the output of a {@code QuantizeLinear} (its scale and zero point); Conv/Gemm
 * read {@code DequantizeLinear} of it, of their int8 weights (per-channel scales on axis 0, zero
 * point 0) and of their int32 bias (scale {@code s_x s_w[c]}); a fused ReLU/ReLU6 clamp becomes
 * Relu/Clip before the next QuantizeLinear; max pooling, flattening, zero padding ({@code Pad} with
 * the zero point), cropping ({@code Slice}) and nearest upsampling ({@code Resize}, asymmetric
 * coordinates, floor) run on the int8 tensor; average pooling ({@code AveragePool}, or
 * {@code GlobalAveragePool} over the whole map), Add, Requantize, Concat (axis 1), LeakyRelu and
 * lookup tables (the table's named float function: Sigmoid, Tanh, Elu, HardSigmoid, x Sigmoid(x),
 * Softplus, Softsign, Clip) run on dequantized values; a depthwise convolution is a {@code Conv} with
 * {@code group} = its input channels. The graph output is the dequantized logits, or, for a
 * {@code DenseLogits} last layer, its float {@code Gemm} output itself. What differs from the qat4j runtime: ONNX rounds half to even with a float32
 * {@code x/scale} where the runtime applies a Q31 multiplier and rounds ties up, and ONNX Runtime
 * averages in float; results agree except near ties (measured in the tests).
 *
 * <p>{@code float32}: a float MultiLayerNetwork or ComputationGraph as a float ONNX graph with the
 * same outputs as {@code output()}, by {@link FloatOnnxExporter} (its Javadoc has the layer mapping).
 *
 * <p>Files are written to a temporary file and atomically renamed.
 */
public final class OnnxExporter {

    /** The ONNX opset the exports use. */
    public static final int OPSET = 13;

    private OnnxExporter() {
    }

    /** Serializes {@code model} to {@code path} atomically. */
    public static void write(Onnx.ModelProto model, Path path) throws IOException {
        AtomicFiles.write(path, model::writeTo);
    }

    /** The exported integer model {@code r} as an ONNX QDQ model (input "input" float NCHW/NF, output "logits"). */
    public static Onnx.ModelProto qdq(Int8Exporter.Result r) {
        Int8Graph g = r.graph();
        Builder b = new Builder("qat4j-qdq");
        Int8Graph.Tensor in = g.tensors().get(g.input());
        b.input("input", in.dims());
        Map<Integer, String> quantized = new HashMap<>();
        Map<Integer, String> dequantized = new HashMap<>();
        quantized.put(g.input(), b.quantize("input", in, "t" + g.input()));
        for (int i = 0; i < g.nodes().size(); i++) {
            Int8Graph.Node node = g.nodes().get(i);
            Int8Graph.Tensor out = g.tensors().get(node.output());
            String name = "n" + i;
            String outQ = "t" + node.output() + "_q";
            // a switch expression without a default (each case yields the node's quantized output name): every kind is exported
            String outputName = switch (node.kind()) {
                case CONV2D -> {
                    Int8Graph.Conv2D c = (Int8Graph.Conv2D) node;
                    Int8Graph.Window win = c.window();
                    Int8Graph.Tensor x = g.tensors().get(c.input());
                    String w = b.dequantizedWeights(name, c.weights(), new long[] {c.outChannels(), c.inChannels(), win.kernelH(),
                            win.kernelW()}, r.weightScales().get(i));
                    String bias = b.dequantizedBias(name, c.bias(), x.scale(), r.weightScales().get(i));
                    String y = b.node("Conv", name, new String[] {b.dq(c.input(), x, quantized, dequantized), w, bias},
                            windowAttrs(win, ints("dilations", win.dilationH(), win.dilationW())));
                    yield b.quantize(b.clamp(y, name, out, c.requant().activationMin(), c.requant().activationMax()), out, "t" + c.output());
                }
                case DENSE -> {
                    Int8Graph.Dense d = (Int8Graph.Dense) node;
                    Int8Graph.Tensor x = g.tensors().get(d.input());
                    String w = b.dequantizedWeights(name, d.weights(), new long[] {d.outFeatures(), d.inFeatures()},
                            r.weightScales().get(i));
                    String bias = b.dequantizedBias(name, d.bias(), x.scale(), r.weightScales().get(i));
                    String y = b.node("Gemm", name, new String[] {b.dq(d.input(), x, quantized, dequantized), w, bias},
                            attrs(intAttr("transB", 1)));
                    yield b.quantize(b.clamp(y, name, out, d.requant().activationMin(), d.requant().activationMax()), out, "t" + d.output());
                }
                case MAX_POOL -> {
                    b.nodeTo("MaxPool", name, new String[] {quantized.get(node.input())}, outQ,
                            windowAttrs(((Int8Graph.MaxPool) node).window()));
                    yield outQ;
                }
                case AVG_POOL -> {
                    String y = b.node("AveragePool", name, new String[] {b.dq(node.input(), g.tensors().get(node.input()), quantized,
                            dequantized)}, windowAttrs(((Int8Graph.AvgPool) node).window(), intAttr("count_include_pad", 0)));
                    yield b.quantize(y, out, "t" + node.output());
                }
                case FLATTEN -> {
                    int[] to = g.tensors().get(node.output()).dims();
                    if (to.length == 1) {
                        b.nodeTo("Flatten", name, new String[] {quantized.get(node.input())}, outQ, attrs(intAttr("axis", 1)));
                    } else {    // a reshape to [C, H, W] (DL4J's FeedForwardToCnnPreProcessor); -1 keeps the batch
                        long[] shape = new long[to.length + 1];
                        shape[0] = -1;
                        for (int d = 0; d < to.length; d++) {
                            shape[d + 1] = to[d];
                        }
                        b.nodeTo("Reshape", name, new String[] {quantized.get(node.input()), b.longs(name + "_shape", shape)}, outQ, attrs());
                    }
                    yield outQ;
                }
                case ADD -> {
                    Int8Graph.Add a = (Int8Graph.Add) node;
                    String y = b.node("Add", name, new String[] {b.dq(a.input(), g.tensors().get(a.input()), quantized, dequantized),
                            b.dq(a.input2(), g.tensors().get(a.input2()), quantized, dequantized)}, attrs());
                    yield b.quantize(b.clamp(y, name, out, a.activationMin(), a.activationMax()), out, "t" + a.output());
                }
                case REQUANTIZE -> {
                    Int8Graph.Requantize q = (Int8Graph.Requantize) node;
                    String y = b.dq(q.input(), g.tensors().get(q.input()), quantized, dequantized);
                    yield b.quantize(b.clamp(y, name, out, q.activationMin(), q.activationMax()), out, "t" + q.output());
                }
                case AVG_POOL_REQUANT -> {
                    Int8Graph.AvgPoolRequant p = (Int8Graph.AvgPoolRequant) node;
                    Int8Graph.Tensor x = g.tensors().get(p.input());
                    Int8Graph.Window win = p.window();
                    String dqx = b.dq(p.input(), x, quantized, dequantized);
                    boolean global = win.kernelH() == x.dims()[1] && win.kernelW() == x.dims()[2] && win.padTop() == 0 && win.padLeft() == 0
                            && win.padBottom() == 0 && win.padRight() == 0;
                    String y = global ? b.node("GlobalAveragePool", name, new String[] {dqx}, attrs())
                            : b.node("AveragePool", name, new String[] {dqx}, windowAttrs(win, intAttr("count_include_pad",
                            p.countIncludePad() ? 1 : 0)));
                    yield b.quantize(b.clamp(y, name, out, p.requant().activationMin(), p.requant().activationMax()), out, "t" + p.output());
                }
                case DEPTHWISE_CONV2D -> {
                    Int8Graph.DepthwiseConv2D c = (Int8Graph.DepthwiseConv2D) node;
                    Int8Graph.Window win = c.window();
                    Int8Graph.Tensor x = g.tensors().get(c.input());
                    double[] ws = weightScales(r, i, c.outChannels(), name);
                    String w = b.dequantizedWeights(name, c.weights(), new long[] {c.outChannels(), 1, win.kernelH(), win.kernelW()}, ws);
                    String bias = b.dequantizedBias(name, c.bias(), x.scale(), ws);
                    String y = b.node("Conv", name, new String[] {b.dq(c.input(), x, quantized, dequantized), w, bias},
                            windowAttrs(win, ints("dilations", win.dilationH(), win.dilationW()), intAttr("group", c.inChannels())));
                    yield b.quantize(b.clamp(y, name, out, c.requant().activationMin(), c.requant().activationMax()), out, "t" + c.output());
                }
                case CONCAT -> {
                    int[] ids = node.inputs();
                    String[] parts = new String[ids.length];
                    for (int k = 0; k < ids.length; k++) {
                        parts[k] = b.dq(ids[k], g.tensors().get(ids[k]), quantized, dequantized);
                    }
                    yield b.quantize(b.node("Concat", name, parts, attrs(intAttr("axis", 1))), out, "t" + node.output());
                }
                case LEAKY_RELU -> {
                    Int8Graph.LeakyRelu l = (Int8Graph.LeakyRelu) node;
                    // alpha = M_neg / M_pos (both from the same s_in / s_out), exact to the Q31 multipliers' precision
                    double alpha = new FixedPoint.QuantizedMultiplier(l.multiplierNegative(), l.shiftNegative()).value()
                            / new FixedPoint.QuantizedMultiplier(l.multiplierPositive(), l.shiftPositive()).value();
                    String y = b.node("LeakyRelu", name, new String[] {b.dq(l.input(), g.tensors().get(l.input()), quantized, dequantized)},
                            attrs(floatAttr("alpha", (float) alpha)));
                    yield b.quantize(b.clamp(y, name, out, l.activationMin(), l.activationMax()), out, "t" + l.output());
                }
                case LOOKUP_TABLE -> {
                    Int8Graph.LookupTable l = (Int8Graph.LookupTable) node;
                    String x = b.dq(l.input(), g.tensors().get(l.input()), quantized, dequantized);
                    yield b.quantize(tableFunction(b, l, x, name, i), out, "t" + l.output());
                }
                case ZERO_PAD -> {
                    Int8Graph.ZeroPad p = (Int8Graph.ZeroPad) node;
                    // on the int8 codes, padded with the zero point (real 0): the same bytes as the runtime's
                    String pads = b.longs(name + "_pads", 0, 0, p.top(), p.left(), 0, 0, p.bottom(), p.right());
                    b.nodeTo("Pad", name, new String[] {quantized.get(p.input()), pads, b.zeroPoint(name + "_value", out.zeroPoint())}, outQ,
                            attrs());
                    yield outQ;
                }
                case CROP -> {
                    Int8Graph.Crop c = (Int8Graph.Crop) node;
                    Int8Graph.Tensor x = g.tensors().get(c.input());
                    b.nodeTo("Slice", name, new String[] {quantized.get(c.input()), b.longs(name + "_starts", c.top(), c.left()),
                            b.longs(name + "_ends", x.dims()[1] - c.bottom(), x.dims()[2] - c.right()), b.longs(name + "_axes", 2, 3)}, outQ,
                            attrs());
                    yield outQ;
                }
                case UPSAMPLE_NEAREST -> {
                    Int8Graph.UpsampleNearest u = (Int8Graph.UpsampleNearest) node;
                    // output (y, x) reads input (floor(y / sH), floor(x / sW)): asymmetric coordinates, nearest rounded down
                    b.nodeTo("Resize", name, new String[] {quantized.get(u.input()), "", b.floats(name + "_scales", 1, 1, u.scaleH(), u.scaleW())},
                            outQ, attrs(stringAttr("mode", "nearest"), stringAttr("coordinate_transformation_mode", "asymmetric"),
                            stringAttr("nearest_mode", "floor")));
                    yield outQ;
                }
                case DENSE_LOGITS -> {
                    Int8Graph.DenseLogits d = (Int8Graph.DenseLogits) node;
                    Int8Graph.Tensor x = g.tensors().get(d.input());
                    double[] ws = new double[d.outFeatures()];   // s_w[c] = scale[c] / s_x, so that the bias scale is scale[c]
                    for (int c = 0; c < ws.length; c++) {
                        ws[c] = d.scale()[c] / x.scale();
                    }
                    String w = b.dequantizedWeights(name, d.weights(), new long[] {d.outFeatures(), d.inFeatures()}, ws);
                    String bias = b.dequantizedBias(name, d.bias(), x.scale(), ws);
                    // the float logits are the graph output: no QuantizeLinear after them
                    yield b.nodeTo("Gemm", name, new String[] {b.dq(d.input(), x, quantized, dequantized), w, bias}, "logits",
                            attrs(intAttr("transB", 1)));
                }
            };
            quantized.put(node.output(), outputName);
        }
        Int8Graph.Tensor last = g.tensors().get(g.output());
        if (g.logitsNode() == null) {
            b.nodeTo("DequantizeLinear", "logits_dequantize", new String[] {quantized.get(g.output()),
                    b.scalar("t" + g.output() + "_scale", last.scale()), b.zeroPoint("t" + g.output() + "_zp", last.zeroPoint())}, "logits",
                    attrs());
        }
        b.output("logits", last.dims());
        return b.build();
    }

    /** The weight scales the exporter recorded for node {@code i} (a weighted node), checked against its channels. */
    private static double[] weightScales(Int8Exporter.Result r, int i, int channels, String name) {
        double[] ws = i < r.weightScales().size() ? r.weightScales().get(i) : null;
        if (ws == null || ws.length != channels) {
            throw new IllegalArgumentException("node " + i + " (" + name + "): the export result holds " + (ws == null ? "no" : ws.length)
                    + " weight scales for its " + channels + " output channels; the ONNX export needs s_w per channel");
        }
        return ws;
    }

    /**
     * The float operator of a lookup table's function applied to {@code x} (ONNX opset 13), or an error for a
     * table whose function has no name ({@link TableFunction#CUSTOM}).
     */
    private static String tableFunction(Builder b, Int8Graph.LookupTable l, String x, String name, int index) {
        String[] in = {x};
        return switch (l.function()) {
            case CUSTOM -> throw new IllegalArgumentException("node " + index + " (LookupTable): its table holds a custom function, which "
                    + "has no ONNX operator; export the layer with a named TableFunction (sigmoid, tanh, ELU, hard sigmoid, swish, "
                    + "softplus, softsign, hard tanh)");
            case SIGMOID -> b.node("Sigmoid", name, in, attrs());
            case TANH -> b.node("Tanh", name, in, attrs());
            case ELU -> b.node("Elu", name, in, attrs(floatAttr("alpha", (float) l.parameter())));
            case HARD_SIGMOID -> b.node("HardSigmoid", name, in, attrs(floatAttr("alpha", 0.2f), floatAttr("beta", 0.5f)));
            case SWISH -> b.node("Mul", name, new String[] {x, b.node("Sigmoid", name + "_sigmoid", in, attrs())}, attrs());
            case SOFTPLUS -> b.node("Softplus", name, in, attrs());
            case SOFTSIGN -> b.node("Softsign", name, in, attrs());
            case HARD_TANH -> b.node("Clip", name, new String[] {x, b.scalar(name + "_min", -1), b.scalar(name + "_max", 1)}, attrs());
        };
    }

    /** A float MultiLayerNetwork as a float ONNX graph: {@link FloatOnnxExporter#export(MultiLayerNetwork, int[])}. */
    public static Onnx.ModelProto float32(MultiLayerNetwork net, int[] inputDims) {
        return FloatOnnxExporter.export(net, inputDims);
    }

    /** A float ComputationGraph as a float ONNX graph: {@link FloatOnnxExporter#export(ComputationGraph, int[])}. */
    public static Onnx.ModelProto float32(ComputationGraph graph, int[] inputDims) {
        return FloatOnnxExporter.export(graph, inputDims);
    }

    private static List<Onnx.AttributeProto> attrs(Onnx.AttributeProto... a) {
        return List.of(a);
    }

    /** A window's kernel_shape, strides and pads (ONNX order: begins, then ends), then {@code more}. */
    private static List<Onnx.AttributeProto> windowAttrs(Int8Graph.Window w, Onnx.AttributeProto... more) {
        List<Onnx.AttributeProto> a = new java.util.ArrayList<>(List.of(ints("kernel_shape", w.kernelH(), w.kernelW()),
                ints("strides", w.strideH(), w.strideW()), ints("pads", w.padTop(), w.padLeft(), w.padBottom(), w.padRight())));
        a.addAll(List.of(more));
        return a;
    }

    private static Onnx.AttributeProto ints(String name, int... values) {
        Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INTS);
        for (int v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    private static Onnx.AttributeProto intAttr(String name, int value) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INT).setI(value).build();
    }

    private static Onnx.AttributeProto stringAttr(String name, String value) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(value)).build();
    }

    private static Onnx.AttributeProto floatAttr(String name, float value) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    /** Accumulates nodes, initializers, inputs and outputs of one graph. */
    private static final class Builder {
        private final Onnx.GraphProto.Builder graph = Onnx.GraphProto.newBuilder();
        private final java.util.Set<String> initializers = new java.util.HashSet<>();

        Builder(String name) {
            graph.setName(name);
        }

        Onnx.ModelProto build() {
            return Onnx.ModelProto.newBuilder().setIrVersion(7).setProducerName("qat4j").setProducerVersion("0.1.0")
                    .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET)).setGraph(graph).build();
        }

        private static Onnx.ValueInfoProto valueInfo(String name, int[] dims) {
            Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
            shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
            for (int d : dims) {
                shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
            }
            return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder().setTensorType(
                    Onnx.TypeProto.Tensor.newBuilder().setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE).setShape(shape))).build();
        }

        void input(String name, int[] dims) {
            graph.addInput(valueInfo(name, dims));
        }

        void output(String name, int[] dims) {
            graph.addOutput(valueInfo(name, dims));
        }

        String node(String op, String name, String[] inputs, List<Onnx.AttributeProto> attributes) {
            return nodeTo(op, name, inputs, name + "_out", attributes);
        }

        String nodeTo(String op, String name, String[] inputs, String output, List<Onnx.AttributeProto> attributes) {
            Onnx.NodeProto.Builder n = Onnx.NodeProto.newBuilder().setOpType(op).setName(name).addOutput(output);
            for (String in : inputs) {
                n.addInput(in);
            }
            n.addAllAttribute(attributes);
            graph.addNode(n);
            return output;
        }

        private String initializer(String name, int dataType, long[] dims, ByteBuffer raw) {
            if (!initializers.add(name)) {
                return name;   // shared scale/zero-point constants are defined once
            }
            Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name).setDataType(dataType);
            for (long d : dims) {
                t.addDims(d);
            }
            raw.flip();
            t.setRawData(ByteString.copyFrom(raw));
            graph.addInitializer(t);
            return name;
        }

        String floats(String name, INDArray a) {
            float[] v = a.castTo(DataType.FLOAT).dup('c').data().asFloat();
            ByteBuffer buf = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                buf.putFloat(f);
            }
            return initializer(name, Onnx.TensorProto.DataType.FLOAT_VALUE, a.shape(), buf);
        }

        /** A 1-D int64 constant. */
        String longs(String name, long... values) {
            ByteBuffer buf = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            for (long v : values) {
                buf.putLong(v);
            }
            return initializer(name, Onnx.TensorProto.DataType.INT64_VALUE, new long[] {values.length}, buf);
        }

        /** A 1-D float constant. */
        String floats(String name, float... values) {
            ByteBuffer buf = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                buf.putFloat(v);
            }
            return initializer(name, Onnx.TensorProto.DataType.FLOAT_VALUE, new long[] {values.length}, buf);
        }

        String scalar(String name, double value) {
            ByteBuffer buf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat((float) value);
            return initializer(name, Onnx.TensorProto.DataType.FLOAT_VALUE, new long[0], buf);
        }

        String zeroPoint(String name, int zp) {
            ByteBuffer buf = ByteBuffer.allocate(1).put((byte) zp);
            return initializer(name, Onnx.TensorProto.DataType.INT8_VALUE, new long[0], buf);
        }

        /** QuantizeLinear of float {@code x} with the tensor's scale and zero point; returns the int8 name. */
        String quantize(String x, Int8Graph.Tensor t, String name) {
            return nodeTo("QuantizeLinear", name + "_quantize", new String[] {x, scalar(name + "_scale", t.scale()),
                    zeroPoint(name + "_zp", t.zeroPoint())}, name + "_q", attrs());
        }

        /** DequantizeLinear of int8 tensor {@code id} (once per tensor). */
        String dq(int id, Int8Graph.Tensor t, Map<Integer, String> quantized, Map<Integer, String> dequantized) {
            return dequantized.computeIfAbsent(id, k -> nodeTo("DequantizeLinear", "t" + id + "_dequantize",
                    new String[] {quantized.get(id), scalar("t" + id + "_scale", t.scale()), zeroPoint("t" + id + "_zp", t.zeroPoint())},
                    "t" + id + "_dq", attrs()));
        }

        /** Relu or Clip for a requantization clamp {@code [lo, hi]} narrower than int8; {@code y} itself otherwise. */
        String clamp(String y, String name, Int8Graph.Tensor out, int lo, int hi) {
            if (lo <= -128 && hi >= 127) {
                return y;
            }
            if (lo == out.zeroPoint() && hi >= 127) {
                return node("Relu", name + "_relu", new String[] {y}, attrs());
            }
            return node("Clip", name + "_clip", new String[] {y, scalar(name + "_min", out.scale() * (lo - out.zeroPoint())),
                    scalar(name + "_max", out.scale() * (hi - out.zeroPoint()))}, attrs());
        }

        /** Int8 weight codes with per-output-channel scales, dequantized on axis 0. */
        String dequantizedWeights(String name, byte[] codes, long[] dims, double[] scales) {
            initializer(name + "_Wq", Onnx.TensorProto.DataType.INT8_VALUE, dims, ByteBuffer.allocate(codes.length).put(codes));
            ByteBuffer s = ByteBuffer.allocate(4 * scales.length).order(ByteOrder.LITTLE_ENDIAN);
            for (double v : scales) {
                s.putFloat((float) v);
            }
            initializer(name + "_Wscale", Onnx.TensorProto.DataType.FLOAT_VALUE, new long[] {scales.length}, s);
            initializer(name + "_Wzp", Onnx.TensorProto.DataType.INT8_VALUE, new long[] {scales.length}, ByteBuffer.allocate(scales.length)
                    .put(new byte[scales.length]));
            return nodeTo("DequantizeLinear", name + "_W_dequantize", new String[] {name + "_Wq", name + "_Wscale", name + "_Wzp"},
                    name + "_W", attrs(intAttr("axis", 0)));
        }

        /** Int32 bias codes with scale {@code s_x s_w[c]}, dequantized on axis 0. */
        String dequantizedBias(String name, int[] bias, double inputScale, double[] weightScales) {
            ByteBuffer q = ByteBuffer.allocate(4 * bias.length).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer s = ByteBuffer.allocate(4 * bias.length).order(ByteOrder.LITTLE_ENDIAN);
            for (int c = 0; c < bias.length; c++) {
                q.putInt(bias[c]);
                s.putFloat((float) (inputScale * weightScales[c]));
            }
            initializer(name + "_Bq", Onnx.TensorProto.DataType.INT32_VALUE, new long[] {bias.length}, q);
            initializer(name + "_Bscale", Onnx.TensorProto.DataType.FLOAT_VALUE, new long[] {bias.length}, s);
            initializer(name + "_Bzp", Onnx.TensorProto.DataType.INT32_VALUE, new long[] {bias.length},
                    ByteBuffer.allocate(4 * bias.length).position(4 * bias.length));
            return nodeTo("DequantizeLinear", name + "_B_dequantize", new String[] {name + "_Bq", name + "_Bscale", name + "_Bzp"},
                    name + "_B", attrs(intAttr("axis", 0)));
        }
    }
}
