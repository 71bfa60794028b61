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
import io.qat4j.runtime.Int8Graph;
import onnx.Onnx;

/**
 * ONNX export (opset 13, IR version 7) with the protobuf classes nd4j-api bundles ({@code onnx.Onnx}).
 *
 * <p>{@link #qdq}: an exported integer model as a QDQ graph. Every int8 tensor of the
 * {@link Int8Graph} is the output of a {@code QuantizeLinear} (its scale and zero point); Conv/Gemm
 * read {@code DequantizeLinear} of it, of their int8 weights (per-channel scales on axis 0, zero
 * point 0) and of their int32 bias (scale {@code s_x s_w[c]}); a fused ReLU/ReLU6 clamp becomes
 * Relu/Clip before the next QuantizeLinear; max pooling and flattening run on the int8 tensor;
 * average pooling, Add and Requantize run on dequantized values. The graph output is the
 * dequantized logits. What differs from the qat4j runtime: ONNX rounds half to even with a float32
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
                    b.nodeTo("Flatten", name, new String[] {quantized.get(node.input())}, outQ, attrs(intAttr("axis", 1)));
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
            };
            quantized.put(node.output(), outputName);
        }
        Int8Graph.Tensor last = g.tensors().get(g.output());
        b.nodeTo("DequantizeLinear", "logits_dequantize", new String[] {quantized.get(g.output()),
                b.scalar("t" + g.output() + "_scale", last.scale()), b.zeroPoint("t" + g.output() + "_zp", last.zeroPoint())}, "logits", attrs());
        b.output("logits", last.dims());
        return b.build();
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
