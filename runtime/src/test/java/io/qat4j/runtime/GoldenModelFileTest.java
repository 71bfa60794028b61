package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/**
 * Model files checked in with their input and expected int8 outputs (src/test/resources/models): a
 * version-1 file written by qat4j 0.1.0 and the same graph as version 2 (the prelude under the CRC) and
 * version 3 (new node types; the same body). All must keep loading and keep giving exactly those bytes. When the format version changes, run
 * {@link #main} from the test classpath to add the new version's file; never regenerate an old one.
 */
class GoldenModelFileTest {

    static final String MODEL = "/models/v1-cnn-w4.q4j";
    static final String MODEL_V2 = "/models/v2-cnn-w4.q4j";
    static final String MODEL_V3 = "/models/v3-cnn-w4.q4j";
    static final String INPUT = "/models/v1-cnn-w4.input.f32";
    static final String OUTPUT = "/models/v1-cnn-w4.output.i8";
    static final int SAMPLES = 3;

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = GoldenModelFileTest.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing test resource " + name);
            }
            return in.readAllBytes();
        }
    }

    private static Int8Model loadAndCheck(String name) throws IOException, URISyntaxException {
        Int8Model m = Int8Model.load(Path.of(GoldenModelFileTest.class.getResource(name).toURI()));
        float[] x = new float[SAMPLES * m.inputSize()];
        ByteBuffer.wrap(resource(INPUT)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(x);
        byte[] expected = resource(OUTPUT);
        assertEquals(SAMPLES * m.outputSize(), expected.length);
        assertArrayEquals(expected, m.runQuantized(m.quantizeInput(x, SAMPLES), SAMPLES), name);
        return m;
    }

    @Test
    void checkedInVersion1FileStillLoadsAndGivesTheSameBytes() throws IOException, URISyntaxException {
        assertEquals(1, resource(MODEL)[4]);
        loadAndCheck(MODEL);
    }

    @Test
    void checkedInVersion2FileLoadsAndGivesTheSameBytes() throws IOException, URISyntaxException {
        assertEquals(2, resource(MODEL_V2)[4]);
        loadAndCheck(MODEL_V2);
    }

    @Test
    void checkedInVersion3FileLoadsAndGivesTheSameBytes() throws IOException, URISyntaxException {
        assertEquals(3, resource(MODEL_V3)[4]);
        loadAndCheck(MODEL_V3);
    }

    /** The migration FORMAT.md describes: reading a version-1 (or 2) file and writing it again gives the version-3 file, same outputs. */
    @Test
    void rewritingTheVersion1And2FilesGivesTheCheckedInVersion3File() throws IOException, URISyntaxException {
        assertEquals(3, ModelFile.VERSION);
        assertArrayEquals(resource(MODEL_V3), ModelFile.toBytes(loadAndCheck(MODEL).graph()));
        assertArrayEquals(resource(MODEL_V3), ModelFile.toBytes(loadAndCheck(MODEL_V2).graph()));
    }

    /** Versions 2 and 3 of a graph of version-1 node types differ in the version byte and the CRC only (FORMAT.md). */
    @Test
    void version2And3FilesOfTheSameGraphDifferInVersionAndChecksumOnly() throws IOException {
        byte[] v2 = resource(MODEL_V2);
        byte[] v3 = resource(MODEL_V3);
        assertEquals(v2.length, v3.length);
        for (int i = 0; i < v2.length; i++) {
            if (i != 4 && (i < 12 || i > 15)) {
                assertEquals(v2[i], v3[i], "byte " + i);
            }
        }
    }

    /**
     * Writes the current version's golden model, its input and its outputs into {@code args[0]}
     * (runtime/src/test/resources/models); the input and outputs are the same bytes for every version.
     */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        Int8Graph g = RandomGraphs.cnn(2024, 1, 12, 12, 10, 4);
        ModelFile.write(g, dir.resolve("v" + ModelFile.VERSION + "-cnn-w4.q4j"));
        Int8Model m = new Int8Model(g);
        float[] x = RandomGraphs.images(7, SAMPLES, m.inputSize());
        ByteBuffer in = ByteBuffer.allocate(4 * x.length).order(ByteOrder.LITTLE_ENDIAN);
        in.asFloatBuffer().put(x);
        Files.write(dir.resolve("v1-cnn-w4.input.f32"), in.array());
        Files.write(dir.resolve("v1-cnn-w4.output.i8"), m.runQuantized(m.quantizeInput(x, SAMPLES), SAMPLES));
    }

    /**
     * Inputs exactly between two codes: the files checked in here round requantizations twice (flags 0),
     * and their inputs keep the half-to-even rounding they were written with; the same graph with
     * single rounding rounds input ties toward +infinity, as its requantizations and qat4j's fake-quant
     * activations do (runtime/FORMAT.md, "Rounding of activation codes").
     */
    @Test
    void inputTiesRoundHalfToEvenInDoubleRoundingFilesAndUpInSingleRoundingOnes() throws Exception {
        Int8Graph file = Int8Model.load(Path.of(GoldenModelFileTest.class.getResource(MODEL).toURI())).graph();
        assertEquals(FixedPoint.Rounding.DOUBLE, file.rounding());
        // the same graph with a power-of-two input scale, so that float inputs can sit exactly on ties
        java.util.List<Int8Graph.Tensor> tensors = new java.util.ArrayList<>(file.tensors());
        Int8Graph.Tensor orig = tensors.get(file.input());
        tensors.set(file.input(), new Int8Graph.Tensor(orig.dims(), 1.0 / 64, orig.zeroPoint()));
        Int8Graph g = new Int8Graph(tensors, file.nodes(), file.input(), file.output(), file.rounding());
        Int8Model v1 = new Int8Model(g);
        Int8Graph.Tensor in = g.tensors().get(g.input());
        int n = v1.inputSize();
        float[] x = new float[n];
        int[] evenCodes = new int[n];
        int[] upCodes = new int[n];
        for (int i = 0; i < n; i++) {
            double half = (i % 9) - 4 + 0.5;   // ... -3.5, -2.5, ..., 4.5 steps from the zero point
            x[i] = (float) (half * in.scale());
            if ((double) x[i] / in.scale() != half) {
                throw new AssertionError("the tie must be exact in float: " + x[i]);
            }
            evenCodes[i] = (int) Math.max(-128, Math.min(127, Math.rint(half) + in.zeroPoint()));
            upCodes[i] = (int) Math.max(-128, Math.min(127, Math.floor(half + 0.5) + in.zeroPoint()));
        }
        byte[] even = v1.quantizeInput(x, 1);
        byte[] up = new Int8Model(new Int8Graph(g.tensors(), g.nodes(), g.input(), g.output(), FixedPoint.Rounding.SINGLE)).quantizeInput(x, 1);
        for (int i = 0; i < n; i++) {
            assertEquals(evenCodes[i], even[i], "double-rounding file, element " + i);
            assertEquals(upCodes[i], up[i], "single-rounding graph, element " + i);
        }
    }
}
