package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * 256-entry int8 tables (TFLite's approach for sigmoid, tanh, ELU, hard sigmoid, swish): each entry against
 * the function in double math rounded with {@link BigDecimal} (ties toward +infinity for single-rounding
 * graphs, away from zero for double), the kernels against the table, the functions against their formulas.
 */
class LookupTableTest {

    private static int entry(double f, Int8Graph.Tensor out, FixedPoint.Rounding rounding) {
        BigDecimal v = new BigDecimal(f / out.scale());
        int rounded = switch (rounding) {
            case SINGLE -> v.add(new BigDecimal("0.5")).setScale(0, RoundingMode.FLOOR).intValue();   // ties toward +infinity
            case DOUBLE -> v.setScale(0, RoundingMode.HALF_UP).intValue();                            // BigDecimal's HALF_UP: away from zero
        };
        return Math.max(-128, Math.min(127, rounded + out.zeroPoint()));
    }

    @Test
    void everyNamedFunctionsTableIsTheRoundedFunctionAndTheKernelsReadIt() {
        SplittableRandom r = new SplittableRandom(101);
        for (TableFunction f : TableFunction.values()) {
            if (f == TableFunction.CUSTOM) {
                continue;
            }
            for (FixedPoint.Rounding rounding : FixedPoint.Rounding.values()) {
                double parameter = f.parameter() ? 0.7 : 0;
                Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {3, 4, 5}, 0.03 + r.nextDouble() * 0.05, r.nextInt(-50, 50));
                Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {3, 4, 5}, 1.0 / 128 + r.nextDouble() * 0.01, r.nextInt(-20, 20));
                Int8Graph.LookupTable t = Int8Graph.LookupTable.of(0, 1, in, out, f, parameter, rounding);
                for (int q = -128; q < 128; q++) {
                    assertEquals(entry(f.apply(in.scale() * (q - in.zeroPoint()), parameter), out, rounding), t.table()[q + 128],
                            f + " " + rounding + " code " + q);
                }
                int n = 2;
                byte[] x = TfliteMath.codes(r, n * 60, 8);
                byte[] y = TfliteMath.runEverywhere(TfliteMath.single(in, out, t, rounding), x, n);
                for (int i = 0; i < x.length; i++) {
                    assertEquals(t.table()[x[i] + 128], y[i]);
                }
            }
        }
    }

    @Test
    void tiesFollowTheGraphsRounding() {
        // f(x) = x with s_in / s_out = 1/2: input differences of odd d land on d / 2, exactly between two codes
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {4}, 0.25, 0);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {4}, 0.5, 0);
        Int8Graph.LookupTable up = Int8Graph.LookupTable.of(0, 1, in, out, x -> x, TableFunction.CUSTOM, 0, FixedPoint.Rounding.SINGLE);
        Int8Graph.LookupTable away = Int8Graph.LookupTable.of(0, 1, in, out, x -> x, TableFunction.CUSTOM, 0, FixedPoint.Rounding.DOUBLE);
        byte[] x = {-3, -1, 1, 3};
        assertArrayEquals(new byte[] {-1, 0, 1, 2}, TfliteMath.runEverywhere(TfliteMath.single(in, out, up, FixedPoint.Rounding.SINGLE), x, 1));
        assertArrayEquals(new byte[] {-2, -1, 1, 2}, TfliteMath.runEverywhere(TfliteMath.single(in, out, away, FixedPoint.Rounding.DOUBLE), x, 1));
        // saturation at both ends
        Int8Graph.LookupTable wide = Int8Graph.LookupTable.of(0, 1, in, out, x2 -> 1000 * x2, TableFunction.CUSTOM, 0, FixedPoint.Rounding.SINGLE);
        assertEquals(-128, wide.table()[0]);
        assertEquals(127, wide.table()[255]);
        assertEquals(0, wide.table()[128]);
    }

    @Test
    void namedFunctionsFollowTheirFormulas() {
        assertEquals(0.5, TableFunction.SIGMOID.apply(0, 0));
        assertEquals(1 / (1 + Math.exp(-2)), TableFunction.SIGMOID.apply(2, 0), 1e-15);
        assertEquals(Math.tanh(-0.7), TableFunction.TANH.apply(-0.7, 0));
        assertEquals(1.5 * (Math.exp(-2) - 1), TableFunction.ELU.apply(-2, 1.5), 1e-15);
        assertEquals(3, TableFunction.ELU.apply(3, 1.5));
        assertEquals(0.9, TableFunction.HARD_SIGMOID.apply(2, 0), 1e-15);
        assertEquals(0, TableFunction.HARD_SIGMOID.apply(-3, 0));
        assertEquals(1, TableFunction.HARD_SIGMOID.apply(3, 0));
        assertEquals(2 / (1 + Math.exp(-2)), TableFunction.SWISH.apply(2, 0), 1e-15);
        assertEquals(Math.log(1 + Math.exp(1.3)), TableFunction.SOFTPLUS.apply(1.3, 0), 1e-15);
        assertEquals(40, TableFunction.SOFTPLUS.apply(40, 0), 1e-12);
        assertEquals(-0.5, TableFunction.SOFTSIGN.apply(-1, 0));
        assertEquals(-1, TableFunction.HARD_TANH.apply(-4, 0));
        assertThrows(UnsupportedOperationException.class, () -> TableFunction.CUSTOM.apply(0, 0));
        for (TableFunction f : TableFunction.values()) {
            assertEquals(f, TableFunction.ofCode(f.code()));
        }
    }

    @Test
    void malformedTablesAreRefusedNamingTheNode() {
        Int8Graph.Tensor t = new Int8Graph.Tensor(new int[] {8}, 0.1, 0);
        AvgPoolRequantTest.assertRefused(t, t, new Int8Graph.LookupTable(0, 1, TableFunction.TANH, 0, new byte[255]),
                "node 0 (LookupTable) table: 255 values, expected 256");
        AvgPoolRequantTest.assertRefused(t, t, new Int8Graph.LookupTable(0, 1, TableFunction.TANH, 0.5, new byte[256]),
                "node 0 (LookupTable): parameter 0.5 of TANH must be 0 (the function takes none)");
        AvgPoolRequantTest.assertRefused(t, t, new Int8Graph.LookupTable(0, 1, TableFunction.ELU, Double.NaN, new byte[256]),
                "node 0 (LookupTable): parameter NaN of ELU must be finite");
        AvgPoolRequantTest.assertRefused(t, new Int8Graph.Tensor(new int[] {2, 2, 2}, 0.1, 0), new Int8Graph.LookupTable(0, 1,
                TableFunction.TANH, 0, new byte[256]), "node 0 (LookupTable): input [8] and output [2, 2, 2] must have the same shape");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Int8Graph.LookupTable.of(0, 1, t, t, x -> Math.log(x),
                TableFunction.CUSTOM, 0, FixedPoint.Rounding.SINGLE));
        assertTrue(e.getMessage().contains("the function is NaN at input code -128"), e.getMessage());
    }
}
