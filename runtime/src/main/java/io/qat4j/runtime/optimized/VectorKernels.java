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
 * length) and, where the outputs are a multiple of the lane count, {@code [k][out]} ({@link Prepared},
 * built once per model). Convolutions with {@code k <= CHUNK} run across output channels without an
 * im2col: each sample is copied once into a zero-padded float image of {@code x - z_x}, and a position's
 * patch value {@code i} is read at {@code base(position) + taps[i]}; four positions per pass for 16
 * channels, two for 32 and more. Dense layers run across outputs in L1-sized input blocks, two samples
 * per pass. Other shapes take four-row dot products over an im2col patch matrix.
 * Requantization is scalar, channel by channel with the channel's constants hoisted.
 */
public final class VectorKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final int LANES = F.length();
    /** Values per exact float partial sum: 512 x 255 x 127 = 16,581,120 < 2^24. */
    static final int CHUNK = 512;
    /** Inputs per pass of a dense layer: 32 x 128 outputs x 4 bytes = 16 KiB of weights, L1-resident. */
    static final int DENSE_BLOCK = 32;
    /** Tap offsets {@code 0 .. CHUNK-1}: contiguous inputs. */
    private static final int[] IDENTITY = java.util.stream.IntStream.range(0, CHUNK).toArray();

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
        int k = c.reduction();
        float[] rows = floatWeights(c.weights(), c.outChannels());
        return new Prepared(rows, k <= CHUNK && c.outChannels() % LANES == 0 ? transpose(rows, c.outChannels(), k, padded(k)) : null);
    }

    /** Prepares a Dense node: columns when the outputs are a multiple of the lane count. */
    public static Prepared prepare(Int8Graph.Dense d) {
        return prepareDense(d.weights(), d.outFeatures(), d.inFeatures());
    }

    /** Prepares a DenseLogits node as a Dense one. */
    public static Prepared prepare(Int8Graph.DenseLogits d) {
        return prepareDense(d.weights(), d.outFeatures(), d.inFeatures());
    }

    private static Prepared prepareDense(byte[] weights, int outF, int inF) {
        float[] rows = floatWeights(weights, outF);
        return new Prepared(rows, outF % LANES == 0 ? transpose(rows, outF, inF, padded(inF)) : null);
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

    public static byte[] conv2d(Int8Graph.Conv2D c, Prepared prepared, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                              FixedPoint.Rounding rounding) {
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int inC = shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        int outC = shape.outC();
        Int8Graph.Window win = c.window();
        int k = c.reduction();
        int kp = padded(k);
        int positions = shape.positions();
        int inSize = shape.inSize();
        int outSize = shape.outSize();
        Int8Graph.Requant r = c.requant();
        int zy = out.zeroPoint();
        float[] wt = prepared.columns();
        if (wt != null) {
            // no im2col: each position reads its patch from a zero-padded float copy of the input through a tap offset table
            int hp = (int) win.paddedH(inH, outH);   // within int: ModelCost counted this image against the limits
            int wp = (int) win.paddedW(inW, outW);
            float[] image = new float[inC * hp * wp];
            int[] taps = new int[k];
            for (int ic = 0, i = 0; ic < inC; ic++) {
                for (int ky = 0; ky < win.kernelH(); ky++) {
                    for (int kx = 0; kx < win.kernelW(); kx++, i++) {
                        taps[i] = ic * hp * wp + ky * win.dilationH() * wp + kx * win.dilationW();
                    }
                }
            }
            int[] bases = new int[positions];
            for (int oy = 0, p = 0; oy < outH; oy++) {
                for (int ox = 0; ox < outW; ox++, p++) {
                    bases[p] = oy * win.strideH() * wp + ox * win.strideW();
                }
            }
            float[] sums = new float[positions * outC];   // [position][channel], exact integers
            for (int b = 0; b < n; b++) {
                padImage(x, b * inSize, inC, inH, inW, win.padTop(), win.padLeft(), hp, wp, in.zeroPoint(), image);
                if (outC == 2 * LANES) {
                    // two channel vectors: four positions per pass keep eight accumulators busy
                    for (int p = 0; p < positions; p += 4) {
                        int p1 = Math.min(p + 1, positions - 1);   // a short last group repeats its last position
                        int p2 = Math.min(p + 2, positions - 1);
                        int p3 = Math.min(p + 3, positions - 1);
                        acrossTwoVectors(wt, k, image, taps, bases[p], bases[p1], bases[p2], bases[p3], sums, p * outC, p1 * outC,
                                p2 * outC, p3 * outC);
                    }
                } else {
                    for (int p = 0; p < positions; p += 2) {
                        int q = Math.min(p + 1, positions - 1);   // an odd last position is computed twice
                        acrossChannels(wt, 0, outC, k, image, taps, bases[p], bases[q], sums, p * outC, q * outC);
                    }
                }
                requantize(sums, positions, outC, c.bias(), r, zy, rounding, y, b * outSize);
            }
            return y;
        }
        float[] patches = new float[positions * kp];   // the padded tails [k, kp) are never written and stay 0
        int[] acc = new int[4];
        float[] wf = prepared.rows();
        for (int b = 0; b < n; b++) {
            im2col(x, b * inSize, shape, c, in.zeroPoint(), kp, patches);
            int oc = 0;
            for (; oc + 4 <= outC; oc += 4) {
                for (int p = 0; p < positions; p++) {
                    dot4(wf, oc * kp, kp, patches, p * kp, kp, acc);
                    for (int j = 0; j < 4; j++) {
                        y[b * outSize + (oc + j) * positions + p] = (byte) ReferenceKernels.requantize(acc[j] + c.bias()[oc + j],
                                r.multiplier()[oc + j], r.shift()[oc + j], zy, r.activationMin(), r.activationMax(), rounding);
                    }
                }
            }
            for (; oc < outC; oc++) {
                for (int p = 0; p < positions; p++) {
                    int a = dot(wf, oc * kp, patches, p * kp, kp) + c.bias()[oc];
                    y[b * outSize + oc * positions + p] = (byte) ReferenceKernels.requantize(a, r.multiplier()[oc], r.shift()[oc], zy,
                            r.activationMin(), r.activationMax(), rounding);
                }
            }
        }
        return y;
    }

    /**
     * {@code image[ic][hp][wp]} = {@code x - z_x} shifted by the padding, 0 (the real value of padding) elsewhere.
     */
    static void padImage(byte[] x, int offset, int inC, int inH, int inW, int padTop, int padLeft, int hp, int wp, int zx,
                         float[] image) {
        java.util.Arrays.fill(image, 0f);
        for (int ic = 0; ic < inC; ic++) {
            for (int iy = 0; iy < inH; iy++) {
                int src = offset + (ic * inH + iy) * inW;
                int dst = (ic * hp + iy + padTop) * wp + padLeft;
                for (int ix = 0; ix < inW; ix++) {
                    image[dst + ix] = x[src + ix] - zx;
                }
            }
        }
    }

    /**
     * Channel-major requantization of {@code sums[position][channel]} (exact integers) plus the bias into
     * {@code y[yOffset + channel * positions + position]}, the channel's multiplier and shift hoisted;
     * the same arithmetic as {@link ReferenceKernels#requantize}.
     */
    static void requantize(float[] sums, int positions, int channels, int[] bias, Int8Graph.Requant r, int zy, FixedPoint.Rounding rounding,
                           byte[] y, int yOffset) {
        int min = r.activationMin();
        int max = r.activationMax();
        for (int oc = 0; oc < channels; oc++) {
            int m = r.multiplier()[oc];
            int shift = r.shift()[oc];
            int bo = bias[oc];
            int yo = yOffset + oc * positions;
            if (rounding == FixedPoint.Rounding.SINGLE && shift >= FixedPoint.MIN_SHIFT && shift <= FixedPoint.MAX_SHIFT) {
                int total = 31 - shift;
                long half = 1L << (total - 1);
                for (int p = 0; p < positions; p++) {
                    long v = ((long) ((int) sums[p * channels + oc] + bo) * m + half) >> total;
                    int q = zy + (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v));
                    y[yo + p] = (byte) Math.max(min, Math.min(max, q));
                }
            } else {
                for (int p = 0; p < positions; p++) {
                    y[yo + p] = (byte) ReferenceKernels.requantize((int) sums[p * channels + oc] + bo, m, shift, zy, min, max, rounding);
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
     * horizontal sums: for each of the {@code k <= CHUNK} patch values {@code src[base + taps[i]]},
     * broadcast it and FMA it into the channels' accumulators (exact: at most {@code CHUNK} products
     * per lane), four channel vectors per pass so that each weight load serves both positions. The
     * sums land in {@code sums[sa + channel]} and {@code sums[sb + channel]}.
     */
    static void acrossChannels(float[] wt, int wo, int out, int k, float[] src, int[] taps, int pa, int pb, float[] sums, int sa, int sb) {
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
                int t = taps[i];
                FloatVector xa = FloatVector.broadcast(F, src[pa + t]);
                FloatVector xb = FloatVector.broadcast(F, src[pb + t]);
                a0 = w0.fma(xa, a0);
                a1 = w1.fma(xa, a1);
                a2 = w2.fma(xa, a2);
                a3 = w3.fma(xa, a3);
                b0 = w0.fma(xb, b0);
                b1 = w1.fma(xb, b1);
                b2 = w2.fma(xb, b2);
                b3 = w3.fma(xb, b3);
            }
            a0.intoArray(sums, sa + o);
            a1.intoArray(sums, sa + o + LANES);
            a2.intoArray(sums, sa + o + 2 * LANES);
            a3.intoArray(sums, sa + o + 3 * LANES);
            b0.intoArray(sums, sb + o);
            b1.intoArray(sums, sb + o + LANES);
            b2.intoArray(sums, sb + o + 2 * LANES);
            b3.intoArray(sums, sb + o + 3 * LANES);
        }
        for (; o < out; o += LANES) {
            FloatVector a = FloatVector.zero(F);
            FloatVector b = FloatVector.zero(F);
            for (int i = 0; i < k; i++) {
                FloatVector w = FloatVector.fromArray(F, wt, wo + i * out + o);
                int t = taps[i];
                a = w.fma(FloatVector.broadcast(F, src[pa + t]), a);
                b = w.fma(FloatVector.broadcast(F, src[pb + t]), b);
            }
            a.intoArray(sums, sa + o);
            b.intoArray(sums, sb + o);
        }
    }

    /**
     * Two channel vectors ({@code 2 * LANES} output channels) of four positions at once, exact as in
     * {@link #acrossChannels}; position j's sums land in {@code sums[sj ..]}.
     */
    static void acrossTwoVectors(float[] wt, int k, float[] src, int[] taps, int p0, int p1, int p2, int p3, float[] sums, int s0, int s1,
                                 int s2, int s3) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector d0 = FloatVector.zero(F);
        FloatVector d1 = FloatVector.zero(F);
        for (int i = 0; i < k; i++) {
            FloatVector w0 = FloatVector.fromArray(F, wt, i * 2 * LANES);
            FloatVector w1 = FloatVector.fromArray(F, wt, i * 2 * LANES + LANES);
            int t = taps[i];
            FloatVector xa = FloatVector.broadcast(F, src[p0 + t]);
            FloatVector xb = FloatVector.broadcast(F, src[p1 + t]);
            FloatVector xc = FloatVector.broadcast(F, src[p2 + t]);
            FloatVector xd = FloatVector.broadcast(F, src[p3 + t]);
            a0 = w0.fma(xa, a0);
            a1 = w1.fma(xa, a1);
            b0 = w0.fma(xb, b0);
            b1 = w1.fma(xb, b1);
            c0 = w0.fma(xc, c0);
            c1 = w1.fma(xc, c1);
            d0 = w0.fma(xd, d0);
            d1 = w1.fma(xd, d1);
        }
        a0.intoArray(sums, s0);
        a1.intoArray(sums, s0 + LANES);
        b0.intoArray(sums, s1);
        b1.intoArray(sums, s1 + LANES);
        c0.intoArray(sums, s2);
        c1.intoArray(sums, s2 + LANES);
        d0.intoArray(sums, s3);
        d1.intoArray(sums, s3 + LANES);
    }

    /**
     * Patches {@code [positions][kp]} of {@code x - z_x}, written directly as floats: 0 for positions
     * outside the input (padding, whose real value is 0) and for the padded tail {@code [k, kp)}.
     */
    static void im2col(byte[] x, int offset, Int8Graph.MapShape shape, Int8Graph.Conv2D c, int zx, int kp, float[] patches) {
        int inC = shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        Int8Graph.Window w = c.window();
        int kh = w.kernelH();
        int kw = w.kernelW();
        int sh = w.strideH();
        int sw = w.strideW();
        int dh = w.dilationH();
        int dw = w.dilationW();
        for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++) {
                int col = (oy * outW + ox) * kp;
                int x0 = ox * sw - w.padLeft();
                for (int ic = 0; ic < inC; ic++) {
                    int plane = offset + ic * inH * inW;
                    for (int ky = 0; ky < kh; ky++, col += kw) {
                        int iy = oy * sh - w.padTop() + ky * dh;
                        if (iy < 0 || iy >= inH) {
                            java.util.Arrays.fill(patches, col, col + kw, 0f);
                            continue;
                        }
                        int row = plane + iy * inW;
                        for (int kx = 0; kx < kw; kx++) {
                            int ix = x0 + kx * dw;
                            patches[col + kx] = ix >= 0 && ix < inW ? x[row + ix] - zx : 0f;
                        }
                    }
                }
            }
        }
    }

    public static byte[] dense(Int8Graph.Dense d, Prepared prepared, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                             FixedPoint.Rounding rounding) {
        int outF = d.outFeatures();
        int[] acc = denseAccumulators(prepared, d.inFeatures(), outF, d.bias(), in.zeroPoint(), x, n);
        Int8Graph.Requant r = d.requant();
        int zy = out.zeroPoint();
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < outF; o++) {
                y[b * outF + o] = (byte) ReferenceKernels.requantize(acc[b * outF + o], r.multiplier()[o], r.shift()[o], zy,
                        r.activationMin(), r.activationMax(), rounding);
            }
        }
        return y;
    }

    /**
     * The int32 accumulators {@code bias[o] + sum (x - z_x) w[o][i]} of a Dense or DenseLogits node, {@code [n][outF]},
     * exact (see the class comment).
     */
    public static int[] denseAccumulators(Prepared prepared, int inF, int outF, int[] bias, int zx, byte[] x, int n) {
        int kp = padded(inF);
        float[] xf = new float[n * kp];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < inF; i++) {
                xf[b * kp + i] = x[b * inF + i] - zx;
            }
        }
        float[] wf = prepared.rows();
        float[] wt = prepared.columns();
        if (wt != null) {
            // across outputs, two samples per pass; the inputs in blocks of DENSE_BLOCK (exact, < CHUNK) whose weights
            // stay in L1 while every sample of the batch passes over them
            float[] sums = new float[2 * outF];
            int[] totals = new int[n * outF];
            for (int start = 0; start < inF; start += DENSE_BLOCK) {
                int len = Math.min(DENSE_BLOCK, inF - start);
                for (int b = 0; b < n; b += 2) {
                    int b2 = Math.min(b + 1, n - 1);   // an odd last sample is computed twice and counted once
                    acrossChannels(wt, start * outF, outF, len, xf, IDENTITY, b * kp + start, b2 * kp + start, sums, 0, outF);
                    for (int o = 0; o < outF; o++) {
                        totals[b * outF + o] += (int) sums[o];
                    }
                    if (b2 != b) {
                        for (int o = 0; o < outF; o++) {
                            totals[b2 * outF + o] += (int) sums[outF + o];
                        }
                    }
                }
            }
            for (int b = 0; b < n; b++) {
                for (int o = 0; o < outF; o++) {
                    totals[b * outF + o] += bias[o];
                }
            }
            return totals;
        }
        int[] totals = new int[n * outF];
        int[] acc = new int[4];
        for (int o = 0; o < outF; o++) {
            int b = 0;
            for (; b + 4 <= n; b += 4) {
                dot4(xf, b * kp, kp, wf, o * kp, kp, acc);   // four samples against weight row o
                for (int j = 0; j < 4; j++) {
                    totals[(b + j) * outF + o] = acc[j] + bias[o];
                }
            }
            for (; b < n; b++) {
                totals[b * outF + o] = dot(xf, b * kp, wf, o * kp, kp) + bias[o];
            }
        }
        return totals;
    }
}
