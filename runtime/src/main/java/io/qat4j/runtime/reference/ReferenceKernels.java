package io.qat4j.runtime.reference;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;

/**
 * Reference int8 kernels over NCHW batches ({@code byte[]} holding {@code n} samples back to back).
 *
 * <p>Convolution and dense: {@code acc = bias[c] + sum (x - z_x) w} in int32 (weights have zero
 * point 0), then {@link #requantize}. Max pooling compares int8 values directly (quantization is
 * monotonic); padded positions never win. Average pooling divides the int32 window sum by the
 * number of valid (unpadded) elements, rounding half away from zero, as TFLite does.
 */
public final class ReferenceKernels {

    private ReferenceKernels() {
    }

    /**
     * {@code clamp(zeroPoint + MBQM(acc, multiplier, shift), min, max)}: the output stage of every
     * weighted kernel; a fused ReLU/ReLU6 is a tighter {@code [min, max]}.
     */
    public static int requantize(int acc, int multiplier, int shift, int outputZeroPoint, int min, int max) {
        return requantize(acc, multiplier, shift, outputZeroPoint, min, max, FixedPoint.Rounding.DOUBLE);
    }

    /** {@link #requantize(int, int, int, int, int, int)} with the graph's rounding. */
    public static int requantize(int acc, int multiplier, int shift, int outputZeroPoint, int min, int max, FixedPoint.Rounding rounding) {
        int v = outputZeroPoint + FixedPoint.multiplyByQuantizedMultiplier(acc, multiplier, shift, rounding);
        return Math.max(min, Math.min(max, v));
    }

    public static void conv2d(Int8Graph.Conv2D c, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                              FixedPoint.Rounding rounding) {
        int inC = c.inChannels();
        int inH = in.dims()[1];
        int inW = in.dims()[2];
        int outH = out.dims()[1];
        int outW = out.dims()[2];
        int zx = in.zeroPoint();
        int zy = out.zeroPoint();
        byte[] w = c.weights();
        Int8Graph.Requant r = c.requant();
        int inSize = inC * inH * inW;
        int outSize = c.outChannels() * outH * outW;
        for (int b = 0; b < n; b++) {
            for (int oc = 0; oc < c.outChannels(); oc++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        int acc = c.bias()[oc];
                        for (int ic = 0; ic < inC; ic++) {
                            for (int ky = 0; ky < c.kernelH(); ky++) {
                                int iy = oy * c.strideH() - c.padTop() + ky * c.dilationH();
                                if (iy < 0 || iy >= inH) {
                                    continue;   // zero padding: real 0 is exactly z_x, so (x - z_x) = 0 contributes nothing
                                }
                                for (int kx = 0; kx < c.kernelW(); kx++) {
                                    int ix = ox * c.strideW() - c.padLeft() + kx * c.dilationW();
                                    if (ix < 0 || ix >= inW) {
                                        continue;
                                    }
                                    int xv = x[b * inSize + (ic * inH + iy) * inW + ix] - zx;
                                    int wv = w[((oc * inC + ic) * c.kernelH() + ky) * c.kernelW() + kx];
                                    acc += xv * wv;
                                }
                            }
                        }
                        y[b * outSize + (oc * outH + oy) * outW + ox] = (byte) requantize(acc, r.multiplier()[oc], r.shift()[oc], zy,
                                r.activationMin(), r.activationMax(), rounding);
                    }
                }
            }
        }
    }

    public static void dense(Int8Graph.Dense d, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                             FixedPoint.Rounding rounding) {
        int inF = d.inFeatures();
        int outF = d.outFeatures();
        int zx = in.zeroPoint();
        int zy = out.zeroPoint();
        Int8Graph.Requant r = d.requant();
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < outF; o++) {
                int acc = d.bias()[o];
                for (int i = 0; i < inF; i++) {
                    acc += (x[b * inF + i] - zx) * d.weights()[o * inF + i];
                }
                y[b * outF + o] = (byte) requantize(acc, r.multiplier()[o], r.shift()[o], zy, r.activationMin(), r.activationMax(), rounding);
            }
        }
    }

    public static void maxPool(Int8Graph.MaxPool p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        int c = in.dims()[0];
        int inH = in.dims()[1];
        int inW = in.dims()[2];
        int outH = out.dims()[1];
        int outW = out.dims()[2];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        int best = Integer.MIN_VALUE;
                        for (int ky = 0; ky < p.kernelH(); ky++) {
                            int iy = oy * p.strideH() - p.padTop() + ky;
                            for (int kx = 0; kx < p.kernelW(); kx++) {
                                int ix = ox * p.strideW() - p.padLeft() + kx;
                                if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
                                    best = Math.max(best, x[((b * c + ch) * inH + iy) * inW + ix]);
                                }
                            }
                        }
                        y[((b * c + ch) * outH + oy) * outW + ox] = (byte) best;
                    }
                }
            }
        }
    }

    public static void avgPool(Int8Graph.AvgPool p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        int c = in.dims()[0];
        int inH = in.dims()[1];
        int inW = in.dims()[2];
        int outH = out.dims()[1];
        int outW = out.dims()[2];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        int sum = 0;
                        int count = 0;
                        for (int ky = 0; ky < p.kernelH(); ky++) {
                            int iy = oy * p.strideH() - p.padTop() + ky;
                            for (int kx = 0; kx < p.kernelW(); kx++) {
                                int ix = ox * p.strideW() - p.padLeft() + kx;
                                if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
                                    sum += x[((b * c + ch) * inH + iy) * inW + ix];
                                    count++;
                                }
                            }
                        }
                        y[((b * c + ch) * outH + oy) * outW + ox] = (byte) roundingDivide(sum, count);
                    }
                }
            }
        }
    }

    /** {@code sum / count} rounded half away from zero (TFLite's average-pool rounding). */
    static int roundingDivide(int sum, int count) {
        return sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    }

    /**
     * TFLite's quantized add: {@code x_i = (q_i - z_i) << leftShift}, rescaled by each input's
     * multiplier, summed, rescaled by the output multiplier, plus {@code z_out}, clamped.
     */
    public static void add(Int8Graph.Add a, Int8Graph.Tensor in1, Int8Graph.Tensor in2, Int8Graph.Tensor out, byte[] x1, byte[] x2,
                           byte[] y, int n, FixedPoint.Rounding rounding) {
        int len = (int) (n * out.elements());
        for (int i = 0; i < len; i++) {
            int s1 = FixedPoint.multiplyByQuantizedMultiplier((x1[i] - in1.zeroPoint()) << a.leftShift(), a.multiplier1(), a.shift1(), rounding);
            int s2 = FixedPoint.multiplyByQuantizedMultiplier((x2[i] - in2.zeroPoint()) << a.leftShift(), a.multiplier2(), a.shift2(), rounding);
            int v = out.zeroPoint() + FixedPoint.multiplyByQuantizedMultiplier(s1 + s2, a.outputMultiplier(), a.outputShift(), rounding);
            y[i] = (byte) Math.max(a.activationMin(), Math.min(a.activationMax(), v));
        }
    }

    /** Elementwise {@code clamp(z_out + MBQM(q - z_in, M, shift), min, max)}: a tensor moved to another scale and zero point. */
    public static void requantizeTensor(Int8Graph.Requantize q, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                        FixedPoint.Rounding rounding) {
        int len = (int) (n * out.elements());
        for (int i = 0; i < len; i++) {
            y[i] = (byte) requantize(x[i] - in.zeroPoint(), q.multiplier(), q.shift(), out.zeroPoint(), q.activationMin(),
                    q.activationMax(), rounding);
        }
    }
}
