package io.qat4j.datasets;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/**
 * Builds the bundled Fashion-MNIST subset from the full IDX files: the first {@code perClassTrain}
 * training images of each class and the first {@code perClassTest} test images of each class, in
 * file order, written as gzip IDX files. Deterministic (gzip without timestamps: the header's mtime
 * is zeroed). Usage: {@code SubsetGenerator <full-data-dir> <out-dir> 500 100}.
 */
public final class SubsetGenerator {

    private SubsetGenerator() {
    }

    public static void main(String[] args) throws IOException {
        Path in = Path.of(args[0]);
        Path out = Path.of(args[1]);
        int perTrain = Integer.parseInt(args[2]);
        int perTest = Integer.parseInt(args[3]);
        Files.createDirectories(out);
        subset(in, out, "train", perTrain);
        subset(in, out, "t10k", perTest);
    }

    private static void subset(Path in, Path out, String prefix, int perClass) throws IOException {
        IdxReader.IdxArray images = IdxReader.read(in.resolve(prefix + "-images-idx3-ubyte.gz"));
        IdxReader.IdxArray labels = IdxReader.read(in.resolve(prefix + "-labels-idx1-ubyte.gz"));
        int size = images.itemSize();
        int[] taken = new int[10];
        ByteArrayOutputStream img = new ByteArrayOutputStream();
        ByteArrayOutputStream lab = new ByteArrayOutputStream();
        int n = 0;
        for (int i = 0; i < labels.count(); i++) {
            int c = labels.data()[i] & 0xFF;
            if (taken[c] < perClass) {
                taken[c]++;
                img.write(images.data(), i * size, size);
                lab.write(c);
                n++;
            }
        }
        write(out.resolve(prefix + "-images-idx3-ubyte.gz"), new int[] {n, images.dims()[1], images.dims()[2]}, img.toByteArray());
        write(out.resolve(prefix + "-labels-idx1-ubyte.gz"), new int[] {n}, lab.toByteArray());
    }

    private static void write(Path file, int[] dims, byte[] payload) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(raw);
        d.write(new byte[] {0, 0, 0x08, (byte) dims.length});
        for (int dim : dims) {
            d.writeInt(dim);
        }
        d.write(payload);
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (OutputStream z = new GZIPOutputStream(gz)) {
            z.write(raw.toByteArray());
        }
        byte[] bytes = gz.toByteArray();
        bytes[4] = bytes[5] = bytes[6] = bytes[7] = 0;   // gzip MTIME: 0 keeps the file reproducible
        Files.write(file, bytes);
    }
}
