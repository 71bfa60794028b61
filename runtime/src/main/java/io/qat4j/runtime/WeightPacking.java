package io.qat4j.runtime;

/**
 * Packs integer weight codes at their bit width: {@code bits} two's-complement bits per code,
 * least significant bits first, codes in order (8 bits: one byte each; 4 bits: two per byte, the
 * first in the low nibble; 2 bits: four per byte). One bit per code stores binary weights, bit 1 for
 * {@code +1} and 0 for {@code -1}. Ternary codes {-1, 0, 1} use 2 bits.
 */
public final class WeightPacking {

    private WeightPacking() {
    }

    public static int packedBytes(int count, int bits) {
        return (int) (((long) count * bits + 7) / 8);
    }

    public static byte[] pack(byte[] codes, int bits) {
        byte[] out = new byte[packedBytes(codes.length, bits)];
        int mask = (1 << bits) - 1;
        long bit = 0;
        for (byte code : codes) {
            int v = bits == 1 ? (code > 0 ? 1 : 0) : (code & mask);
            for (int k = 0; k < bits; k++, bit++) {
                if ((v >> k & 1) != 0) {
                    out[(int) (bit >> 3)] |= (byte) (1 << (bit & 7));
                }
            }
        }
        return out;
    }

    public static byte[] unpack(byte[] packed, int count, int bits) {
        byte[] codes = new byte[count];
        long bit = 0;
        for (int i = 0; i < count; i++) {
            int v = 0;
            for (int k = 0; k < bits; k++, bit++) {
                v |= ((packed[(int) (bit >> 3)] >> (bit & 7)) & 1) << k;
            }
            if (bits == 1) {
                codes[i] = (byte) (v == 1 ? 1 : -1);
            } else {
                codes[i] = (byte) (v << (32 - bits) >> (32 - bits));   // sign-extend
            }
        }
        return codes;
    }
}
