package io.qat4j.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

class IdxReaderTest {

    @TempDir
    Path dir;

    private static byte[] idx(int type, int[] dims, byte[] payload) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[] {0, 0, (byte) type, (byte) dims.length});
        for (int d : dims) {
            out.writeInt(d);
        }
        out.write(payload);
        return bytes.toByteArray();
    }

    private Path write(String name, byte[] content, boolean gzip) throws IOException {
        Path p = dir.resolve(name);
        try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(p)) : Files.newOutputStream(p)) {
            out.write(content);
        }
        return p;
    }

    private static byte[] ramp(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 37);
        }
        return b;
    }

    @Test
    void readsRawAndGzipFilesIdentically() throws IOException {
        byte[] file = idx(0x08, new int[] {3, 4, 5}, ramp(60));
        for (boolean gzip : new boolean[] {false, true}) {
            IdxReader.IdxArray a = IdxReader.read(write("x" + gzip, file, gzip));
            assertArrayEquals(new int[] {3, 4, 5}, a.dims());
            assertArrayEquals(ramp(60), a.data());
            assertEquals(20, a.itemSize());
        }
    }

    private void assertRejected(byte[] content, boolean gzip, String hint) throws IOException {
        Path p = write("bad.idx", content, gzip);
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> IdxReader.read(p));
        assertTrue(e.getMessage().contains("bad.idx"), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(hint), "'" + e.getMessage() + "' should mention '" + hint + "'");
    }

    @Test
    void malformedFilesAreRejectedWithTheFileAndTheProblem() throws IOException {
        byte[] good = idx(0x08, new int[] {3, 4, 5}, ramp(60));
        for (boolean gzip : new boolean[] {false, true}) {
            assertRejected(Arrays.copyOf(good, good.length - 7), gzip, "truncated");
            assertRejected(Arrays.copyOf(good, 10), gzip, "truncated in the header");
            assertRejected(Arrays.copyOf(good, 2), gzip, "truncated");
            assertRejected(Arrays.copyOf(good, good.length + 3), gzip, "trailing bytes");
            assertRejected(idx(0x0D, new int[] {3}, new byte[12]), gzip, "0x0d");
            assertRejected(idx(0x08, new int[] {3, 0}, new byte[0]), gzip, "positive");
            assertRejected(idx(0x08, new int[] {1, 2, 3, 4, 5}, new byte[120]), gzip, "5 dimensions");
            byte[] notIdx = good.clone();
            notIdx[0] = 'P';
            assertRejected(notIdx, gzip, "not an IDX file");
        }
    }

    @Test
    void absurdDimensionsFailFastWithoutAllocating() throws IOException {
        byte[] lying = idx(0x08, new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE, 28}, new byte[16]);
        assertRejected(lying, false, "header is corrupt");
        // within the limit but far more than the file holds: reads what is there, then reports truncation
        assertRejected(idx(0x08, new int[] {1 << 29}, new byte[16]), true, "truncated");
    }

    @Test
    void corruptGzipIsReported() throws IOException {
        Path ok = write("c.idx.gz", idx(0x08, new int[] {100}, ramp(100)), true);
        byte[] bytes = Files.readAllBytes(ok);
        bytes[bytes.length / 2] ^= 0x55;
        Path bad = dir.resolve("bad.idx");
        Files.write(bad, bytes);
        IdxFormatException e = assertThrows(IdxFormatException.class, () -> IdxReader.read(bad));
        assertTrue(e.getMessage().contains("bad.idx"), e.getMessage());
    }

    @Test
    void imagesAndLabelsBecomeANormalizedOneHotDataSet() throws IOException {
        byte[] pixels = ramp(2 * 3 * 3);
        Path images = write("img", idx(0x08, new int[] {2, 3, 3}, pixels), true);
        Path labels = write("lab", idx(0x08, new int[] {2}, new byte[] {7, 2}), false);
        DataSet ds = IdxDataSets.load(images, labels, 10);
        assertArrayEquals(new long[] {2, 1, 3, 3}, ds.getFeatures().shape());
        assertEquals((pixels[4] & 0xFF) / 255f, ds.getFeatures().getFloat(0, 0, 1, 1), 0f);
        assertEquals(1f, ds.getLabels().getFloat(0, 7), 0f);
        assertEquals(1f, ds.getLabels().getFloat(1, 2), 0f);
        assertEquals(2f, ds.getLabels().sumNumber().floatValue(), 0f);

        Path threeLabels = write("lab3", idx(0x08, new int[] {3}, new byte[] {1, 2, 3}), false);
        IdxFormatException mismatch = assertThrows(IdxFormatException.class, () -> IdxDataSets.load(images, threeLabels, 10));
        assertTrue(mismatch.getMessage().contains("3 labels"), mismatch.getMessage());
        Path badLabel = write("lab11", idx(0x08, new int[] {2}, new byte[] {1, 11}), false);
        assertThrows(IdxFormatException.class, () -> IdxDataSets.load(images, badLabel, 10));
    }

    @Test
    void fourDimensionalImageFilesAreChannelsFirstAndClassesComeFromTheLabels() throws IOException {
        byte[] pixels = ramp(2 * 3 * 2 * 2);
        Path images = write("img4", idx(0x08, new int[] {2, 3, 2, 2}, pixels), false);
        Path labels = write("lab4", idx(0x08, new int[] {2}, new byte[] {0, 5}), false);
        assertEquals(6, IdxDataSets.classes(labels));
        DataSet ds = IdxDataSets.load(images, labels, IdxDataSets.classes(labels));
        assertArrayEquals(new long[] {2, 3, 2, 2}, ds.getFeatures().shape());
        // element [n, c, y, x] is byte n*12 + c*4 + y*2 + x of the file
        assertEquals((pixels[12 + 2 * 4 + 2 + 1] & 0xFF) / 255f, ds.getFeatures().getFloat(1, 2, 1, 1), 0f);
        assertEquals(1f, ds.getLabels().getFloat(1, 5), 0f);
        Path flat = write("flat", idx(0x08, new int[] {2, 12}, pixels), false);
        assertTrue(assertThrows(IdxFormatException.class, () -> IdxDataSets.load(flat, labels, 6)).getMessage().contains("[N, C, H, W]"));
        assertThrows(IdxFormatException.class, () -> IdxDataSets.classes(images));
    }

    @Test
    void classCountsBeyondByteLabelsAreRejectedBeforeReading() {
        String m = assertThrows(IllegalArgumentException.class,
                () -> IdxDataSets.load(dir.resolve("none-images"), dir.resolve("none-labels"), 2_000_000_000)).getMessage();
        assertTrue(m.contains("2..256") && m.contains("2000000000"), m);
    }
}
