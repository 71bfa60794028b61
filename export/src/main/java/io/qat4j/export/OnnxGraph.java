package io.qat4j.export;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.protobuf.ByteString;

import onnx.Onnx;

/**
 * One ONNX graph under construction (opset {@link OnnxExporter#OPSET}, IR version 7): its inputs,
 * outputs, nodes and initializers, with the protobuf classes nd4j-api bundles. Node names and
 * tensor names are made unique here (a second "conv" becomes "conv_2"), so that callers may name
 * things after the DL4J layers without checking for clashes. Tensors of the network's first
 * dimension are declared with the symbolic batch size {@code N}.
 */
final class OnnxGraph {

    private final Onnx.GraphProto.Builder graph = Onnx.GraphProto.newBuilder();
    private final Set<String> names = new HashSet<>();

    OnnxGraph(String name) {
        graph.setName(name);
    }

    /** The model holding this graph. */
    Onnx.ModelProto model() {
        return Onnx.ModelProto.newBuilder().setIrVersion(7).setProducerName("qat4j").setProducerVersion("0.1.0")
                .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OnnxExporter.OPSET)).setGraph(graph).build();
    }

    /** Declares float graph input {@code name} of shape {@code [N, dims...]}. */
    void input(String name, long[] dims) {
        names.add(name);
        graph.addInput(valueInfo(name, dims));
    }

    /** Keeps {@code name} for a later {@link #nodeTo} (a graph output), so that no other tensor or node takes it. */
    void reserve(String name) {
        names.add(name);
    }

    /** Declares float graph output {@code name} of shape {@code [N, dims...]}. */
    void output(String name, long[] dims) {
        graph.addOutput(valueInfo(name, dims));
    }

    private static Onnx.ValueInfoProto valueInfo(String name, long[] dims) {
        Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
        shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
        for (long d : dims) {
            shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder().setTensorType(
                Onnx.TypeProto.Tensor.newBuilder().setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE).setShape(shape))).build();
    }

    /** {@code base}, or {@code base_2}, {@code base_3}... whichever is not yet taken; reserves it. */
    private String unique(String base) {
        String name = base;
        for (int i = 2; !names.add(name); i++) {
            name = base + "_" + i;
        }
        return name;
    }

    /** Adds node {@code op} named after {@code name} reading {@code inputs}; returns its (unique) output tensor name. */
    String node(String op, String name, List<String> inputs, List<Onnx.AttributeProto> attributes) {
        return nodeTo(op, name, inputs, unique(name), attributes);
    }

    /** As {@link #node} with output tensor {@code output} (a graph output's name). */
    String nodeTo(String op, String name, List<String> inputs, String output, List<Onnx.AttributeProto> attributes) {
        names.add(output);
        graph.addNode(Onnx.NodeProto.newBuilder().setOpType(op).setName(unique(name + "_" + op)).addAllInput(inputs).addOutput(output)
                .addAllAttribute(attributes));
        return output;
    }

    /** Float32 initializer of {@code a}'s values in C order, with shape {@code dims} (its own shape when null); returns its name. */
    String floats(String name, INDArray a, long[] dims) {
        float[] v = a.castTo(DataType.FLOAT).dup('c').data().asFloat();
        return floats(name, v, dims == null ? a.shape() : dims);
    }

    /** Float32 initializer {@code v} of shape {@code dims}; returns its name. */
    String floats(String name, float[] v, long[] dims) {
        ByteBuffer buf = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            buf.putFloat(f);
        }
        return initializer(name, Onnx.TensorProto.DataType.FLOAT_VALUE, dims, buf);
    }

    /** Int64 vector initializer {@code v} (shapes, pads, slice bounds); returns its name. */
    String longs(String name, long... v) {
        ByteBuffer buf = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) {
            buf.putLong(x);
        }
        return initializer(name, Onnx.TensorProto.DataType.INT64_VALUE, new long[] {v.length}, buf);
    }

    private String initializer(String base, int dataType, long[] dims, ByteBuffer raw) {
        String name = unique(base);
        Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name).setDataType(dataType);
        for (long d : dims) {
            t.addDims(d);
        }
        raw.flip();
        t.setRawData(ByteString.copyFrom(raw));
        graph.addInitializer(t);
        return name;
    }

    static Onnx.AttributeProto ints(String name, long... values) {
        Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INTS);
        for (long v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    static Onnx.AttributeProto intAttr(String name, long value) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INT).setI(value).build();
    }

    static Onnx.AttributeProto floatAttr(String name, double value) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.FLOAT).setF((float) value).build();
    }

    static Onnx.AttributeProto stringAttr(String name, String value) {
        return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(value)).build();
    }
}
