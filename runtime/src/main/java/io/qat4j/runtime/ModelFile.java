package io.qat4j.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

/**
 * The qat4j integer model file (specification: runtime/FORMAT.md): its constants and entry points;
 * {@link ModelFileReader} reads it, {@link ModelFileWriter} writes it. Little-endian
 * throughout: a 16-byte prelude (magic {@code "Q4JM"}, version, flags, body length, CRC32) and a body
 * (tensor table, input/output ids, nodes with packed weights). Writers write {@link #VERSION} 3: node
 * types 8 to 16 (average pooling with requantization, depthwise convolution, concatenation, LeakyReLU,
 * lookup tables, zero padding, cropping, nearest upsampling, dequantized logits) are new in it; its
 * CRC32, as version 2's, covers the prelude's first 12 bytes (magic, version, flags, body length) and
 * the body, so that no byte that changes the model's behaviour is unchecked. Version-2 files, and
 * version-1 files (CRC32 of the body only), are still read with the same meaning; a version-1 or -2
 * file holding a node type of version 3 is refused.
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
    public static final int VERSION = 3;
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

    private ModelFile() {
    }

    // ---------------------------------------------------------------- writing

    /** Validates the graph and writes it atomically to {@code path}. */
    public static void write(Int8Graph graph, Path path) throws IOException {
        AtomicFiles.write(path, toBytes(graph));
    }

    /** The file's bytes ({@link ModelFileWriter}); validates the graph first. */
    public static byte[] toBytes(Int8Graph graph) {
        return ModelFileWriter.toBytes(graph);
    }

    /** The CRC32 a file of {@code version} stores: of the body, from version 2 preceded by the prelude's first 12 bytes. */
    static int crc(int version, byte[] prelude, byte[] body, int offset, int length) {
        CRC32 crc = new CRC32();
        if (version >= 2) {
            crc.update(prelude, 0, CHECKED_PRELUDE);
        }
        crc.update(body, offset, length);
        return (int) crc.getValue();
    }

    // ---------------------------------------------------------------- reading (ModelFileReader)

    /** Reads a model file within {@link ModelLimits#defaults()}; a failure's message starts with the path. */
    public static Int8Graph read(Path path) throws IOException {
        return read(path, ModelLimits.defaults());
    }

    /** Reads a model file within {@code limits}; a failure's message starts with the path. */
    public static Int8Graph read(Path path, ModelLimits limits) throws IOException {
        return ModelFileReader.read(path, limits);
    }

    /**
     * Reads a model from a stream: the prelude, then exactly the body it declares (at most
     * {@link #MAX_FILE_BYTES} in all, memory growing only with the bytes that arrive), then expects the
     * end of the stream; within {@code limits}.
     */
    public static Int8Graph read(InputStream in, ModelLimits limits) throws IOException {
        return ModelFileReader.read(in, limits);
    }

    /** {@link #read(InputStream, ModelLimits)} within {@link ModelLimits#defaults()}. */
    public static Int8Graph read(InputStream in) throws IOException {
        return read(in, ModelLimits.defaults());
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
        return ModelFileReader.fromBytes(file, limits);
    }
}
