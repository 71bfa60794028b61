package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Format version 3 (runtime/FORMAT.md): the node types it adds round-trip with the same outputs, a version-1
 * or -2 file cannot hold them, and their new fields (a flag byte, a function code) are checked.
 */
class FormatVersion3Test {

    @TempDir
    Path dir;

    @Test
    void aGraphOfEveryKindWritesReadsAndRunsTheSame() throws Exception {
        for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
            Int8Graph g = RandomGraphs.everyKind(31, 3, 10, 9, 6, 8, rounding);
            Path file = dir.resolve("every-" + rounding + ".q4j");
            ModelFile.write(g, file);
            assertEquals(3, java.nio.file.Files.readAllBytes(file)[4]);
            Int8Model loaded = Int8Model.load(file);
            assertEquals(g, loaded.graph());
            Int8Model built = new Int8Model(g, Int8Model.Kernels.REFERENCE);
            float[] x = RandomGraphs.images(4, 5, built.inputSize());
            assertArrayEquals(built.runQuantized(built.quantizeInput(x, 5), 5), loaded.runQuantized(loaded.quantizeInput(x, 5), 5));
            assertArrayEquals(built.run(x, 5), loaded.run(x, 5));
            assertArrayEquals(built.predict(x, 5), loaded.predict(x, 5));
        }
    }

    @Test
    void versions1And2CannotHoldTheNewNodeTypes() {
        byte[] file = ModelFile.toBytes(RandomGraphs.everyKind(32, 1, 6, 6, 3, 4));
        for (int version : new int[] {1, 2}) {
            byte[] old = file.clone();
            old[4] = (byte) version;
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.fromBytes(ModelFileTest.resealed(old)));
            assertEquals(ModelFormatException.Problem.INVALID_HEADER, e.problem(), e.getMessage());
            assertTrue(e.getMessage().contains("node 1 has type 9 (DepthwiseConv2D), which format version 3 introduced; this file declares "
                    + "version " + version), e.getMessage());
        }
    }

    /** [1, 2, 2] input, a 2x2 AvgPoolRequant with the given flag byte to [1, 1, 1]. */
    private static byte[] avgPoolRequant(int flag) {
        RawModelFile f = new RawModelFile().i32(2).tensor(0.1, 0, 1, 2, 2).tensor(0.1, 0, 1, 1, 1).i32(0, 1).i32(1);
        f.u8(NodeKind.AVG_POOL_REQUANT.code()).i32(0, 1, 2, 2, 1, 1, 0, 0, 0, 0).u8(flag);
        return f.requant(4).file(3, 0);
    }

    @Test
    void theNewFieldsAreChecked() throws ModelFormatException {
        assertTrue(ModelFile.fromBytes(avgPoolRequant(1)).nodes().get(0) instanceof Int8Graph.AvgPoolRequant p && p.countIncludePad());
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.fromBytes(avgPoolRequant(2)));
        assertTrue(e.getMessage().contains("AvgPoolRequant countIncludePad is 2; expected 0 or 1"), e.getMessage());
        RawModelFile lut = new RawModelFile().i32(2).tensor(0.1, 0, 4).tensor(0.1, 0, 4).i32(0, 1).i32(1);
        lut.u8(NodeKind.LOOKUP_TABLE.code()).i32(0, 1).u8(200).f64(0).bytes(new byte[256]);
        e = assertThrows(ModelFormatException.class, () -> ModelFile.fromBytes(lut.file(3, 0)));
        assertTrue(e.getMessage().contains("node 0 (LookupTable) has unknown function 200"), e.getMessage());
        // a concatenation declaring more inputs than the body holds is refused before anything is allocated
        RawModelFile concat = new RawModelFile().i32(2).tensor(0.1, 0, 4).tensor(0.1, 0, 8).i32(0, 1).i32(1);
        concat.u8(NodeKind.CONCAT.code()).i32(Integer.MAX_VALUE).i32(0, 1, 1 << 30, 1 << 30, 1, 1);
        e = assertThrows(ModelFormatException.class, () -> ModelFile.fromBytes(concat.file(3, 0)));
        assertTrue(e.getMessage().contains("concat input count 2147483647 cannot fit"), e.getMessage());
    }
}
