package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

import io.qat4j.runtime.optimized.OptimizedKernels;

/**
 * The closed set of node kinds, at run time: the compiler already refuses a switch on {@link NodeKind}
 * that misses a kind; these tests prove that every kind that exists is also written, read back,
 * validated, costed and run by both kernel sets, on a graph holding one node of each.
 */
class NodeKindTest {

    private static final int CLASSES = 5;

    private static Int8Graph everyKind(FixedPoint.Rounding rounding) {
        return RandomGraphs.everyKind(15, 2, 9, 7, CLASSES, 4, rounding);
    }

    @Test
    void theTestGraphHoldsANodeOfEveryKind() {
        Set<NodeKind> kinds = EnumSet.noneOf(NodeKind.class);
        everyKind(FixedPoint.Rounding.DOUBLE).nodes().forEach(n -> kinds.add(n.kind()));
        assertEquals(EnumSet.allOf(NodeKind.class), kinds, "extend RandomGraphs.everyKind with the new kind");
    }

    @Test
    void eachKindHasItsOwnFileCodeAndItsRecordsName() {
        Set<Integer> codes = new HashSet<>();
        for (NodeKind k : NodeKind.values()) {
            assertTrue(codes.add(k.code()), k + " shares its file code");
            assertTrue(k.code() >= 1 && k.code() <= 255, k + ": a file code is one unsigned byte, not 0");
            assertSame(k, NodeKind.ofCode(k.code()));
        }
        assertNull(NodeKind.ofCode(0));
        assertNull(NodeKind.ofCode(NodeKind.values().length + 1));
        for (Int8Graph.Node n : everyKind(FixedPoint.Rounding.DOUBLE).nodes()) {
            assertEquals(n.getClass().getSimpleName(), n.kind().label());
        }
    }

    @Test
    void everyKindRoundTripsThroughTheFileByteForByte() throws ModelFormatException {
        for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
            Int8Graph g = everyKind(rounding);
            byte[] file = ModelFile.toBytes(g);
            Int8Graph back = ModelFile.fromBytes(file);
            assertEquals(g, back);
            assertArrayEquals(file, ModelFile.toBytes(back));
        }
    }

    @Test
    void everyKindRunsTheSameOnBothKernelSets() {
        int n = 7;
        boolean vectorized = OptimizedKernels.vectorized();
        try {
            for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
                Int8Graph g = everyKind(rounding);
                assertTrue(ModelCost.of(g).opsPerSample() > 0);
                Int8Model reference = new Int8Model(g, Int8Model.Kernels.REFERENCE);
                byte[] x = reference.quantizeInput(RandomGraphs.images(3, n, reference.inputSize()), n);
                byte[] expected = reference.runQuantized(x, n);
                boolean varied = false;
                for (int i = 1; i < expected.length; i++) {
                    varied |= expected[i] != expected[0];
                }
                assertTrue(varied, "the outputs should depend on the input: " + java.util.Arrays.toString(expected));
                for (boolean vector : new boolean[] {false, true}) {
                    OptimizedKernels.setVectorized(vector);
                    assertArrayEquals(expected, new Int8Model(g, Int8Model.Kernels.OPTIMIZED).runQuantized(x, n),
                            rounding + ", vectorized " + OptimizedKernels.vectorized());
                }
                long[] nanos = reference.profileQuantized(x, n);
                assertEquals(g.nodes().size(), nanos.length);
                assertFalse(java.util.Arrays.stream(nanos).anyMatch(t -> t < 0));
            }
        } finally {
            OptimizedKernels.setVectorized(vectorized);
        }
    }

    @Test
    void aPoolingWindowWithDilationIsRefused() {
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {1, 6, 6}, 0.1, 0);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {1, 4, 4}, 0.1, 0);
        Int8Graph.Window dilated = new Int8Graph.Window(2, 2, 1, 1, 0, 0, 0, 0, 2, 2);
        assertEquals(4, dilated.outputH(6));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Int8Graph(java.util.List.of(in, out),
                java.util.List.of(new Int8Graph.MaxPool(0, 1, dilated)), 0, 1).validate());
        assertTrue(e.getMessage().contains("node 0 (MaxPool): pooling windows have dilation 1"), e.getMessage());
    }
}
