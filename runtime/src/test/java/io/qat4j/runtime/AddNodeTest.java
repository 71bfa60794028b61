package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.qat4j.runtime.reference.ReferenceKernels;

/** The residual add: TFLite's integer scheme against real arithmetic, in a graph and through the file format. */
class AddNodeTest {

    @Test
    void addIsWithinOneLsbOfRealArithmeticForRandomScales() {
        SplittableRandom r = new SplittableRandom(8);
        for (int trial = 0; trial < 200; trial++) {
            Int8Graph.Tensor a = new Int8Graph.Tensor(new int[] {50}, 0.01 + r.nextDouble() * 0.2, r.nextInt(-128, 128));
            Int8Graph.Tensor b = new Int8Graph.Tensor(new int[] {50}, 0.01 + r.nextDouble() * 0.2, r.nextInt(-128, 128));
            Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {50}, 0.02 + r.nextDouble() * 0.3, r.nextInt(-128, 128));
            boolean relu = r.nextBoolean();
            Int8Graph.Add add = Int8Graph.Add.of(0, 1, 2, a, b, out, relu ? out.zeroPoint() : -128, 127);
            byte[] x1 = new byte[50];
            byte[] x2 = new byte[50];
            for (int i = 0; i < 50; i++) {
                x1[i] = (byte) r.nextInt(-128, 128);
                x2[i] = (byte) r.nextInt(-128, 128);
            }
            byte[] y = new byte[50];
            ReferenceKernels.add(add, a, b, out, x1, x2, y, 1, FixedPoint.Rounding.DOUBLE);
            for (int i = 0; i < 50; i++) {
                double real = a.scale() * (x1[i] - a.zeroPoint()) + b.scale() * (x2[i] - b.zeroPoint());
                double code = Math.max(relu ? out.zeroPoint() : -128, Math.min(127, real / out.scale() + out.zeroPoint()));
                assertTrue(Math.abs(code - y[i]) <= 1.0, "trial " + trial + ": real code " + code + ", runtime " + y[i]);
            }
        }
    }

    @Test
    void aResidualGraphRoundTripsThroughTheFileAndValidates() throws ModelFormatException {
        SplittableRandom r = new SplittableRandom(9);
        Int8Graph.Tensor t0 = new Int8Graph.Tensor(new int[] {6}, 0.05, -10);
        Int8Graph.Tensor t1 = new Int8Graph.Tensor(new int[] {6}, 0.08, 3);
        Int8Graph.Tensor t2 = new Int8Graph.Tensor(new int[] {6}, 0.1, 0);
        byte[] w = new byte[36];
        for (int i = 0; i < w.length; i++) {
            w[i] = (byte) r.nextInt(-127, 128);
        }
        FixedPoint.QuantizedMultiplier m = FixedPoint.quantizeMultiplier(0.05 * 0.01 / 0.08);
        int[] mult = new int[6];
        int[] shift = new int[6];
        java.util.Arrays.fill(mult, m.multiplier());
        java.util.Arrays.fill(shift, m.shift());
        Int8Graph g = new Int8Graph(List.of(t0, t1, t2), List.of(
                new Int8Graph.Dense(0, 1, 6, 6, 8, w, new int[6], new Int8Graph.Requant(mult, shift, -128, 127)),
                Int8Graph.Add.of(0, 1, 2, t0, t1, t2, 0, 127)), 0, 2);
        byte[] file = ModelFile.toBytes(g);
        Int8Graph back = ModelFile.fromBytes(file);
        assertEquals(g, back);
        byte[] x = {1, -5, 100, -128, 127, 0, 3, 3, 3, 3, 3, 3};
        Int8Model ref = new Int8Model(back, Int8Model.Kernels.REFERENCE);
        assertArrayEquals(ref.runQuantized(x, 2), new Int8Model(back, Int8Model.Kernels.OPTIMIZED).runQuantized(x, 2));
        for (byte v : ref.runQuantized(x, 2)) {
            assertTrue(v >= 0, "fused ReLU clamp at the output zero point");
        }
        Int8Graph.Tensor wrong = new Int8Graph.Tensor(new int[] {5}, 0.1, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Int8Graph(List.of(t0, t1, wrong),
                List.of(g.nodes().get(0), Int8Graph.Add.of(0, 1, 2, t0, t1, wrong, -128, 127)), 0, 2).validate());
        assertTrue(e.getMessage().contains("same shape"), e.getMessage());
    }
}
