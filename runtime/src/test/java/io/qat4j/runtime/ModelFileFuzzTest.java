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
 *
 * <p>A model that loads then runs one all-zero sample (when its multiply-adds are few). A graph that
 * loads but cannot run ({@link LoadedButUnrunnable}) is a finding: load validates the dataflow
 * (a tensor read before any node writes it is an INVALID_GRAPH format error), so a loaded graph runs.
 */
class ModelFileFuzzTest {

    /** A finding: the file loaded, and running it threw the IllegalStateException that is the cause. */
    static final class LoadedButUnrunnable extends Exception {
        private static final long serialVersionUID = 1L;

        LoadedButUnrunnable(IllegalStateException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** Multiply-adds (or element visits) of one sample, to skip running the few huge graphs a mutant can declare. */
    static long cost(Int8Graph g) {
        long total = 0;
        for (Int8Graph.Node n : g.nodes()) {
            long out = g.tensors().get(n.output()).elements();
            total += switch (n.kind()) {
                case CONV2D -> out * ((Int8Graph.Conv2D) n).reduction();
                case DENSE -> (long) ((Int8Graph.Dense) n).inFeatures() * ((Int8Graph.Dense) n).outFeatures();
                case MAX_POOL -> out * ((Int8Graph.MaxPool) n).window().area();
                case AVG_POOL -> out * ((Int8Graph.AvgPool) n).window().area();
                case AVG_POOL_REQUANT -> out * ((Int8Graph.AvgPoolRequant) n).window().area();
                case DEPTHWISE_CONV2D -> out * ((Int8Graph.DepthwiseConv2D) n).window().area();
                case DENSE_LOGITS -> (long) ((Int8Graph.DenseLogits) n).inFeatures() * ((Int8Graph.DenseLogits) n).outFeatures();
                case FLATTEN, ADD, REQUANTIZE, CONCAT, LEAKY_RELU, LOOKUP_TABLE, ZERO_PAD, CROP, UPSAMPLE_NEAREST -> out;
            };
        }
        return total;
    }

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
        // every node kind, the version-3 ones included
        seeds.add(ModelFile.toBytes(RandomGraphs.everyKind(5, 1, 6, 5, 3, 4, FixedPoint.Rounding.SINGLE)));
        seeds.add(ModelFile.toBytes(RandomGraphs.everyKind(6, 2, 4, 4, 2, 2, FixedPoint.Rounding.DOUBLE)));
        try (InputStream in = ModelFileFuzzTest.class.getResourceAsStream("/models/v1-cnn-w4.q4j")) {
            if (in != null) {
                seeds.add(in.readAllBytes());
            }
        }
        return seeds;
    }

    /**
     * Sets the prelude's body length and CRC32 to match the bytes that follow it, the CRC as the (mutated) version
     * defines it: from version 2 on it covers the prelude's first 12 bytes too (a body-only CRC would turn every
     * repaired version-2 or -3 mutant into a checksum mismatch, and the parser would never see them).
     */
    static byte[] repairPrelude(byte[] file) {
        if (file.length < ModelFile.PRELUDE) {
            return file;
        }
        byte[] fixed = file.clone();
        ByteBuffer b = ByteBuffer.wrap(fixed).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(8, fixed.length - ModelFile.PRELUDE);
        CRC32 crc = new CRC32();
        if (Short.toUnsignedInt(b.getShort(4)) >= 2) {
            crc.update(fixed, 0, ModelFile.CHECKED_PRELUDE);
        }
        crc.update(fixed, ModelFile.PRELUDE, fixed.length - ModelFile.PRELUDE);
        b.putInt(12, (int) crc.getValue());
        return fixed;
    }

    @Test
    @Timeout(120)
    void onlyModelFormatExceptionEscapesLoadAndLoadedModelsRun() throws Exception {
        Path file = dir.resolve("fuzz.q4j");
        FuzzReport report = Fuzzer.target("model-file")
                .seeds(seeds())
                .allow(ModelFormatException.class)
                .repair(ModelFileFuzzTest::repairPrelude, 0.9)
                .detail(e -> e instanceof ModelFormatException ? Fuzzer.shape(e.getMessage(), file) : null)
                .maxInputBytes(1 << 14)
                .maxAllocatedBytes(64L << 20)
                .iterations(Fuzzer.iterations(40_000))
                .run(input -> {
                    Files.write(file, input);
                    Int8Model model = Int8Model.load(file);
                    if (cost(model.graph()) <= 2_000_000) {
                        try {
                            model.runQuantized(new byte[model.inputSize()], 1);
                        } catch (IllegalStateException e) {
                            throw new LoadedButUnrunnable(e);
                        }
                    }
                });
        System.out.println(report.summary());
        assertEquals(0, report.findingCount(), report::describeFindings);
    }
}
