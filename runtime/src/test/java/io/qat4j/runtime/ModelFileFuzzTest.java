package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.fuzz.FuzzReport;
import io.qat4j.fuzz.Fuzzer;

/**
 * Fuzz target for the integer model file: {@link Int8Model#load} on mutants of model files written
 * through the API (and the checked-in golden file), 9 in 10 of them with the prelude's body length
 * and CRC32 repaired so that the body parser and the graph validation see them. Only a
 * {@link ModelFormatException} may escape; the heap one load allocates stays below 64 MiB.
 */
class ModelFileFuzzTest {

    @TempDir
    Path dir;

    static List<byte[]> seeds() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        seeds.add(ModelFile.toBytes(RandomGraphs.cnn(1, 1, 8, 8, 3, 8)));
        seeds.add(ModelFile.toBytes(RandomGraphs.cnn(2, 2, 6, 5, 4, 4)));
        seeds.add(ModelFile.toBytes(RandomGraphs.cnn(3, 1, 5, 7, 2, 2)));
        Int8Graph binary = RandomGraphs.cnn(4, 1, 4, 4, 2, 1);
        seeds.add(ModelFile.toBytes(new Int8Graph(binary.tensors(), binary.nodes(), binary.input(), binary.output(),
                FixedPoint.Rounding.SINGLE)));
        try (InputStream in = ModelFileFuzzTest.class.getResourceAsStream("/models/v1-cnn-w4.q4j")) {
            if (in != null) {
                seeds.add(in.readAllBytes());
            }
        }
        return seeds;
    }

    /** Sets the prelude's body length and CRC32 to match the bytes that follow it. */
    static byte[] repairPrelude(byte[] file) {
        if (file.length < ModelFile.PRELUDE) {
            return file;
        }
        byte[] fixed = file.clone();
        CRC32 crc = new CRC32();
        crc.update(fixed, ModelFile.PRELUDE, fixed.length - ModelFile.PRELUDE);
        ByteBuffer.wrap(fixed, 8, 8).order(ByteOrder.LITTLE_ENDIAN).putInt(fixed.length - ModelFile.PRELUDE).putInt((int) crc.getValue());
        return fixed;
    }

    @Test
    @Timeout(120)
    void onlyModelFormatExceptionEscapesLoad() throws Exception {
        Path file = dir.resolve("fuzz.q4j");
        FuzzReport report = Fuzzer.target("model-file")
                .seeds(seeds())
                .allow(ModelFormatException.class)
                .repair(ModelFileFuzzTest::repairPrelude, 0.9)
                .maxInputBytes(1 << 14)
                .maxAllocatedBytes(64L << 20)
                .iterations(Fuzzer.iterations(40_000))
                .run(input -> {
                    Files.write(file, input);
                    Int8Model.load(file);
                });
        System.out.println(report.summary());
        assertEquals(0, report.findingCount(), report::describeFindings);
    }
}
