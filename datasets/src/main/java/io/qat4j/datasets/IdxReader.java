package io.qat4j.datasets;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files (the MNIST / Fashion-MNIST format, LeCun et al.), raw or gzip-compressed
 * (detected from the gzip magic, not the file name).
 *
 * <p>Layout: two zero bytes, an element-type byte ({@code 0x08} = unsigned byte, the only type
 * these datasets use and the only one read here), the number of dimensions, one big-endian int32
 * per dimension, then the elements in C order. Everything is validated before the payload is
 * allocated: a truncated file, trailing bytes, a bad magic, an unsupported type or absurd
 * dimensions give an {@link IdxFormatException} naming the file, never an OutOfMemoryError.
 */
public final class IdxReader {

    /** Largest payload accepted (1 GiB), far above Fashion-MNIST's 47 MB. */
    public static final long MAX_ELEMENTS = 1L << 30;
    static final int TYPE_UNSIGNED_BYTE = 0x08;

    /** An unsigned-byte IDX tensor: its dimensions and C-order elements (read with {@code & 0xFF}). */
    public record IdxArray(int[] dims, byte[] data) {
        public int count() {
            return dims[0];
        }

        /** Elements per item: the product of all dimensions after the first. */
        public int itemSize() {
            int n = 1;
            for (int i = 1; i < dims.length; i++) {
                n *= dims[i];
            }
            return n;
        }
    }

    private IdxReader() {
    }

    public static IdxArray read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IdxFormatException(file + ": no such IDX file");
        }
        boolean gzip;
        try (InputStream probe = Files.newInputStream(file)) {
            gzip = probe.read() == 0x1f && probe.read() == 0x8b;
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            InputStream in = gzip ? new GZIPInputStream(raw, 1 << 16) : raw;
            IdxArray array = read(in, file + (gzip ? " (gzip)" : ""));
            if (!gzip && Files.size(file) != headerBytes(array.dims) + array.data.length) {
                throw new IdxFormatException(file + ": expected " + (headerBytes(array.dims) + array.data.length) + " bytes, found "
                        + Files.size(file));
            }
            return array;
        } catch (ZipException | EOFException e) {
            throw new IdxFormatException(file + ": corrupt or truncated gzip stream (" + e.getMessage() + ")");
        }
    }

    private static long headerBytes(int[] dims) {
        return 4L + 4L * dims.length;
    }

    /** Reads one IDX tensor from {@code in}; {@code name} is used in error messages. */
    static IdxArray read(InputStream in, String name) throws IOException {
        DataInputStream data = new DataInputStream(in);
        byte[] magic = data.readNBytes(4);
        if (magic.length < 4) {
            throw new IdxFormatException(name + ": truncated: " + magic.length + " bytes, shorter than the 4-byte IDX magic");
        }
        if (magic[0] != 0 || magic[1] != 0) {
            throw new IdxFormatException(name + ": not an IDX file (magic starts " + String.format("0x%02x%02x", magic[0], magic[1])
                    + ", expected 0x0000)");
        }
        int type = magic[2] & 0xFF;
        if (type != TYPE_UNSIGNED_BYTE) {
            throw new IdxFormatException(name + ": element type " + String.format("0x%02x", type)
                    + " is not supported; qat4j reads unsigned-byte IDX files (type 0x08), as MNIST and Fashion-MNIST use");
        }
        int rank = magic[3] & 0xFF;
        if (rank < 1 || rank > 4) {
            throw new IdxFormatException(name + ": " + rank + " dimensions; expected 1 (labels) to 4");
        }
        int[] dims = new int[rank];
        long elements = 1;
        byte[] header = data.readNBytes(4 * rank);
        if (header.length < 4 * rank) {
            throw new IdxFormatException(name + ": truncated in the header (" + rank + " dimension sizes expected)");
        }
        for (int i = 0; i < rank; i++) {
            dims[i] = ((header[4 * i] & 0xFF) << 24) | ((header[4 * i + 1] & 0xFF) << 16) | ((header[4 * i + 2] & 0xFF) << 8)
                    | (header[4 * i + 3] & 0xFF);
            if (dims[i] <= 0) {
                throw new IdxFormatException(name + ": dimension " + i + " has size " + dims[i] + "; sizes must be positive");
            }
            elements *= dims[i];
            if (elements > MAX_ELEMENTS) {
                throw new IdxFormatException(name + ": dimensions " + Arrays.toString(Arrays.copyOf(dims, i + 1))
                        + "... describe more than " + MAX_ELEMENTS + " elements; the header is corrupt");
            }
        }
        byte[] payload = data.readNBytes((int) elements);   // grows as it reads: a lying header cannot force a huge allocation
        if (payload.length < elements) {
            throw new IdxFormatException(name + ": truncated: dimensions " + Arrays.toString(dims) + " need " + elements
                    + " data bytes, found " + payload.length);
        }
        if (data.read() != -1) {
            throw new IdxFormatException(name + ": trailing bytes after the " + elements + " elements of " + Arrays.toString(dims));
        }
        return new IdxArray(dims, payload);
    }
}
