package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The one bit-width rule against its statement: weights 2..max, inputs 1..max, max 16 simulated and 8 for the INT8 runtime. */
class BitWidthsTest {

    @Test
    void widthsAreValidExactlyInsideTheRangesOfEachTarget() {
        for (BitWidths.Target t : BitWidths.Target.values()) {
            int max = t == BitWidths.Target.SIMULATION ? 16 : 8;
            assertEquals(max, t.maxBits());
            for (int b = -1; b <= 33; b++) {
                assertEquals(b >= 2 && b <= max, BitWidths.isWeightBits(b, t), t + " weights " + b);
                assertEquals(b >= 1 && b <= max, BitWidths.isInputBits(b, t), t + " inputs " + b);
            }
            assertEquals("2.." + max, BitWidths.weightRange(t));
            assertEquals("1.." + max, BitWidths.inputRange(t));
        }
        assertEquals(QuantSpec.MAX_BITS, BitWidths.MAX_BITS, "QuantSpec simulates the same widths");
        assertEquals(QuantSpec.MIN_BITS, BitWidths.MIN_INPUT_BITS);
    }

    @Test
    void checksReturnValidWidthsAndNameFieldRangeAndValueOtherwise() {
        assertEquals(16, BitWidths.checkWeightBits("w", 16, BitWidths.Target.SIMULATION));
        assertEquals(1, BitWidths.checkInputBits("x", 1, BitWidths.Target.INT8_RUNTIME));
        String w = assertThrows(IllegalArgumentException.class, () -> BitWidths.checkWeightBits("ptq.weightBits", 9,
                BitWidths.Target.INT8_RUNTIME)).getMessage();
        assertTrue(w.startsWith("ptq.weightBits must be 2..8") && w.contains("INT8 runtime") && w.contains("got 9")
                && w.contains("BINARY and TERNARY"), w);
        String one = assertThrows(IllegalArgumentException.class, () -> BitWidths.checkWeightBits("bits", 1, BitWidths.Target.SIMULATION))
                .getMessage();
        assertTrue(one.contains("2..16") && one.contains("the INT8 runtime takes at most 8") && one.contains("got 1"), one);
        String in = assertThrows(IllegalArgumentException.class, () -> BitWidths.checkInputBits("inputBits", 17, BitWidths.Target.SIMULATION))
                .getMessage();
        assertTrue(in.startsWith("inputBits must be 1..16") && in.contains("got 17"), in);
        String zero = assertThrows(IllegalArgumentException.class, () -> BitWidths.checkInputBits("a", 0, BitWidths.Target.INT8_RUNTIME))
                .getMessage();
        assertTrue(zero.contains("1..8") && zero.contains("got 0"), zero);
    }
}
