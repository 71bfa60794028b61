package io.qat4j.runtime.optimized;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.reference.ReferenceKernels;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Conv2D and Dense on the incubating Vector API ({@code jdk.incubator.vector}), exact.
 *
 * <p>The int8 products are computed as float fused multiply-adds of small integers: inputs enter as
 * {@code x - z_x} in [-255, 255] and weights as codes in [-127, 127], so a product is at most 32,385
 * in magnitude and a sum of {@link #CHUNK} of them stays below 2^24, where every float is an exact
 * integer and every FMA is exact. Reductions run in chunks of {@code CHUNK} values whose (exact)
 * float sums are added in int32, so the accumulator equals the integer one bit for bit; the
 * requantization is the reference one. AVX2 has no int8 multiply-add the JDK 17 Vector API can
 * reach, while 8-lane float FMAs are intrinsified, which is why floats carry the integer math.
 *
 * <p>Layouts: weights {@code [out][kPadded]} as floats (padded with zeros to a multiple of the vector
 * length, built once per node by {@link #floatWeights}); conv inputs go through an im2col into
 * {@code [positions][kPadded]}; dense runs four samples against one weight row at a time.
 */
public final class VectorKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final int LANES = F.length();
    /** Values per exact float partial sum: 512 x 255 x 127 = 16,581,120 < 2^24. */
    static final int CHUNK = 512;

    private VectorKernels() {
    }

    /** Padded length of a reduction of {@code k} values. */
    static int padded(int k) {
        return (k + LANES - 1) / LANES * LANES;
    }

    /**
     * A weighted node's codes as floats, prepared once per model: {@code rows} {@code [out][padded(k)]}
     * for four-row dot products, {@code columns} {@code [k][out]} for the across-channels path (or null
     * where that path does not apply).
     */
    public record Prepared(float[] rows, float[] columns) {
    }

    /** Prepares a Conv2D node: columns when {@code k <= CHUNK} and the channels are a multiple of the lane count. */
    public static Prepared prepare(Int8Graph.Conv2D c) {
        int k = c.inChannels() * c.kernelH() * c.kernelW();
        float[] rows = floatWeights(c.weights(), c.outChannels());
        return new Prepared(rows, k <= CHUNK && c.outChannels() % LANES == 0 ? transpose(rows, c.outChannels(), k, padded(k)) : null);
    }

    /** Prepares a Dense node: columns when the outputs are a multiple of the lane count. */
    public static Prepared prepare(Int8Graph.Dense d) {
        float[] rows = floatWeights(d.weights(), d.outFeatures());
        return new Prepared(rows, d.outFeatures() % LANES == 0 ? transpose(rows, d.outFeatures(), d.inFeatures(), padded(d.inFeatures()))
                : null);
    }

    /** Weight codes {@code [out][k]} as floats {@code [out][padded(k)]}, zero-padded. */
    public static float[] floatWeights(byte[] w, int out) {
        int k = w.length / out;
        int kp = padded(k);
        float[] f = new float[out * kp];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < k; i++) {
                f[o * kp + i] = w[o * k + i];
            }
        }
        return f;
    }

    /**
     * Four rows {@code a[ai + r*stride ..]} dotted with {@code b[bi ..]} over {@code kp} (a multiple of the
     * lane count) values, exact, into {@code out[0..3]}.
     */
    static void dot4(float[] a, int ai, int stride, float[] b, int bi, int kp, int[] out) {
        int s0 = 0;
        int s1 = 0;
        int s2 = 0;
        int s3 = 0;
        for (int start = 0; start < kp; start += CHUNK) {
            int end = Math.min(kp, start + CHUNK);
            FloatVector c0 = FloatVector.zero(F);
            FloatVector c1 = FloatVector.zero(F);
            FloatVector c2 = FloatVector.zero(F);
            FloatVector c3 = FloatVector.zero(F);
            for (int i = start; i < end; i += LANES) {
                FloatVector v = FloatVector.fromArray(F, b, bi + i);
                c0 = FloatVector.fromArray(F, a, ai + i).fma(v, c0);
                c1 = FloatVector.fromArray(F, a, ai + stride + i).fma(v, c1);
                c2 = FloatVector.fromArray(F, a, ai + 2 * stride + i).fma(v, c2);
                c3 = FloatVector.fromArray(F, a, ai + 3 * stride + i).fma(v, c3);
            }
            s0 += (int) c0.reduceLanes(VectorOperators.ADD);
            s1 += (int) c1.reduceLanes(VectorOperators.ADD);
            s2 += (int) c2.reduceLanes(VectorOperators.ADD);
            s3 += (int) c3.reduceLanes(VectorOperators.ADD);
        }
        out[0] = s0;
        out[1] = s1;
        out[2] = s2;
        out[3] = s3;
    }

    /** One row dotted with {@code b}, exact. */
    static int dot(float[] a, int ai, float[] b, int bi, int kp) {
        int s = 0;
        for (int start = 0; start < kp; start += CHUNK) {
            int end = Math.min(kp, start + CHUNK);
            FloatVector c = FloatVector.zero(F);
            for (int i = start; i < end; i += LANES) {
                c = FloatVector.fromArray(F, a, ai + i).fma(FloatVector.fromArray(F, b, bi + i), c);
            }
            s += (int) c.reduceLanes(VectorOperators.ADD);
        }
        return s;
    }

    public static void conv2d(Int8Graph.Conv2D c, Prepared prepared, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                              FixedPoint.Rounding rounding) {
        int inC = c.inChannels();
        int inH = in.dims()[1];
        int inW = in.dims()[2];
        int outH = out.dims()[1];
        int outW = out.dims()[2];
        int kp = padded(inC * c.kernelH() * c.kernelW());
        int positions = outH * outW;
        int inSize = inC * inH * inW;
        int outSize = c.outChannels() * positions;
        float[] patches = new float[positions * kp];
        byte[] bytes = new byte[positions * inC * c.kernelH() * c.kernelW()];
        int[] acc = new int[4];
        Int8Graph.Requant r = c.requant();
        int zy = out.zeroPoint();
        int k = inC * c.kernelH() * c.kernelW();
        float[] wf = prepared.rows();
        float[] wt = prepared.columns();
        boolean acrossChannels = wt != null;
        float[] sumsA = acrossChannels ? new float[c.outChannels()] : null;
        float[] sumsB = acrossChannels ? new float[c.outChannels()] : null;
        for (int b = 0; b < n; b++) {
            im2col(x, b * inSize, inC, inH, inW, c, outH, outW, in.zeroPoint(), kp, bytes, patches);
            if (acrossChannels) {
                for (int p = 0; p < positions; p += 2) {
                    int q = Math.min(p + 1, positions - 1);   // an odd last position is computed twice
                    acrossChannels(wt, 0, c.outChannels(), k, patches, p * kp, q * kp, sumsA, sumsB);
                    for (int oc = 0; oc < c.outChannels(); oc++) {
                        y[b * outSize + oc * positions + p] = (byte) ReferenceKernels.requantize((int) sumsA[oc] + c.bias()[oc],
                                r.multiplier()[oc], r.shift()[oc], zy, r.activationMin(), r.activationMax(), rounding);
                        y[b * outSize + oc * positions + q] = (byte) ReferenceKernels.requantize((int) sumsB[oc] + c.bias()[oc],
                                r.multiplier()[oc], r.shift()[oc], zy, r.activationMin(), r.activationMax(), rounding);
                    }
                }
                continue;
            }
            int oc = 0;
            for (; oc + 4 <= c.outChannels(); oc += 4) {
                for (int p = 0; p < positions; p++) {
                    dot4(wf, oc * kp, kp, patches, p * kp, kp, acc);
                    for (int j = 0; j < 4; j++) {
                        y[b * outSize + (oc + j) * positions + p] = (byte) ReferenceKernels.requantize(acc[j] + c.bias()[oc + j],
                                r.multiplier()[oc + j], r.shift()[oc + j], zy, r.activationMin(), r.activationMax(), rounding);
                    }
                }
            }
            for (; oc < c.outChannels(); oc++) {
                for (int p = 0; p < positions; p++) {
                    int a = dot(wf, oc * kp, patches, p * kp, kp) + c.bias()[oc];
                    y[b * outSize + oc * positions + p] = (byte) ReferenceKernels.requantize(a, r.multiplier()[oc], r.shift()[oc], zy,
                            r.activationMin(), r.activationMax(), rounding);
                }
            }
        }
    }

    /** {@code [out][kp]} to {@code [k][out]}. */
    static float[] transpose(float[] wf, int out, int k, int kp) {
        float[] t = new float[k * out];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < k; i++) {
                t[i * out + o] = wf[o * kp + i];
            }
        }
        return t;
    }

    /**
     * All {@code out} channels (a multiple of the lane count) of two positions at once, without
     * horizontal sums: for each of the {@code k <= CHUNK} patch values, broadcast it and FMA it
     * into the channels' accumulators (exact: at most {@code CHUNK} products per lane), four
     * channel vectors per pass so that each weight load serves both positions.
     */
    static void acrossChannels(float[] wt, int wo, int out, int k, float[] patches, int pa, int pb, float[] sumsA, float[] sumsB) {
        int o = 0;
        for (; o + 4 * LANES <= out; o += 4 * LANES) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            FloatVector b0 = FloatVector.zero(F);
            FloatVector b1 = FloatVector.zero(F);
            FloatVector b2 = FloatVector.zero(F);
            FloatVector b3 = FloatVector.zero(F);
            for (int i = 0; i < k; i++) {
                int wi = wo + i * out + o;
                FloatVector w0 = FloatVector.fromArray(F, wt, wi);
                FloatVector w1 = FloatVector.fromArray(F, wt, wi + LANES);
                FloatVector w2 = FloatVector.fromArray(F, wt, wi + 2 * LANES);
                FloatVector w3 = FloatVector.fromArray(F, wt, wi + 3 * LANES);
                FloatVector xa = FloatVector.broadcast(F, patches[pa + i]);
                FloatVector xb = FloatVector.broadcast(F, patches[pb + i]);
                a0 = w0.fma(xa, a0);
                a1 = w1.fma(xa, a1);
                a2 = w2.fma(xa, a2);
                a3 = w3.fma(xa, a3);
                b0 = w0.fma(xb, b0);
                b1 = w1.fma(xb, b1);
                b2 = w2.fma(xb, b2);
                b3 = w3.fma(xb, b3);
            }
            a0.intoArray(sumsA, o);
            a1.intoArray(sumsA, o + LANES);
            a2.intoArray(sumsA, o + 2 * LANES);
            a3.intoArray(sumsA, o + 3 * LANES);
            b0.intoArray(sumsB, o);
            b1.intoArray(sumsB, o + LANES);
            b2.intoArray(sumsB, o + 2 * LANES);
            b3.intoArray(sumsB, o + 3 * LANES);
        }
        for (; o < out; o += LANES) {
            FloatVector a = FloatVector.zero(F);
            FloatVector b = FloatVector.zero(F);
            for (int i = 0; i < k; i++) {
                FloatVector w = FloatVector.fromArray(F, wt, wo + i * out + o);
                a = w.fma(FloatVector.broadcast(F, patches[pa + i]), a);
                b = w.fma(FloatVector.broadcast(F, patches[pb + i]), b);
            }
            a.intoArray(sumsA, o);
            b.intoArray(sumsB, o);
        }
    }

    /**
     * Patches {@code [positions][kp]} of {@code x - z_x} (0 for padding and the padded tail): the
     * int8 im2col of {@link OptimizedKernels} into {@code bytes}, then widened.
     */
    static void im2col(byte[] x, int offset, int inC, int inH, int inW, Int8Graph.Conv2D c, int outH, int outW, int zx, int kp,
                       byte[] bytes, float[] patches) {
        int k = inC * c.kernelH() * c.kernelW();
        OptimizedKernels.im2col(x, offset, inC, inH, inW, c, outH, outW, (byte) zx, bytes);
        for (int p = 0; p < outH * outW; p++) {
            for (int i = 0; i < k; i++) {
                patches[p * kp + i] = bytes[p * k + i] - zx;   // the tail [k, kp) stays 0
            }
        }
    }

    public static void dense(Int8Graph.Dense d, Prepared prepared, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                             FixedPoint.Rounding rounding) {
        int inF = d.inFeatures();
        int outF = d.outFeatures();
        int kp = padded(inF);
        int zx = in.zeroPoint();
        float[] xf = new float[n * kp];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < inF; i++) {
                xf[b * kp + i] = x[b * inF + i] - zx;
            }
        }
        Int8Graph.Requant r = d.requant();
        int zy = out.zeroPoint();
        float[] wf = prepared.rows();
        float[] wt = prepared.columns();
        if (wt != null) {
            // across outputs, two samples per pass, inputs in exact chunks of CHUNK
            float[] sumsA = new float[outF];
            float[] sumsB = new float[outF];
            int[] totalA = new int[outF];
            int[] totalB = new int[outF];
            for (int b = 0; b < n; b += 2) {
                int b2 = Math.min(b + 1, n - 1);   // an odd last sample is computed twice
                java.util.Arrays.fill(totalA, 0);
                java.util.Arrays.fill(totalB, 0);
                for (int start = 0; start < inF; start += CHUNK) {
                    int len = Math.min(CHUNK, inF - start);
                    acrossChannels(wt, start * outF, outF, len, xf, b * kp + start, b2 * kp + start, sumsA, sumsB);
                    for (int o = 0; o < outF; o++) {
                        totalA[o] += (int) sumsA[o];
                        totalB[o] += (int) sumsB[o];
                    }
                }
                for (int o = 0; o < outF; o++) {
                    y[b * outF + o] = (byte) ReferenceKernels.requantize(totalA[o] + d.bias()[o], r.multiplier()[o], r.shift()[o], zy,
                            r.activationMin(), r.activationMax(), rounding);
                    y[b2 * outF + o] = (byte) ReferenceKernels.requantize(totalB[o] + d.bias()[o], r.multiplier()[o], r.shift()[o], zy,
                            r.activationMin(), r.activationMax(), rounding);
                }
            }
            return;
        }
        int[] acc = new int[4];
        for (int o = 0; o < outF; o++) {
            int b = 0;
            for (; b + 4 <= n; b += 4) {
                dot4(xf, b * kp, kp, wf, o * kp, kp, acc);   // four samples against weight row o
                for (int j = 0; j < 4; j++) {
                    y[(b + j) * outF + o] = (byte) ReferenceKernels.requantize(acc[j] + d.bias()[o], r.multiplier()[o], r.shift()[o], zy,
                            r.activationMin(), r.activationMax(), rounding);
                }
            }
            for (; b < n; b++) {
                int a = dot(xf, b * kp, wf, o * kp, kp) + d.bias()[o];
                y[b * outF + o] = (byte) ReferenceKernels.requantize(a, r.multiplier()[o], r.shift()[o], zy, r.activationMin(),
                        r.activationMax(), rounding);
            }
        }
    }
}
