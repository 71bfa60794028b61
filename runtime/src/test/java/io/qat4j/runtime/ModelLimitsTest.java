package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Memory and work are bounded from the header's shapes before anything large is allocated (issue 14, section 9). */
class ModelLimitsTest {

    @TempDir
    Path dir;

    private static final ModelLimits UNLIMITED = new ModelLimits(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);

    /** Six 1-bit Dense 65536 -> 1024 nodes reading the same input: 50 MB of file, 3.6 GB once prepared. */
    static byte[] sixWideBinaryDenseLayers() {
        RawModelFile f = new RawModelFile().i32(7).tensor(1, 0, 65536);
        for (int i = 0; i < 6; i++) {
            f.tensor(1, 0, 1024);
        }
        f.i32(0, 6).i32(6);
        for (int i = 0; i < 6; i++) {
            f.dense(0, 1 + i, 1024, 65536, 1);
        }
        return f.file(ModelFile.VERSION, 0);
    }

    /** One 3x3 Conv2D of {@code inC} channels on a 1x1 input padded by 4096 on every side: an output of [1, 8191, 8191]. */
    static Int8Graph paddedConvolution(int inC) {
        int pad = 4096;
        int o = Int8Graph.outputSize(1, 3, 1, pad, pad, 1);
        byte[] w = new byte[inC * 9];
        java.util.Arrays.fill(w, (byte) 1);
        return new Int8Graph(List.of(new Int8Graph.Tensor(new int[] {inC, 1, 1}, 1, 0), new Int8Graph.Tensor(new int[] {1, o, o}, 1, 0)),
                List.of(new Int8Graph.Conv2D(0, 1, 1, inC, new Int8Graph.Window(3, 3, 1, 1, pad, pad, pad, pad, 1, 1),
                        8, w, new int[1], requant(1))), 0, 1);
    }

    private static ModelFormatException refused(byte[] file) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.fromBytes(file));
        assertEquals(ModelFormatException.Problem.EXCEEDS_LIMITS, e.problem(), e.getMessage());
        return e;
    }

    @Test
    void sixOneBitDenseLayersAreRefusedBeforeTheirWeightsAreUnpacked() {
        byte[] file = sixWideBinaryDenseLayers();
        assertTrue(file.length < 51_000_000, file.length + " bytes");
        String m = refused(file).getMessage();
        // 1024 x (9 x 65536 + 128) = 604,110,848 bytes a node; the fourth passes 2 GiB, so nodes 3..5 are never unpacked
        assertTrue(m.contains("with node 3, the model needs at least 2,416,443,392 bytes") && m.contains("limit of 2,147,483,648")
                && m.contains("-Dqat4j.runtime.maxModelBytes=N"), m);
    }

    @Test
    void aFewKilobyteConvolutionPaddedTo8192IsRefusedBeforeItRuns() {
        for (int inC : new int[] {1, 64}) {
            byte[] file = ModelFile.toBytes(paddedConvolution(inC));
            assertTrue(file.length < 1000, file.length + " bytes");
            String m = refused(file).getMessage();
            assertTrue(m.contains("one sample needs") && m.contains("above the limit of 268,435,456 (ModelLimits.maxSampleBytes)")
                    && m.contains("-Dqat4j.runtime.maxSampleBytes=N"), m);
        }
        // 8191^2 positions x 576 multiply-accumulates: far above the operations limit as well
        ModelCost cost = ModelCost.of(paddedConvolution(64));
        assertEquals(8191L * 8191 * 64 * 9, cost.opsPerSample());
        String m = assertThrows(IllegalArgumentException.class, () -> new ModelLimits(Long.MAX_VALUE, Long.MAX_VALUE, 1L << 34).check(cost))
                .getMessage();
        assertTrue(m.contains("one sample needs 38,645,269,056 operations (node 0 the most), above the limit of 17,179,869,184"), m);
    }

    /** Raising every limit cannot make a kernel overflow an int array length into a wrong result. */
    @Test
    void arraysBeyondWhatJavaHoldsAreRefusedWhateverTheLimits() {
        String m = assertThrows(IllegalArgumentException.class,
                () -> new Int8Model(paddedConvolution(64), Int8Model.Kernels.OPTIMIZED, 1, UNLIMITED)).getMessage();
        assertTrue(m.contains("a kernel would need an array of 39,182,008,904 elements"), m);
        assertEquals(ModelFormatException.Problem.EXCEEDS_LIMITS, assertThrows(ModelFormatException.class,
                () -> ModelFile.fromBytes(ModelFile.toBytes(paddedConvolution(64)), UNLIMITED)).problem());
    }

    @Test
    void limitsAreSettingsThatNameThemselves() throws IOException {
        Path file = dir.resolve("cnn.q4j");
        ModelFile.write(RandomGraphs.cnn(1, 1, 28, 28, 10, 4), file);
        ModelCost cost = Int8Model.load(file).cost();
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> Int8Model.load(file, new ModelLimits(cost.modelBytes() - 1, Long.MAX_VALUE, Long.MAX_VALUE)));
        assertEquals(ModelFormatException.Problem.EXCEEDS_LIMITS, e.problem());
        assertTrue(e.getMessage().contains("cnn.q4j") && e.getMessage().contains("ModelLimits.maxModelBytes"), e.getMessage());
        Int8Model.load(file, new ModelLimits(cost.modelBytes(), cost.sampleBytes(), cost.opsPerSample()));
        String property = ModelLimits.MAX_OPS_PER_SAMPLE;
        System.setProperty(property, Long.toString(cost.opsPerSample() - 1));
        try {
            assertEquals(ModelFormatException.Problem.EXCEEDS_LIMITS, assertThrows(ModelFormatException.class, () -> Int8Model.load(file))
                    .problem());
            System.setProperty(property, "lots");
            String m = assertThrows(IllegalArgumentException.class, ModelLimits::defaults).getMessage();
            assertTrue(m.contains(property + "=lots is not a whole number") && m.contains("-D" + property + "="), m);
        } finally {
            System.clearProperty(property);
        }
        assertThrows(IllegalArgumentException.class, () -> new ModelLimits(0, 1, 1));
    }

    /** A batch runs in passes of maxSampleBytes; the bytes do not depend on the split. */
    @Test
    void aBatchRunsInPassesWithTheSameBytes() {
        Int8Graph g = RandomGraphs.cnn(2, 2, 12, 10, 5, 4);
        Int8Model whole = new Int8Model(g);
        ModelCost cost = whole.cost();
        int n = 11;
        byte[] q = whole.quantizeInput(RandomGraphs.images(5, n, whole.inputSize()), n);
        for (Int8Model.Kernels k : Int8Model.Kernels.values()) {
            Int8Model passes = new Int8Model(g, k, 2, new ModelLimits(cost.modelBytes(), 3 * cost.sampleBytes(), cost.opsPerSample()));
            assertArrayEquals(whole.runQuantized(q, n), passes.runQuantized(q, n), k.name());
        }
    }

    /** ResNet-50 v1.5 at 224 x 224, int8 weights: the defaults hold it with room to spare. */
    @Test
    void resNet50At224FitsTheDefaults() {
        Int8Graph g = resNet50();
        g.validate();
        ModelCost cost = ModelCost.of(g);
        long weights = g.nodes().stream().mapToLong(n -> switch (n.kind()) {
            case CONV2D -> ((Int8Graph.Conv2D) n).weights().length;
            case DENSE -> ((Int8Graph.Dense) n).weights().length;
            case DEPTHWISE_CONV2D -> ((Int8Graph.DepthwiseConv2D) n).weights().length;
            case DENSE_LOGITS -> ((Int8Graph.DenseLogits) n).weights().length;
            case MAX_POOL, AVG_POOL, FLATTEN, ADD, REQUANTIZE, AVG_POOL_REQUANT, CONCAT, LEAKY_RELU, LOOKUP_TABLE, ZERO_PAD, CROP,
                 UPSAMPLE_NEAREST -> 0;
        }).sum();
        assertEquals(25_502_912, weights);
        assertTrue(cost.opsPerSample() > 4.0e9 && cost.opsPerSample() < 4.2e9, cost.toString());
        ModelLimits defaults = ModelLimits.defaults();
        defaults.check(cost);
        assertTrue(cost.modelBytes() * 8 < defaults.maxModelBytes() && cost.sampleBytes() * 8 < defaults.maxSampleBytes()
                && cost.opsPerSample() * 4 < defaults.maxOpsPerSample(), cost.toString());
    }

    static Int8Graph resNet50() {
        List<Int8Graph.Tensor> t = new ArrayList<>();
        List<Int8Graph.Node> n = new ArrayList<>();
        t.add(new Int8Graph.Tensor(new int[] {3, 224, 224}, 1, 0));
        int x = conv(t, n, 0, 64, 7, 2, 3);
        Int8Graph.Tensor s = t.get(x);
        int h = Int8Graph.outputSize(s.dims()[1], 3, 2, 1, 1, 1);
        t.add(new Int8Graph.Tensor(new int[] {64, h, h}, 1, 0));
        n.add(new Int8Graph.MaxPool(x, t.size() - 1, Int8Graph.Window.pool(3, 3, 2, 2, 1, 1, 1, 1)));
        x = t.size() - 1;
        int[] blocks = {3, 4, 6, 3};
        for (int stage = 0; stage < 4; stage++) {
            int width = 64 << stage;
            for (int b = 0; b < blocks[stage]; b++) {
                int stride = b == 0 && stage > 0 ? 2 : 1;
                int a = conv(t, n, x, width, 1, 1, 0);
                a = conv(t, n, a, width, 3, stride, 1);
                a = conv(t, n, a, 4 * width, 1, 1, 0);
                int shortcut = b == 0 ? conv(t, n, x, 4 * width, 1, stride, 0) : x;
                t.add(t.get(a));
                n.add(Int8Graph.Add.of(a, shortcut, t.size() - 1, t.get(a), t.get(shortcut), t.get(a), 0, 127));
                x = t.size() - 1;
            }
        }
        t.add(new Int8Graph.Tensor(new int[] {2048, 1, 1}, 1, 0));
        n.add(new Int8Graph.AvgPool(x, t.size() - 1, Int8Graph.Window.pool(7, 7, 1, 1, 0, 0, 0, 0)));
        t.add(new Int8Graph.Tensor(new int[] {2048}, 1, 0));
        n.add(new Int8Graph.Flatten(t.size() - 2, t.size() - 1));
        t.add(new Int8Graph.Tensor(new int[] {1000}, 1, 0));
        n.add(new Int8Graph.Dense(t.size() - 2, t.size() - 1, 1000, 2048, 8, new byte[1000 * 2048], new int[1000], requant(1000)));
        return new Int8Graph(t, n, 0, t.size() - 1);
    }

    private static int conv(List<Int8Graph.Tensor> t, List<Int8Graph.Node> n, int x, int outC, int k, int stride, int pad) {
        Int8Graph.Tensor in = t.get(x);
        int h = Int8Graph.outputSize(in.dims()[1], k, stride, pad, pad, 1);
        int w = Int8Graph.outputSize(in.dims()[2], k, stride, pad, pad, 1);
        t.add(new Int8Graph.Tensor(new int[] {outC, h, w}, 1, 0));
        int inC = in.dims()[0];
        n.add(new Int8Graph.Conv2D(x, t.size() - 1, outC, inC, new Int8Graph.Window(k, k, stride, stride, pad, pad, pad, pad, 1, 1),
                8, new byte[outC * inC * k * k], new int[outC], requant(outC)));
        return t.size() - 1;
    }

    private static Int8Graph.Requant requant(int channels) {
        int[] m = new int[channels];
        java.util.Arrays.fill(m, 1 << 30);
        return new Int8Graph.Requant(m, new int[channels], 0, 127);
    }
}
