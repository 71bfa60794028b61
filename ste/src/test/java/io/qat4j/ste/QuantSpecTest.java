package io.qat4j.ste;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.qat4j.ste.reference.QuantReference;

class QuantSpecTest {

    @Test
    void integerRangesFollowTheSignedUnsignedAndNarrowConventions() {
        assertEquals(-128, QuantSpec.builder().bits(8).build().qmin());
        assertEquals(127, QuantSpec.builder().bits(8).build().qmax());
        assertEquals(-127, QuantSpec.weightsPerTensor(8).qmin());
        assertEquals(0, QuantSpec.activations(8, false).qmin());
        assertEquals(255, QuantSpec.activations(8, false).qmax());
        assertEquals(-7, QuantSpec.weightsPerChannel(4, 0).qmin());
        assertEquals(-1, QuantSpec.builder().bits(2).narrowRange(true).build().qmin());
        assertEquals(65535, QuantSpec.activations(16, false).qmax());
        assertEquals(-32768, QuantSpec.activations(16, true).qmin());
        for (int bits = 1; bits <= 16; bits++) {
            for (boolean signed : new boolean[] {true, false}) {
                QuantSpec s = QuantSpec.builder().bits(bits).signed(signed).build();
                assertEquals(QuantReference.qmin(s), s.qmin());
                assertEquals(QuantReference.qmax(s), s.qmax());
                assertEquals(1 << bits, s.levels());
            }
        }
    }

    private static void assertRejected(Runnable build, String hint) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::run);
        assertTrue(e.getMessage().contains(hint), "message '" + e.getMessage() + "' should mention '" + hint + "'");
    }

    @Test
    void invalidSpecsAreRejectedWithAMessageThatSaysWhatToChange() {
        assertRejected(() -> QuantSpec.builder().bits(0).build(), "1..16");
        assertRejected(() -> QuantSpec.builder().bits(17).build(), "1..16");
        assertRejected(() -> QuantSpec.builder().signed(false).narrowRange(true).build(), "signed=true or narrowRange=false");
        assertRejected(() -> QuantSpec.builder().bits(1).narrowRange(true).build(), "BinaryQuantizer");
        assertRejected(() -> QuantSpec.builder().perChannel(-1).build(), "axis >= 0");
        assertRejected(() -> QuantSpec.builder().perGroup(0, 0).build(), "groupSize >= 1");
        assertRejected(() -> QuantSpec.builder().rounding(null).build(), "HALF_EVEN");
        assertRejected(() -> new QuantSpec(8, true, QuantSpec.Scheme.SYMMETRIC, false, Granularity.PER_TENSOR, 2, 0,
                Rounding.HALF_EVEN, 0), "PER_CHANNEL or PER_GROUP");
    }

    @Test
    void specsAreValuesAndToBuilderRoundTrips() {
        QuantSpec a = QuantSpec.builder().bits(3).signed(false).scheme(QuantSpec.Scheme.AFFINE).perGroup(1, 4)
                .rounding(Rounding.STOCHASTIC).seed(9).build();
        assertEquals(a, a.toBuilder().build());
        assertEquals(a.hashCode(), a.toBuilder().build().hashCode());
    }
}
