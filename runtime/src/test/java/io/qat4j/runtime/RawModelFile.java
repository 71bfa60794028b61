package io.qat4j.runtime;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32;

/**
 * Writes model files byte by byte, bypassing {@link ModelFile#toBytes}'s validation, for the tests of
 * files a hostile or buggy writer could produce (each with a correct checksum, so that the reader's
 * own checks are what rejects them). Little-endian, as FORMAT.md.
 */
final class RawModelFile {

    private final ByteArrayOutputStream body = new ByteArrayOutputStream();

    RawModelFile u8(int v) {
        body.write(v);
        return this;
    }

    RawModelFile i32(int... values) {
        for (int v : values) {
            body.write(v);
            body.write(v >>> 8);
            body.write(v >>> 16);
            body.write(v >>> 24);
        }
        return this;
    }

    RawModelFile f64(double v) {
        long bits = Double.doubleToRawLongBits(v);
        return i32((int) bits, (int) (bits >>> 32));
    }

    RawModelFile bytes(byte[] b) {
        body.writeBytes(b);
        return this;
    }

    /** One tensor table entry. */
    RawModelFile tensor(double scale, int zeroPoint, int... dims) {
        u8(dims.length).i32(dims);
        return f64(scale).i32(zeroPoint);
    }

    /** {@code n} channels of requantization with multiplier 2^30, shift 0, full int8 range. */
    RawModelFile requant(int n) {
        for (int c = 0; c < n; c++) {
            i32(1 << 30);
        }
        for (int c = 0; c < n; c++) {
            i32(0);
        }
        return i32(-128, 127);
    }

    /** A Dense node with every weight +1 at {@code bits} bits, bias 0. */
    RawModelFile dense(int input, int output, int outF, int inF, int bits) {
        u8(NodeKind.DENSE.code()).i32(input, output, outF, inF).u8(bits);
        byte[] codes = new byte[outF * inF];
        java.util.Arrays.fill(codes, (byte) 1);
        bytes(WeightPacking.pack(codes, bits));
        i32(new int[outF]);
        return requant(outF);
    }

    byte[] body() {
        return body.toByteArray();
    }

    /** The whole file: prelude of {@code version} with {@code flags} and the checksum that version defines. */
    byte[] file(int version, int flags) {
        byte[] b = body();
        ByteBuffer out = ByteBuffer.allocate(ModelFile.PRELUDE + b.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(ModelFile.MAGIC).putShort((short) version).putShort((short) flags).putInt(b.length);
        CRC32 crc = new CRC32();
        if (version >= 2) {
            crc.update(out.array(), 0, 12);
        }
        crc.update(b);
        return out.putInt((int) crc.getValue()).put(b).array();
    }
}
