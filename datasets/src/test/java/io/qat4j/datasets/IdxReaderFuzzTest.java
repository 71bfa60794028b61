package io.qat4j.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.fuzz.FuzzReport;
import io.qat4j.fuzz.Fuzzer;

/**
 * Fuzz target for {@link IdxReader#read(Path)}: mutants of raw and gzip-compressed IDX files
 * (labels, images, rank 4), one in five of them gzip-compressed after mutating so that the IDX
 * parser behind the gzip layer sees mutated headers too. Only an {@link IdxFormatException} may escape.
 */
class IdxReaderFuzzTest {

    @TempDir
    Path dir;

    static byte[] idx(int[] dims) {
        int n = 1;
        for (int d : dims) {
            n *= d;
        }
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + n);
        b.put(new byte[] {0, 0, IdxReader.TYPE_UNSIGNED_BYTE, (byte) dims.length});
        for (int d : dims) {
            b.putInt(d);
        }
        for (int i = 0; i < n; i++) {
            b.put((byte) (i * 37));
        }
        return b.array();
    }

    static byte[] gzip(byte[] raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
            out.write(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static List<byte[]> seeds() {
        List<byte[]> seeds = new ArrayList<>();
        for (int[] dims : new int[][] {{10}, {3, 4, 5}, {2, 1, 3, 3}, {1}}) {
            seeds.add(idx(dims));
            seeds.add(gzip(idx(dims)));
        }
        return seeds;
    }

    @Test
    @Timeout(120)
    void onlyIdxFormatExceptionEscapesRead() throws Exception {
        Path file = dir.resolve("fuzz-idx");
        FuzzReport report = Fuzzer.target("idx")
                .seeds(seeds())
                .allow(IdxFormatException.class)
                .repair(IdxReaderFuzzTest::gzip, 0.2)
                .detail(e -> Fuzzer.shape(e.getMessage(), file))
                .maxInputBytes(1 << 14)
                .maxAllocatedBytes(64L << 20)
                .iterations(Fuzzer.iterations(40_000))
                .run(input -> {
                    Files.write(file, input);
                    IdxReader.read(file);
                });
        System.out.println(report.summary());
        assertEquals(0, report.findingCount(), report::describeFindings);
    }
}
