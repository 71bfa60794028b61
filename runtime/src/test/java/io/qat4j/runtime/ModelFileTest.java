package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFileTest {

    @TempDir
    Path dir;

    @Test
    void everyWeightWidthRoundTripsAndRunsIdentically() throws IOException {
        for (int bits : new int[] {8, 4, 2, 1}) {
            Int8Graph g = RandomGraphs.cnn(bits, 2, 9, 7, 5, bits);
            Path file = dir.resolve("m" + bits + ".q4j");
            ModelFile.write(g, file);
            Int8Graph back = ModelFile.read(file);
            assertEquals(g, back);
            float[] x = RandomGraphs.images(3, 4, 2 * 9 * 7);
            assertArrayEquals(new Int8Model(g).runQuantized(new Int8Model(g).quantizeInput(x, 4), 4),
                    Int8Model.load(file).runQuantized(Int8Model.load(file).quantizeInput(x, 4), 4));
            assertTrue(Files.notExists(dir.resolve("m" + bits + ".q4j.tmp")), "temporary file renamed away");
        }
    }

    @Test
    void theRoundingModeTravelsInTheFlagsAndChangesTheOutput() throws IOException {
        Int8Graph d = RandomGraphs.cnn(9, 2, 9, 7, 5, 2);
        Int8Graph s = new Int8Graph(d.tensors(), d.nodes(), d.input(), d.output(), FixedPoint.Rounding.SINGLE);
        byte[] db = ModelFile.toBytes(d);
        byte[] sb = ModelFile.toBytes(s);
        assertEquals(0, db[6] | db[7], "double rounding: flags 0, as every earlier version-1 file");
        assertEquals(ModelFile.FLAG_SINGLE_ROUNDING, sb[6]);
        assertEquals(s, ModelFile.fromBytes(sb));
        assertEquals(FixedPoint.Rounding.DOUBLE, ModelFile.fromBytes(db).rounding());
        // one weight, accumulator 1, M = 0.2546: single rounding gives 0, double rounding 1
        FixedPoint.QuantizedMultiplier m = FixedPoint.quantizeMultiplier(0.2546);
        java.util.List<Int8Graph.Tensor> t = java.util.List.of(new Int8Graph.Tensor(new int[] {1}, 1, 0), new Int8Graph.Tensor(new int[] {1}, 1, 0));
        java.util.List<Int8Graph.Node> n = java.util.List.of(new Int8Graph.Dense(0, 1, 1, 1, 8, new byte[] {1}, new int[] {0},
                new Int8Graph.Requant(new int[] {m.multiplier()}, new int[] {m.shift()}, -128, 127)));
        for (FixedPoint.Rounding r : FixedPoint.Rounding.values()) {
            Int8Model model = new Int8Model(ModelFile.fromBytes(ModelFile.toBytes(new Int8Graph(t, n, 0, 1, r))));
            assertEquals(r == FixedPoint.Rounding.SINGLE ? 0 : 1, model.runQuantized(new byte[] {1}, 1)[0], r.name());
        }
    }

    @Test
    void lowBitFilesAreSmaller() {
        long w8 = ModelFile.toBytes(RandomGraphs.cnn(1, 3, 28, 28, 10, 8)).length;
        long w4 = ModelFile.toBytes(RandomGraphs.cnn(1, 3, 28, 28, 10, 4)).length;
        long w1 = ModelFile.toBytes(RandomGraphs.cnn(1, 3, 28, 28, 10, 1)).length;
        assertTrue(w4 < w8 && w1 < w4, w8 + " " + w4 + " " + w1);
    }

    private static void assertProblem(byte[] file, Set<ModelFormatException.Problem> allowed, String what) {
        try {
            ModelFile.fromBytes(file);
            throw new AssertionError(what + ": accepted a malformed file");
        } catch (ModelFormatException e) {
            assertTrue(allowed.contains(e.problem()), what + ": " + e.getMessage());
        }
    }

    @Test
    void truncationAtEveryOffsetIsATypedError() {
        byte[] good = ModelFile.toBytes(RandomGraphs.cnn(2, 1, 8, 8, 3, 4));
        for (int len = 0; len < good.length; len++) {
            assertProblem(java.util.Arrays.copyOf(good, len), EnumSet.of(ModelFormatException.Problem.TRUNCATED,
                    ModelFormatException.Problem.BAD_MAGIC), "truncated to " + len);
        }
    }

    @Test
    void randomBitFlipsAreTypedErrors() {
        byte[] good = ModelFile.toBytes(RandomGraphs.cnn(3, 1, 8, 8, 3, 8));
        SplittableRandom r = new SplittableRandom(4);
        for (int trial = 0; trial < 3000; trial++) {
            byte[] bad = good.clone();
            int flips = 1 + r.nextInt(3);
            for (int f = 0; f < flips; f++) {
                int bit = r.nextInt(bad.length * 8);
                bad[bit >> 3] ^= (byte) (1 << (bit & 7));
            }
            if (java.util.Arrays.equals(bad, good)) {
                continue;
            }
            assertProblem(bad, EnumSet.allOf(ModelFormatException.Problem.class), "trial " + trial);
        }
    }

    /** Rewrites the body and a valid CRC, so the parser's own checks are exercised. */
    private static byte[] withBody(byte[] body) {
        CRC32 crc = new CRC32();
        crc.update(body);
        ByteBuffer out = ByteBuffer.allocate(ModelFile.PRELUDE + body.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(ModelFile.MAGIC).putShort((short) 1).putShort((short) 0).putInt(body.length).putInt((int) crc.getValue()).put(body);
        return out.array();
    }

    @Test
    void absurdCountsAndInconsistentGraphsWithValidChecksumsAreRejected() {
        // a tensor count of 2^31 in a tiny body must not allocate
        byte[] hugeCount = withBody(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x7F, 0, 0, 0, 0});
        assertProblem(hugeCount, EnumSet.of(ModelFormatException.Problem.INVALID_HEADER), "huge tensor count");
        byte[] good = ModelFile.toBytes(RandomGraphs.cnn(5, 1, 8, 8, 3, 8));
        byte[] body = java.util.Arrays.copyOfRange(good, ModelFile.PRELUDE, good.length);
        byte[] trailing = java.util.Arrays.copyOf(body, body.length + 2);
        assertProblem(withBody(trailing), EnumSet.of(ModelFormatException.Problem.INVALID_HEADER), "trailing bytes");
        // first tensor's first dimension (offset 4 + 1) set to 2^30: rejected by the graph check, not an OOM
        byte[] absurdDim = body.clone();
        ByteBuffer.wrap(absurdDim).order(ByteOrder.LITTLE_ENDIAN).putInt(5, 1 << 30);
        assertProblem(withBody(absurdDim), EnumSet.of(ModelFormatException.Problem.INVALID_GRAPH), "absurd dimension");
        // output tensor id out of range
        Int8Graph g = RandomGraphs.cnn(5, 1, 8, 8, 3, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Int8Graph(g.tensors(), g.nodes(), 0, 99).validate());
        assertTrue(e.getMessage().contains("99"), e.getMessage());
    }

    /** {@code file} with its CRC32 recomputed as its version defines it (for prelude edits that must pass the checksum). */
    static byte[] resealed(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        CRC32 crc = new CRC32();
        if (b.getShort(4) >= 2) {
            crc.update(file, 0, ModelFile.CHECKED_PRELUDE);
        }
        crc.update(file, ModelFile.PRELUDE, file.length - ModelFile.PRELUDE);
        b.putInt(12, (int) crc.getValue());
        return file;
    }

    @Test
    void preludeProblemsAreNamed() {
        byte[] good = ModelFile.toBytes(RandomGraphs.cnn(6, 1, 8, 8, 3, 8));
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertProblem(magic, EnumSet.of(ModelFormatException.Problem.BAD_MAGIC), "magic");
        byte[] version = good.clone();
        version[4] = (byte) (ModelFile.VERSION + 1);
        assertProblem(resealed(version), EnumSet.of(ModelFormatException.Problem.UNSUPPORTED_VERSION), "version " + version[4]);
        byte[] flags = good.clone();
        flags[6] = 2;   // an undefined flag bit with a good checksum: a newer writer's feature this reader does not know
        assertProblem(resealed(flags), EnumSet.of(ModelFormatException.Problem.UNSUPPORTED_VERSION), "unknown flag");
        byte[] crc = good.clone();
        crc[good.length - 1] ^= 1;
        assertProblem(crc, EnumSet.of(ModelFormatException.Problem.CHECKSUM_MISMATCH), "flipped payload bit");
    }

    /** Issue 14 section 9: the flags byte was outside the CRC, so single rounding flipped to double loaded and changed outputs. */
    @Test
    void flippingTheRoundingFlagIsAChecksumMismatch() {
        Int8Graph d = RandomGraphs.cnn(14, 1, 28, 28, 10, 2);
        byte[] file = ModelFile.toBytes(new Int8Graph(d.tensors(), d.nodes(), d.input(), d.output(), FixedPoint.Rounding.SINGLE));
        assertEquals(ModelFile.VERSION, file[4]);
        assertEquals(ModelFile.FLAG_SINGLE_ROUNDING, file[6]);
        file[6] ^= ModelFile.FLAG_SINGLE_ROUNDING;
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.fromBytes(file));
        assertEquals(ModelFormatException.Problem.CHECKSUM_MISMATCH, e.problem(), e.getMessage());
        assertTrue(e.getMessage().contains("prelude's first 12 bytes and the body"), e.getMessage());
    }

    @Test
    void everyBitOfTheVersion2PreludeIsChecked() {
        Int8Graph d = RandomGraphs.cnn(15, 1, 8, 8, 3, 4);
        byte[] good = ModelFile.toBytes(new Int8Graph(d.tensors(), d.nodes(), d.input(), d.output(), FixedPoint.Rounding.SINGLE));
        for (int bit = 0; bit < 8 * ModelFile.PRELUDE; bit++) {
            byte[] bad = good.clone();
            bad[bit >> 3] ^= (byte) (1 << (bit & 7));
            assertProblem(bad, EnumSet.allOf(ModelFormatException.Problem.class), "prelude bit " + bit);
        }
    }

    /** A version-2 (or 3) file relabelled as version 1 would escape the prelude check; its CRC no longer matches. */
    @Test
    void aVersion2FileRelabelledAsVersion1IsAChecksumMismatch() {
        byte[] file = ModelFile.toBytes(RandomGraphs.cnn(16, 1, 8, 8, 3, 4));
        file[4] = 1;
        assertProblem(file, EnumSet.of(ModelFormatException.Problem.CHECKSUM_MISMATCH), "version " + ModelFile.VERSION + " relabelled 1");
    }

    @Test
    void version1FilesWithBodyChecksumsStillLoad() throws ModelFormatException {
        Int8Graph g = RandomGraphs.cnn(17, 1, 8, 8, 3, 4);
        byte[] v1 = ModelFile.toBytes(g);
        v1[4] = 1;
        assertEquals(g, ModelFile.fromBytes(resealed(v1)));
    }

    /** Issue 14 section 9: the size check trusted the reported file size (0 for /dev/zero) and read until memory ran out. */
    @Test
    void devZeroIsRefusedAfterItsPrelude() {
        Path zero = Path.of("/dev/zero");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(zero), "no /dev/zero here");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.read(zero));
        assertEquals(ModelFormatException.Problem.BAD_MAGIC, e.problem());
        assertTrue(e.getMessage().startsWith("BAD_MAGIC: /dev/zero: "), e.getMessage());
    }

    /** An endless stream of zeros after a good file: the reader stops one byte after the declared body. */
    @Test
    void aStreamLongerThanItsDeclaredBodyIsRefused() {
        byte[] good = ModelFile.toBytes(RandomGraphs.cnn(18, 1, 8, 8, 3, 4));
        java.io.InputStream endless = new java.io.SequenceInputStream(new java.io.ByteArrayInputStream(good), new java.io.InputStream() {
            @Override
            public int read() {
                return 0;
            }
        });
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.read(endless));
        assertEquals(ModelFormatException.Problem.INVALID_HEADER, e.problem());
        assertTrue(e.getMessage().contains((good.length - ModelFile.PRELUDE) + "-byte body"), e.getMessage());
    }

    @Test
    void aPreludeDeclaringMoreThanTheFileLimitIsRefusedBeforeReading() {
        byte[] good = ModelFile.toBytes(RandomGraphs.cnn(19, 1, 8, 8, 3, 4));
        ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -1);   // 4 GiB - 1 body bytes
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.read(new java.io.ByteArrayInputStream(good)));
        assertEquals(ModelFormatException.Problem.INVALID_HEADER, e.problem());
        assertTrue(e.getMessage().contains("4294967295") && e.getMessage().contains(Long.toString(ModelFile.MAX_FILE_BYTES)), e.getMessage());
        ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 1 << 29);   // within the limit, but the stream ends early
        assertEquals(ModelFormatException.Problem.TRUNCATED,
                assertThrows(ModelFormatException.class, () -> ModelFile.read(new java.io.ByteArrayInputStream(good))).problem());
    }

    /** Three [4] tensors, input {@code input}, output {@code output}, and the given Requantize nodes {@code {from, to}}. */
    private static byte[] requantizeChain(int input, int output, int[]... nodes) {
        RawModelFile f = new RawModelFile().i32(3).tensor(1, 0, 4).tensor(1, 0, 4).tensor(1, 0, 4).i32(input, output).i32(nodes.length);
        for (int[] n : nodes) {
            f.u8(NodeKind.REQUANTIZE.code()).i32(n[0], n[1], 1 << 30, 0, -128, 127);
        }
        return f.file(ModelFile.VERSION, 0);
    }

    private static String invalidGraph(byte[] file) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.fromBytes(file));
        assertEquals(ModelFormatException.Problem.INVALID_GRAPH, e.problem(), e.getMessage());
        return e.getMessage();
    }

    /** Issue 14 section 9: found in 72 fuzzed files as a run-time IllegalStateException; now a load-time format error. */
    @Test
    void aTensorReadBeforeAnyNodeWritesItIsAnInvalidGraphAtLoad() {
        String m = invalidGraph(requantizeChain(1, 2, new int[] {0, 2}));
        assertTrue(m.contains("node 0 (Requantize) reads tensor 0 before any node writes it") && m.contains("graph input is tensor 1"), m);
        // the writer after its reader: each node is fine alone, the order is not
        m = invalidGraph(requantizeChain(0, 2, new int[] {1, 2}, new int[] {0, 1}));
        assertTrue(m.contains("node 0 (Requantize) reads tensor 1 before any node writes it"), m);
    }

    @Test
    void theFuzzersSmallestUnrunnableFileIsAFormatErrorAtLoad() throws Exception {
        // 75 bytes the model-file fuzzer found (33 of 1,000,000 mutants like it): it loaded, and running it threw
        // "tensor 1 is read before any node writes it"
        byte[] file = java.util.Base64.getDecoder().decode(
                "UTRKTQEAAAA7AAAAa48ltgIAAAABBAAAAJqZmZmZmbk/AAAAAAEEAAAAmpmZmZmZuT8AAAAAAAAAAAEAAAABAAAABQEAAAAAAAAA");
        ModelFormatException e = org.junit.jupiter.api.Assertions.assertThrows(ModelFormatException.class,
                () -> ModelFile.read(new java.io.ByteArrayInputStream(file), ModelLimits.defaults()));
        assertTrue(e.getMessage().contains("before any node writes it"), e.getMessage());
    }

    @Test
    void anOutputNoNodeWritesIsAnInvalidGraphAtLoad() {
        String m = invalidGraph(requantizeChain(0, 2, new int[] {0, 1}));
        assertTrue(m.contains("no node writes the output tensor 2"), m);
    }

    @Test
    void aTensorWrittenTwiceIsAnInvalidGraphAtLoad() {
        String m = invalidGraph(requantizeChain(0, 2, new int[] {0, 1}, new int[] {0, 1}, new int[] {1, 2}));
        assertTrue(m.contains("node 1 (Requantize) writes tensor 1, which node 0 already writes"), m);
        m = invalidGraph(requantizeChain(0, 1, new int[] {0, 1}, new int[] {1, 0}));
        assertTrue(m.contains("writes tensor 0, which is the graph input"), m);
    }

    @Test
    void readingAMissingOrHugeFileNamesIt() throws IOException {
        Path missing = dir.resolve("none.q4j");
        assertThrows(java.nio.file.NoSuchFileException.class, () -> ModelFile.read(missing));
        Path junk = dir.resolve("junk.q4j");
        Files.write(junk, new byte[] {1, 2, 3});
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.read(junk));
        assertTrue(e.getMessage().contains("junk.q4j"), e.getMessage());
        assertEquals(ModelFormatException.Problem.TRUNCATED, e.problem());
    }
}
