package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class WeightPackingTest {

    @Test
    void everyBitWidthRoundTripsOddLengths() {
        SplittableRandom r = new SplittableRandom(1);
        for (int bits = 1; bits <= 8; bits++) {
            for (int n : new int[] {1, 7, 8, 9, 33, 1001}) {
                byte[] codes = RandomGraphs.codes(r, n, bits);
                byte[] packed = WeightPacking.pack(codes, bits);
                assertEquals((n * bits + 7) / 8, packed.length);
                assertArrayEquals(codes, WeightPacking.unpack(packed, n, bits), "bits " + bits + " n " + n);
            }
        }
    }

    @Test
    void layoutIsLsbFirstTwosComplement() {
        assertArrayEquals(new byte[] {(byte) 0xF1}, WeightPacking.pack(new byte[] {1, -1}, 4));        // low nibble first
        assertArrayEquals(new byte[] {(byte) 0b11_01_00_11}, WeightPacking.pack(new byte[] {-1, 0, 1, -1}, 2));
        assertArrayEquals(new byte[] {0b0000_0101}, WeightPacking.pack(new byte[] {1, -1, 1}, 1));
        assertArrayEquals(new byte[] {-7, 7}, WeightPacking.unpack(WeightPacking.pack(new byte[] {-7, 7}, 4), 2, 4));
    }
}
