package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.qat4j.ste.BitWidths;

/** QuantSettings takes exactly the widths of the one rule ({@link BitWidths}, simulated: weights 2..16, inputs 1..16). */
class QuantSettingsBitWidthsTest {

    @Test
    void uniformWeightAndInputWidthsFollowTheSimulatedRule() {
        for (int b = 0; b <= 17; b++) {
            for (WeightQuantMode w : new WeightQuantMode[] {WeightQuantMode.FIXED, WeightQuantMode.LSQ, WeightQuantMode.LSQ_PLUS}) {
                QuantSettings s = QuantSettings.of(w, b, InputQuantMode.NONE, 8);
                if (BitWidths.isWeightBits(b, BitWidths.Target.SIMULATION)) {
                    assertDoesNotThrow(() -> s.validate("l"), w + " " + b);
                } else {
                    String m = assertThrows(IllegalArgumentException.class, () -> s.validate("l"), w + " " + b).getMessage();
                    assertTrue(m.contains("layer 'l'") && m.contains("weightBits") && m.contains("2..16") && m.contains("got " + b), m);
                }
            }
            for (InputQuantMode i : new InputQuantMode[] {InputQuantMode.FIXED, InputQuantMode.LSQ, InputQuantMode.PACT}) {
                QuantSettings s = QuantSettings.of(WeightQuantMode.NONE, 8, i, b);
                if (BitWidths.isInputBits(b, BitWidths.Target.SIMULATION)) {
                    assertDoesNotThrow(() -> s.validate("l"), i + " " + b);
                } else {
                    String m = assertThrows(IllegalArgumentException.class, () -> s.validate("l"), i + " " + b).getMessage();
                    assertTrue(m.contains("layer 'l'") && m.contains("inputBits") && m.contains("1..16") && m.contains("got " + b), m);
                }
            }
        }
        // widths a mode does not use are not checked: binary weights, float inputs
        assertDoesNotThrow(() -> QuantSettings.of(WeightQuantMode.BINARY, 1, InputQuantMode.NONE, 0).validate("l"));
    }
}
