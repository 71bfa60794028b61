package io.qat4j.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads model-file bytes (runtime/FORMAT.md, versions {@link ModelFile#OLDEST_VERSION} to
 * {@link ModelFile#VERSION}) into a validated {@link Int8Graph}, trusting nothing it reads: see
 * {@link ModelFile}'s class comment for the checks and their order. The entry points are
 * {@link ModelFile#read} and {@link ModelFile#fromBytes}.
 */
final class ModelFileReader {

    private ModelFileReader() {
    }

    /** Reads a model file within {@code limits}; a failure's message starts with the path. */
    static Int8Graph read(Path path, ModelLimits limits) throws IOException {
        try (InputStream in = Files.newInputStream(path)) {
            return read(in, limits);
        } catch (ModelFormatException e) {
            throw new ModelFormatException(e.problem(), path + ": " + e.getMessage().substring(e.problem().name().length() + 2));
        }
    }

    /**
     * Reads a model from a stream: the prelude, then exactly the body it declares (at most
     * {@link ModelFile#MAX_FILE_BYTES} in all, memory growing only with the bytes that arrive), then expects the
     * end of the stream; within {@code limits}.
     */
    static Int8Graph read(InputStream in, ModelLimits limits) throws IOException {
        byte[] prelude = in.readNBytes(ModelFile.PRELUDE);
        Prelude p = Prelude.of(prelude, prelude.length);
        byte[] body = in.readNBytes((int) p.bodyLength());
        if (body.length < p.bodyLength()) {
            throw new ModelFormatException(ModelFormatException.Problem.TRUNCATED, "body of " + body.length
                    + " bytes, prelude declares " + p.bodyLength());
        }
        if (in.read() >= 0) {
            throw new ModelFormatException(ModelFormatException.Problem.INVALID_HEADER, "more bytes follow the "
                    + p.bodyLength() + "-byte body the prelude declares");
        }
        byte[] file = java.util.Arrays.copyOf(prelude, ModelFile.PRELUDE + body.length);
        System.arraycopy(body, 0, file, ModelFile.PRELUDE, body.length);
        return fromBytes(file, limits);
    }

    /**
     * The prelude's fields, with its length, magic, version and declared body length checked.
     *
     * @param available bytes the file has in all (the stream reader passes the prelude's length)
     */
    private record Prelude(int version, int flags, long bodyLength, int crc) {
        static Prelude of(byte[] file, long available) throws ModelFormatException {
            if (available < ModelFile.PRELUDE) {
                throw new ModelFormatException(ModelFormatException.Problem.TRUNCATED, available + " bytes, shorter than the "
                        + ModelFile.PRELUDE + "-byte prelude");
            }
            for (int i = 0; i < ModelFile.MAGIC.length; i++) {
                if (file[i] != ModelFile.MAGIC[i]) {
                    throw new ModelFormatException(ModelFormatException.Problem.BAD_MAGIC, "not a qat4j model (expected magic \"Q4JM\")");
                }
            }
            ByteBuffer pre = ByteBuffer.wrap(file, 0, ModelFile.PRELUDE).order(ByteOrder.LITTLE_ENDIAN);
            pre.position(4);
            int version = Short.toUnsignedInt(pre.getShort());
            if (version < ModelFile.OLDEST_VERSION || version > ModelFile.VERSION) {
                throw new ModelFormatException(ModelFormatException.Problem.UNSUPPORTED_VERSION, "format version " + version
                        + "; this runtime reads versions " + ModelFile.OLDEST_VERSION + " to " + ModelFile.VERSION + " (upgrade qat4j to read newer files)");
            }
            int flags = Short.toUnsignedInt(pre.getShort());
            long bodyLength = Integer.toUnsignedLong(pre.getInt());
            if (bodyLength > ModelFile.MAX_FILE_BYTES - ModelFile.PRELUDE) {
                throw new ModelFormatException(ModelFormatException.Problem.INVALID_HEADER, "the prelude declares a body of "
                        + bodyLength + " bytes; files are limited to " + ModelFile.MAX_FILE_BYTES + " bytes");
            }
            return new Prelude(version, flags, bodyLength, pre.getInt());
        }
    }

    /**
     * Parses a whole file: prelude checks, the checksum, then the body (see the class comment). The
     * bytes each weighted node will hold are checked against {@code limits} before its weights are
     * unpacked, the whole {@link ModelCost} once the graph is valid.
     */
    static Int8Graph fromBytes(byte[] file, ModelLimits limits) throws ModelFormatException {
        Prelude p = Prelude.of(file, file.length);
        if (p.bodyLength() != file.length - ModelFile.PRELUDE) {
            throw new ModelFormatException(p.bodyLength() > file.length - ModelFile.PRELUDE ? ModelFormatException.Problem.TRUNCATED
                    : ModelFormatException.Problem.INVALID_HEADER, "body of " + (file.length - ModelFile.PRELUDE) + " bytes, prelude declares "
                    + p.bodyLength());
        }
        int crc = ModelFile.crc(p.version(), file, file, ModelFile.PRELUDE, file.length - ModelFile.PRELUDE);
        if (crc != p.crc()) {
            throw new ModelFormatException(ModelFormatException.Problem.CHECKSUM_MISMATCH, String.format(
                    "CRC32 of the %s is %08x, the prelude says %08x", p.version() >= 2 ? "prelude's first 12 bytes and the body" : "body",
                    crc, p.crc()));
        }
        // flags after the checksum: a flipped bit is corruption, an unknown bit with a good checksum a newer writer's feature
        int flags = p.flags();
        if ((flags & ~ModelFile.KNOWN_FLAGS) != 0) {
            throw new ModelFormatException(ModelFormatException.Problem.UNSUPPORTED_VERSION, "flags " + flags + "; this runtime knows "
                    + "flag bit 0 (single rounding) only (upgrade qat4j to read newer files)");
        }
        Reader r = new Reader(ByteBuffer.wrap(file, ModelFile.PRELUDE, file.length - ModelFile.PRELUDE).slice().order(ByteOrder.LITTLE_ENDIAN));
        int tensorCount = r.count("tensor", 1 + 4 + 8 + 4);
        List<Int8Graph.Tensor> tensors = new ArrayList<>(tensorCount);
        for (int t = 0; t < tensorCount; t++) {
            int rank = r.u8();
            if (rank < 1 || rank > 3) {
                throw r.invalid("tensor " + t + " has rank " + rank + "; expected 1 to 3");
            }
            int[] dims = new int[rank];
            for (int d = 0; d < rank; d++) {
                dims[d] = r.i32();
            }
            tensors.add(new Int8Graph.Tensor(dims, r.f64(), r.i32()));
        }
        int input = r.i32();
        int output = r.i32();
        int nodeCount = r.count("node", 1 + 8);
        List<Int8Graph.Node> nodes = new ArrayList<>(nodeCount);
        long modelBytes = 0;
        for (int n = 0; n < nodeCount; n++) {
            int type = r.u8();
            NodeKind kind = NodeKind.ofCode(type);
            if (kind == null) {
                throw r.invalid("node " + n + " has unknown type " + type);
            }
            if (kind.sinceVersion() > p.version()) {
                throw r.invalid("node " + n + " has type " + type + " (" + kind.label() + "), which format version " + kind.sinceVersion()
                        + " introduced; this file declares version " + p.version() + " (a version-" + p.version()
                        + " writer cannot have written it: the file is damaged or its writer mislabelled it)");
            }
            // a switch expression without a default: every kind is read
            Int8Graph.Node node = switch (kind) {
                case CONV2D -> {
                    int[] f = r.i32s(14);
                    Int8Graph.Window w = new Int8Graph.Window(f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13]);
                    int count = r.product("conv weights", f[2], f[3], f[4], f[5]);
                    modelBytes = ModelCost.add(modelBytes, ModelCost.weightedNodeBytes(f[2], count / f[2]));
                    withinLimits(limits, modelBytes, n);
                    int bits = r.u8();
                    byte[] codes = r.weights(count, bits);
                    int[] bias = r.i32s(r.checkedLength("conv bias", f[2], 4));
                    yield new Int8Graph.Conv2D(f[0], f[1], f[2], f[3], w, bits, codes, bias, r.requant(f[2]));
                }
                case DENSE -> {
                    int[] f = r.i32s(4);
                    int count = r.product("dense weights", f[2], f[3]);
                    modelBytes = ModelCost.add(modelBytes, ModelCost.weightedNodeBytes(f[2], count / f[2]));
                    withinLimits(limits, modelBytes, n);
                    int bits = r.u8();
                    byte[] codes = r.weights(count, bits);
                    int[] bias = r.i32s(r.checkedLength("dense bias", f[2], 4));
                    yield new Int8Graph.Dense(f[0], f[1], f[2], f[3], bits, codes, bias, r.requant(f[2]));
                }
                case MAX_POOL -> {
                    int[] f = r.i32s(10);
                    yield new Int8Graph.MaxPool(f[0], f[1], Int8Graph.Window.pool(f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]));
                }
                case AVG_POOL -> {
                    int[] f = r.i32s(10);
                    yield new Int8Graph.AvgPool(f[0], f[1], Int8Graph.Window.pool(f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]));
                }
                case FLATTEN -> {
                    int[] f = r.i32s(2);
                    yield new Int8Graph.Flatten(f[0], f[1]);
                }
                case ADD -> {
                    int[] f = r.i32s(12);
                    yield new Int8Graph.Add(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]);
                }
                case REQUANTIZE -> {
                    int[] f = r.i32s(6);
                    yield new Int8Graph.Requantize(f[0], f[1], f[2], f[3], f[4], f[5]);
                }
                case AVG_POOL_REQUANT -> {
                    int[] f = r.i32s(10);
                    Int8Graph.Window w = Int8Graph.Window.pool(f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]);
                    boolean includePad = r.flag("AvgPoolRequant countIncludePad");
                    yield new Int8Graph.AvgPoolRequant(f[0], f[1], w, includePad, r.requant(r.product("AvgPoolRequant window", f[2], f[3])));
                }
                case DEPTHWISE_CONV2D -> {
                    int[] f = r.i32s(14);
                    Int8Graph.Window w = new Int8Graph.Window(f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13]);
                    int outC = r.product("depthwise output channels", f[2], f[3]);
                    int count = r.product("depthwise weights", outC, f[4], f[5]);
                    modelBytes = ModelCost.add(modelBytes, ModelCost.weightedNodeBytes(outC, count / outC));
                    withinLimits(limits, modelBytes, n);
                    int bits = r.u8();
                    byte[] codes = r.weights(count, bits);
                    int[] bias = r.i32s(r.checkedLength("depthwise bias", outC, 4));
                    yield new Int8Graph.DepthwiseConv2D(f[0], f[1], f[2], f[3], w, bits, codes, bias, r.requant(outC));
                }
                case CONCAT -> {
                    int count = r.count("concat input", 4 + 4 + 4);
                    int[] inputs = r.i32s(count);
                    int out = r.i32();
                    yield new Int8Graph.Concat(inputs, out, r.i32s(count), r.i32s(count));
                }
                case LEAKY_RELU -> {
                    int[] f = r.i32s(8);
                    yield new Int8Graph.LeakyRelu(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
                }
                case LOOKUP_TABLE -> {
                    int[] f = r.i32s(2);
                    int code = r.u8();
                    TableFunction function = TableFunction.ofCode(code);
                    if (function == null) {
                        throw r.invalid("node " + n + " (LookupTable) has unknown function " + code);
                    }
                    double parameter = r.f64();
                    yield new Int8Graph.LookupTable(f[0], f[1], function, parameter, r.bytes(Int8Graph.LookupTable.SIZE));
                }
                case ZERO_PAD -> {
                    int[] f = r.i32s(6);
                    yield new Int8Graph.ZeroPad(f[0], f[1], f[2], f[3], f[4], f[5]);
                }
                case CROP -> {
                    int[] f = r.i32s(6);
                    yield new Int8Graph.Crop(f[0], f[1], f[2], f[3], f[4], f[5]);
                }
                case UPSAMPLE_NEAREST -> {
                    int[] f = r.i32s(4);
                    yield new Int8Graph.UpsampleNearest(f[0], f[1], f[2], f[3]);
                }
                case DENSE_LOGITS -> {
                    int[] f = r.i32s(4);
                    int count = r.product("logits weights", f[2], f[3]);
                    modelBytes = ModelCost.add(modelBytes, ModelCost.weightedNodeBytes(f[2], count / f[2]));
                    withinLimits(limits, modelBytes, n);
                    int bits = r.u8();
                    byte[] codes = r.weights(count, bits);
                    int[] bias = r.i32s(r.checkedLength("logits bias", f[2], 4));
                    double[] scale = new double[r.checkedLength("logits scales", f[2], 8)];
                    for (int c = 0; c < scale.length; c++) {
                        scale[c] = r.f64();
                    }
                    yield new Int8Graph.DenseLogits(f[0], f[1], f[2], f[3], bits, codes, bias, scale);
                }
            };
            nodes.add(node);
        }
        if (r.remaining() != 0) {
            throw r.invalid(r.remaining() + " bytes left after the last node");
        }
        Int8Graph graph = new Int8Graph(tensors, nodes, input, output,
                (flags & ModelFile.FLAG_SINGLE_ROUNDING) != 0 ? FixedPoint.Rounding.SINGLE : FixedPoint.Rounding.DOUBLE);
        try {
            graph.validate();
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(ModelFormatException.Problem.INVALID_GRAPH, e.getMessage());
        }
        try {
            limits.check(ModelCost.of(graph));
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(ModelFormatException.Problem.EXCEEDS_LIMITS, e.getMessage());
        }
        return graph;
    }

    /** Refuses the file before node {@code n}'s weights are unpacked when the nodes so far need more than the limit. */
    private static void withinLimits(ModelLimits limits, long modelBytes, int n) throws ModelFormatException {
        try {
            limits.checkModelBytes(modelBytes, "with node " + n + ", ");
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(ModelFormatException.Problem.EXCEEDS_LIMITS, e.getMessage());
        }
    }

    /** Bounds-checked little-endian reader: never reads past the body, never allocates more than remains. */
    private static final class Reader {
        private final ByteBuffer b;

        Reader(ByteBuffer b) {
            this.b = b;
        }

        int remaining() {
            return b.remaining();
        }

        ModelFormatException invalid(String message) {
            return new ModelFormatException(ModelFormatException.Problem.INVALID_HEADER, message + " (at body offset " + b.position() + ")");
        }

        private void need(long bytes) throws ModelFormatException {
            if (bytes > b.remaining()) {
                throw invalid("needs " + bytes + " more bytes, " + b.remaining() + " remain");
            }
        }

        int u8() throws ModelFormatException {
            need(1);
            return Byte.toUnsignedInt(b.get());
        }

        int i32() throws ModelFormatException {
            need(4);
            return b.getInt();
        }

        double f64() throws ModelFormatException {
            need(8);
            return b.getDouble();
        }

        /** One byte that must be 0 (false) or 1 (true). */
        boolean flag(String what) throws ModelFormatException {
            int v = u8();
            if (v > 1) {
                throw invalid(what + " is " + v + "; expected 0 or 1");
            }
            return v == 1;
        }

        byte[] bytes(int n) throws ModelFormatException {
            need(n);
            byte[] v = new byte[n];
            b.get(v);
            return v;
        }

        int[] i32s(int n) throws ModelFormatException {
            need(4L * n);
            int[] v = new int[n];
            for (int i = 0; i < n; i++) {
                v[i] = b.getInt();
            }
            return v;
        }

        /** A count whose entries take at least {@code minBytesEach}; checked against what remains. */
        int count(String what, int minBytesEach) throws ModelFormatException {
            long n = Integer.toUnsignedLong(i32());
            if (n * minBytesEach > b.remaining()) {
                throw invalid(what + " count " + n + " cannot fit in the " + b.remaining() + " remaining bytes");
            }
            return (int) n;
        }

        int product(String what, int... dims) throws ModelFormatException {
            long p = 1;
            for (int d : dims) {
                if (d < 1 || d > Int8Graph.MAX_DIMENSION) {
                    throw invalid(what + ": dimension " + d + " outside 1.." + Int8Graph.MAX_DIMENSION);
                }
                p *= d;
                if (p > Int8Graph.MAX_TENSOR_ELEMENTS) {
                    throw invalid(what + ": more than " + Int8Graph.MAX_TENSOR_ELEMENTS + " values");
                }
            }
            return (int) p;
        }

        int checkedLength(String what, int n, int bytesEach) throws ModelFormatException {
            if (n < 1 || (long) n * bytesEach > b.remaining()) {
                throw invalid(what + ": " + n + " values do not fit in the " + b.remaining() + " remaining bytes");
            }
            return n;
        }

        byte[] weights(int count, int bits) throws ModelFormatException {
            if (bits < 1 || bits > 8) {
                throw invalid("weight bits " + bits + " outside 1..8");
            }
            int bytes = WeightPacking.packedBytes(count, bits);
            need(bytes);
            byte[] packed = new byte[bytes];
            b.get(packed);
            return WeightPacking.unpack(packed, count, bits);
        }

        Int8Graph.Requant requant(int channels) throws ModelFormatException {
            checkedLength("requantization", channels, 8);
            return new Int8Graph.Requant(i32s(channels), i32s(channels), i32(), i32());
        }
    }
}
