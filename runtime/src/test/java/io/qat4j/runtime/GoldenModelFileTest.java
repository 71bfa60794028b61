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
 * version-1 file written by qat4j 0.1.0 and the same graph as version 2 (the prelude under the CRC).
 * Both must keep loading and keep giving exactly those bytes. When the format version changes, run
 * {@link #main} from the test classpath to add the new version's file; never regenerate an old one.
 */
class GoldenModelFileTest {

    static final String MODEL = "/models/v1-cnn-w4.q4j";
    static final String MODEL_V2 = "/models/v2-cnn-w4.q4j";
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

    /** The migration FORMAT.md describes: reading a version-1 file and writing it again gives the version-2 file, same outputs. */
    @Test
    void rewritingTheVersion1FileGivesTheCheckedInVersion2File() throws IOException, URISyntaxException {
        Int8Model v1 = loadAndCheck(MODEL);
        assertArrayEquals(resource(MODEL_V2), ModelFile.toBytes(v1.graph()));
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
}
