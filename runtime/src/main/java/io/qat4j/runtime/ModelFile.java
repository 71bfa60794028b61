package io.qat4j.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Reads and writes the qat4j integer model file (specification: runtime/FORMAT.md). Little-endian
 * throughout: a 16-byte prelude (magic {@code "Q4JM"}, version, flags, body length, CRC32) and a body
 * (tensor table, input/output ids, nodes with packed weights). Writers write {@link #VERSION} 2, whose
 * CRC32 covers the prelude's first 12 bytes (magic, version, flags, body length) and the body, so that
 * no byte that changes the model's behaviour is unchecked; version-1 files (CRC32 of the body only)
 * are still read, with the same meaning.
 *
 * <p>The reader takes the prelude and the body it declares from a stream, never more than
 * {@link #MAX_FILE_BYTES} (the reported file size is not trusted: {@code /dev/zero}, pipes), checks
 * the checksum before parsing, checks every count against the bytes that remain before allocating,
 * and finally validates the graph; any failure is a {@link ModelFormatException} with its
 * {@link ModelFormatException.Problem}. Writing goes to a temporary file that is atomically renamed,
 * so an existing model is never half-overwritten.
 */
public final class ModelFile {

    public static final byte[] MAGIC = {'Q', '4', 'J', 'M'};
    /** The version writers write. */
    public static final int VERSION = 2;
    /** The oldest version readers read: version 1's CRC32 covers the body only. */
    public static final int OLDEST_VERSION = 1;
    static final int PRELUDE = 16;
    /** Prelude bytes a version-2 checksum covers: magic, version, flags, body length (all but the CRC itself). */
    static final int CHECKED_PRELUDE = 12;
    /** Prelude flag bit 0: every requantization uses {@link FixedPoint.Rounding#SINGLE}; clear means DOUBLE. */
    public static final int FLAG_SINGLE_ROUNDING = 1;
    /** Every flag bit this reader understands. */
    static final int KNOWN_FLAGS = FLAG_SINGLE_ROUNDING;
    /** Largest file the reader accepts. */
    public static final long MAX_FILE_BYTES = 1L << 30;

    static final int CONV2D = 1;
    static final int DENSE = 2;
    static final int MAX_POOL = 3;
    static final int AVG_POOL = 4;
    static final int FLATTEN = 5;
    static final int ADD = 6;
    static final int REQUANTIZE = 7;

    private ModelFile() {
    }

    // ---------------------------------------------------------------- writing

    /** Validates the graph and writes it atomically to {@code path}. */
    public static void write(Int8Graph graph, Path path) throws IOException {
        AtomicFiles.write(path, toBytes(graph));
    }

    /** The file's bytes. */
    public static byte[] toBytes(Int8Graph graph) {
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
            if (node instanceof Int8Graph.Conv2D c) {
                body.u8(CONV2D);
                body.i32(c.input(), c.output(), c.outChannels(), c.inChannels(), c.kernelH(), c.kernelW(), c.strideH(), c.strideW(),
                        c.padTop(), c.padLeft(), c.padBottom(), c.padRight(), c.dilationH(), c.dilationW());
                weights(body, c.weightBits(), c.weights());
                body.i32(c.bias());
                requant(body, c.requant());
            } else if (node instanceof Int8Graph.Dense d) {
                body.u8(DENSE);
                body.i32(d.input(), d.output(), d.outFeatures(), d.inFeatures());
                weights(body, d.weightBits(), d.weights());
                body.i32(d.bias());
                requant(body, d.requant());
            } else if (node instanceof Int8Graph.MaxPool p) {
                body.u8(MAX_POOL);
                body.i32(p.input(), p.output(), p.kernelH(), p.kernelW(), p.strideH(), p.strideW(), p.padTop(), p.padLeft(),
                        p.padBottom(), p.padRight());
            } else if (node instanceof Int8Graph.AvgPool p) {
                body.u8(AVG_POOL);
                body.i32(p.input(), p.output(), p.kernelH(), p.kernelW(), p.strideH(), p.strideW(), p.padTop(), p.padLeft(),
                        p.padBottom(), p.padRight());
            } else if (node instanceof Int8Graph.Add a) {
                body.u8(ADD);
                body.i32(a.input(), a.input2(), a.output(), a.leftShift(), a.multiplier1(), a.shift1(), a.multiplier2(), a.shift2(),
                        a.outputMultiplier(), a.outputShift(), a.activationMin(), a.activationMax());
            } else if (node instanceof Int8Graph.Requantize q) {
                body.u8(REQUANTIZE);
                body.i32(q.input(), q.output(), q.multiplier(), q.shift(), q.activationMin(), q.activationMax());
            } else {
                Int8Graph.Flatten f = (Int8Graph.Flatten) node;
                body.u8(FLATTEN);
                body.i32(f.input(), f.output());
            }
        }
        byte[] b = body.toByteArray();
        ByteBuffer out = ByteBuffer.allocate(PRELUDE + b.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).putShort((short) VERSION)
                .putShort((short) (graph.rounding() == FixedPoint.Rounding.SINGLE ? FLAG_SINGLE_ROUNDING : 0)).putInt(b.length);
        out.putInt(crc(VERSION, out.array(), b, 0, b.length)).put(b);
        return out.array();
    }

    /** The CRC32 a file of {@code version} stores: of the body, from version 2 preceded by the prelude's first 12 bytes. */
    private static int crc(int version, byte[] prelude, byte[] body, int offset, int length) {
        CRC32 crc = new CRC32();
        if (version >= 2) {
            crc.update(prelude, 0, CHECKED_PRELUDE);
        }
        crc.update(body, offset, length);
        return (int) crc.getValue();
    }

    private static void weights(Body body, int bits, byte[] codes) {
        body.u8(bits);
        body.bytes(WeightPacking.pack(codes, bits));
    }

    private static void requant(Body body, Int8Graph.Requant r) {
        body.i32(r.multiplier());
        body.i32(r.shift());
        body.i32(r.activationMin(), r.activationMax());
    }

    /** Little-endian body builder. */
    private static final class Body {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void u8(int v) {
            out.write(v);
        }

        void i32(int... values) {
            for (int v : values) {
                out.write(v);
                out.write(v >>> 8);
                out.write(v >>> 16);
                out.write(v >>> 24);
            }
        }

        void u32(int v) {
            i32(v);
        }

        void f64(double v) {
            long bits = Double.doubleToRawLongBits(v);
            i32((int) bits, (int) (bits >>> 32));
        }

        void bytes(byte[] b) {
            out.writeBytes(b);
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }

    // ---------------------------------------------------------------- reading

    /** Reads a model file within {@link ModelLimits#defaults()}; a failure's message starts with the path. */
    public static Int8Graph read(Path path) throws IOException {
        return read(path, ModelLimits.defaults());
    }

    /** Reads a model file within {@code limits}; a failure's message starts with the path. */
    public static Int8Graph read(Path path, ModelLimits limits) throws IOException {
        try (InputStream in = Files.newInputStream(path)) {
            return read(in, limits);
        } catch (ModelFormatException e) {
            throw new ModelFormatException(e.problem(), path + ": " + e.getMessage().substring(e.problem().name().length() + 2));
        }
    }

    /**
     * Reads a model from a stream: the prelude, then exactly the body it declares (at most
     * {@link #MAX_FILE_BYTES} in all, memory growing only with the bytes that arrive), then expects the
     * end of the stream; within {@code limits}.
     */
    public static Int8Graph read(InputStream in, ModelLimits limits) throws IOException {
        byte[] prelude = in.readNBytes(PRELUDE);
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
        byte[] file = java.util.Arrays.copyOf(prelude, PRELUDE + body.length);
        System.arraycopy(body, 0, file, PRELUDE, body.length);
        return fromBytes(file, limits);
    }

    /** {@link #read(InputStream, ModelLimits)} within {@link ModelLimits#defaults()}. */
    public static Int8Graph read(InputStream in) throws IOException {
        return read(in, ModelLimits.defaults());
    }

    /**
     * The prelude's fields, with its length, magic, version and declared body length checked.
     *
     * @param available bytes the file has in all (the stream reader passes the prelude's length)
     */
    private record Prelude(int version, int flags, long bodyLength, int crc) {
        static Prelude of(byte[] file, long available) throws ModelFormatException {
            if (available < PRELUDE) {
                throw new ModelFormatException(ModelFormatException.Problem.TRUNCATED, available + " bytes, shorter than the "
                        + PRELUDE + "-byte prelude");
            }
            for (int i = 0; i < MAGIC.length; i++) {
                if (file[i] != MAGIC[i]) {
                    throw new ModelFormatException(ModelFormatException.Problem.BAD_MAGIC, "not a qat4j model (expected magic \"Q4JM\")");
                }
            }
            ByteBuffer pre = ByteBuffer.wrap(file, 0, PRELUDE).order(ByteOrder.LITTLE_ENDIAN);
            pre.position(4);
            int version = Short.toUnsignedInt(pre.getShort());
            if (version < OLDEST_VERSION || version > VERSION) {
                throw new ModelFormatException(ModelFormatException.Problem.UNSUPPORTED_VERSION, "format version " + version
                        + "; this runtime reads versions " + OLDEST_VERSION + " to " + VERSION + " (upgrade qat4j to read newer files)");
            }
            int flags = Short.toUnsignedInt(pre.getShort());
            long bodyLength = Integer.toUnsignedLong(pre.getInt());
            if (bodyLength > MAX_FILE_BYTES - PRELUDE) {
                throw new ModelFormatException(ModelFormatException.Problem.INVALID_HEADER, "the prelude declares a body of "
                        + bodyLength + " bytes; files are limited to " + MAX_FILE_BYTES + " bytes");
            }
            return new Prelude(version, flags, bodyLength, pre.getInt());
        }
    }

    /** {@link #fromBytes(byte[], ModelLimits)} within {@link ModelLimits#defaults()}. */
    public static Int8Graph fromBytes(byte[] file) throws ModelFormatException {
        return fromBytes(file, ModelLimits.defaults());
    }

    /**
     * Parses a whole file: prelude checks, the checksum, then the body (see the class comment). The
     * bytes each weighted node will hold are checked against {@code limits} before its weights are
     * unpacked, the whole {@link ModelCost} once the graph is valid.
     */
    public static Int8Graph fromBytes(byte[] file, ModelLimits limits) throws ModelFormatException {
        Prelude p = Prelude.of(file, file.length);
        if (p.bodyLength() != file.length - PRELUDE) {
            throw new ModelFormatException(p.bodyLength() > file.length - PRELUDE ? ModelFormatException.Problem.TRUNCATED
                    : ModelFormatException.Problem.INVALID_HEADER, "body of " + (file.length - PRELUDE) + " bytes, prelude declares "
                    + p.bodyLength());
        }
        int crc = crc(p.version(), file, file, PRELUDE, file.length - PRELUDE);
        if (crc != p.crc()) {
            throw new ModelFormatException(ModelFormatException.Problem.CHECKSUM_MISMATCH, String.format(
                    "CRC32 of the %s is %08x, the prelude says %08x", p.version() >= 2 ? "prelude's first 12 bytes and the body" : "body",
                    crc, p.crc()));
        }
        // flags after the checksum: a flipped bit is corruption, an unknown bit with a good checksum a newer writer's feature
        int flags = p.flags();
        if ((flags & ~KNOWN_FLAGS) != 0) {
            throw new ModelFormatException(ModelFormatException.Problem.UNSUPPORTED_VERSION, "flags " + flags + "; this runtime knows "
                    + "flag bit 0 (single rounding) only (upgrade qat4j to read newer files)");
        }
        Reader r = new Reader(ByteBuffer.wrap(file, PRELUDE, file.length - PRELUDE).slice().order(ByteOrder.LITTLE_ENDIAN));
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
            switch (type) {
                case CONV2D -> {
                    int[] f = r.i32s(14);
                    int count = r.product("conv weights", f[2], f[3], f[4], f[5]);
                    modelBytes = ModelCost.add(modelBytes, ModelCost.weightedNodeBytes(f[2], count / f[2]));
                    withinLimits(limits, modelBytes, n);
                    int bits = r.u8();
                    byte[] w = r.weights(count, bits);
                    int[] bias = r.i32s(r.checkedLength("conv bias", f[2], 4));
                    nodes.add(new Int8Graph.Conv2D(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13],
                            bits, w, bias, r.requant(f[2])));
                }
                case DENSE -> {
                    int[] f = r.i32s(4);
                    int count = r.product("dense weights", f[2], f[3]);
                    modelBytes = ModelCost.add(modelBytes, ModelCost.weightedNodeBytes(f[2], count / f[2]));
                    withinLimits(limits, modelBytes, n);
                    int bits = r.u8();
                    byte[] w = r.weights(count, bits);
                    int[] bias = r.i32s(r.checkedLength("dense bias", f[2], 4));
                    nodes.add(new Int8Graph.Dense(f[0], f[1], f[2], f[3], bits, w, bias, r.requant(f[2])));
                }
                case MAX_POOL -> {
                    int[] f = r.i32s(10);
                    nodes.add(new Int8Graph.MaxPool(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]));
                }
                case AVG_POOL -> {
                    int[] f = r.i32s(10);
                    nodes.add(new Int8Graph.AvgPool(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]));
                }
                case FLATTEN -> {
                    int[] f = r.i32s(2);
                    nodes.add(new Int8Graph.Flatten(f[0], f[1]));
                }
                case ADD -> {
                    int[] f = r.i32s(12);
                    nodes.add(new Int8Graph.Add(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]));
                }
                case REQUANTIZE -> {
                    int[] f = r.i32s(6);
                    nodes.add(new Int8Graph.Requantize(f[0], f[1], f[2], f[3], f[4], f[5]));
                }
                default -> throw r.invalid("node " + n + " has unknown type " + type);
            }
        }
        if (r.remaining() != 0) {
            throw r.invalid(r.remaining() + " bytes left after the last node");
        }
        Int8Graph graph = new Int8Graph(tensors, nodes, input, output,
                (flags & FLAG_SINGLE_ROUNDING) != 0 ? FixedPoint.Rounding.SINGLE : FixedPoint.Rounding.DOUBLE);
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
