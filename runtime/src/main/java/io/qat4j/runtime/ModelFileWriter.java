package io.qat4j.runtime;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes a validated {@link Int8Graph} as {@link ModelFile#VERSION} model-file bytes (runtime/FORMAT.md):
 * the prelude, the tensor table, the input and output ids, then each node as its {@link NodeKind#code()}
 * and its fields. The entry point is {@link ModelFile#toBytes} / {@link ModelFile#write}.
 */
final class ModelFileWriter {

    private ModelFileWriter() {
    }

    /** The file's bytes; validates the graph first. */
    static byte[] toBytes(Int8Graph graph) {
        graph.validate();
        Body body = new Body();
        body.u32(graph.tensors().size());
        for (Int8Graph.Tensor t : graph.tensors()) {
            body.u8(t.dims().length);
            for (int d : t.dims()) {
                body.i32(d);
            }
            body.f64(t.scale());
            body.i32(t.zeroPoint());
        }
        body.i32(graph.input());
        body.i32(graph.output());
        body.u32(graph.nodes().size());
        for (Int8Graph.Node node : graph.nodes()) {
            node(body.u8(node.kind().code()), node);
        }
        byte[] b = body.toByteArray();
        ByteBuffer out = ByteBuffer.allocate(ModelFile.PRELUDE + b.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(ModelFile.MAGIC).putShort((short) ModelFile.VERSION)
                .putShort((short) (graph.rounding() == FixedPoint.Rounding.SINGLE ? ModelFile.FLAG_SINGLE_ROUNDING : 0)).putInt(b.length);
        out.putInt(ModelFile.crc(ModelFile.VERSION, out.array(), b, 0, b.length)).put(b);
        return out.array();
    }

    /** A node's fields after its type byte; a switch expression without a default, so every kind is written. */
    private static Body node(Body body, Int8Graph.Node node) {
        return switch (node.kind()) {
            case CONV2D -> {
                Int8Graph.Conv2D c = (Int8Graph.Conv2D) node;
                window(body.i32(c.input(), c.output(), c.outChannels(), c.inChannels()), c.window(), true);
                yield weighted(body, c.weightBits(), c.weights(), c.bias(), c.requant());
            }
            case DENSE -> {
                Int8Graph.Dense d = (Int8Graph.Dense) node;
                yield weighted(body.i32(d.input(), d.output(), d.outFeatures(), d.inFeatures()), d.weightBits(), d.weights(), d.bias(),
                        d.requant());
            }
            case MAX_POOL -> window(body.i32(node.input(), node.output()), ((Int8Graph.MaxPool) node).window(), false);
            case AVG_POOL -> window(body.i32(node.input(), node.output()), ((Int8Graph.AvgPool) node).window(), false);
            case FLATTEN -> body.i32(node.input(), node.output());
            case ADD -> {
                Int8Graph.Add a = (Int8Graph.Add) node;
                yield body.i32(a.input(), a.input2(), a.output(), a.leftShift(), a.multiplier1(), a.shift1(), a.multiplier2(), a.shift2(),
                        a.outputMultiplier(), a.outputShift(), a.activationMin(), a.activationMax());
            }
            case REQUANTIZE -> {
                Int8Graph.Requantize q = (Int8Graph.Requantize) node;
                yield body.i32(q.input(), q.output(), q.multiplier(), q.shift(), q.activationMin(), q.activationMax());
            }
            case AVG_POOL_REQUANT -> {
                Int8Graph.AvgPoolRequant p = (Int8Graph.AvgPoolRequant) node;
                yield requant(window(body.i32(p.input(), p.output()), p.window(), false).u8(p.countIncludePad() ? 1 : 0), p.requant());
            }
            case DEPTHWISE_CONV2D -> {
                Int8Graph.DepthwiseConv2D c = (Int8Graph.DepthwiseConv2D) node;
                window(body.i32(c.input(), c.output(), c.inChannels(), c.depthMultiplier()), c.window(), true);
                yield weighted(body, c.weightBits(), c.weights(), c.bias(), c.requant());
            }
            case CONCAT -> {
                Int8Graph.Concat c = (Int8Graph.Concat) node;
                yield body.i32(c.inputs().length).i32(c.inputs()).i32(c.output()).i32(c.multiplier()).i32(c.shift());
            }
            case LEAKY_RELU -> {
                Int8Graph.LeakyRelu l = (Int8Graph.LeakyRelu) node;
                yield body.i32(l.input(), l.output(), l.multiplierPositive(), l.shiftPositive(), l.multiplierNegative(), l.shiftNegative(),
                        l.activationMin(), l.activationMax());
            }
            case LOOKUP_TABLE -> {
                Int8Graph.LookupTable l = (Int8Graph.LookupTable) node;
                yield body.i32(l.input(), l.output()).u8(l.function().code()).f64(l.parameter()).bytes(l.table());
            }
            case ZERO_PAD -> {
                Int8Graph.ZeroPad p = (Int8Graph.ZeroPad) node;
                yield body.i32(p.input(), p.output(), p.top(), p.left(), p.bottom(), p.right());
            }
            case CROP -> {
                Int8Graph.Crop c = (Int8Graph.Crop) node;
                yield body.i32(c.input(), c.output(), c.top(), c.left(), c.bottom(), c.right());
            }
            case UPSAMPLE_NEAREST -> {
                Int8Graph.UpsampleNearest u = (Int8Graph.UpsampleNearest) node;
                yield body.i32(u.input(), u.output(), u.scaleH(), u.scaleW());
            }
            case DENSE_LOGITS -> {
                Int8Graph.DenseLogits d = (Int8Graph.DenseLogits) node;
                body.i32(d.input(), d.output(), d.outFeatures(), d.inFeatures()).u8(d.weightBits()).bytes(WeightPacking.pack(d.weights(),
                        d.weightBits())).i32(d.bias());
                for (double s : d.scale()) {
                    body.f64(s);
                }
                yield body;
            }
        };
    }

    /** Kernel, stride and padding; a convolution's dilation after them (pooling stores none: it is 1). */
    private static Body window(Body body, Int8Graph.Window w, boolean dilation) {
        body.i32(w.kernelH(), w.kernelW(), w.strideH(), w.strideW(), w.padTop(), w.padLeft(), w.padBottom(), w.padRight());
        return dilation ? body.i32(w.dilationH(), w.dilationW()) : body;
    }

    /** Packed weight codes with their bit width, int32 bias, then the requantization. */
    private static Body weighted(Body body, int bits, byte[] codes, int[] bias, Int8Graph.Requant r) {
        return requant(body.u8(bits).bytes(WeightPacking.pack(codes, bits)).i32(bias), r);
    }

    /** {@code requant(n)}: multipliers, shifts, activation min and max. */
    private static Body requant(Body body, Int8Graph.Requant r) {
        return body.i32(r.multiplier()).i32(r.shift()).i32(r.activationMin(), r.activationMax());
    }

    /** Little-endian body builder. */
    private static final class Body {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Body u8(int v) {
            out.write(v);
            return this;
        }

        Body i32(int... values) {
            for (int v : values) {
                out.write(v);
                out.write(v >>> 8);
                out.write(v >>> 16);
                out.write(v >>> 24);
            }
            return this;
        }

        Body u32(int v) {
            return i32(v);
        }

        Body f64(double v) {
            long bits = Double.doubleToRawLongBits(v);
            return i32((int) bits, (int) (bits >>> 32));
        }

        Body bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
