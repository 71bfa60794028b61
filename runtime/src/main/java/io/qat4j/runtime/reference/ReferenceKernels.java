package io.qat4j.runtime.reference;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.KernelSet;

/**
 * Reference int8 kernels over NCHW batches ({@code byte[]} holding {@code n} samples back to back).
 *
 * <p>Convolution and dense: {@code acc = bias[c] + sum (x - z_x) w} in int32 (weights have zero
 * point 0), then {@link #requantize}. Max pooling compares int8 values directly (quantization is
 * monotonic); padded positions never win. Average pooling divides the int32 window sum by the
 * number of valid (unpadded) elements, rounding half away from zero, as TFLite does. The version-3 nodes
 * (average pooling with requantization, depthwise convolution, concatenation, LeakyReLU, lookup tables,
 * padding, cropping, upsampling, dequantized logits) follow the formulas of their {@link Int8Graph} records.
 */
public final class ReferenceKernels {

    private ReferenceKernels() {
    }

    /** The reference kernel set for {@code graph} (nothing to prepare: every kernel reads the node's own arrays). */
    public static KernelSet prepare(Int8Graph graph) {
        return (index, values, n) -> run(graph, graph.nodes().get(index), values, n);
    }

    /** Node {@code node} of {@code graph} on the reference kernels; a switch expression without a default, so every kind runs. */
    public static byte[] run(Int8Graph graph, Int8Graph.Node node, byte[][] values, int n) {
        Int8Graph.Tensor in = graph.tensors().get(node.input());
        Int8Graph.Tensor out = graph.tensors().get(node.output());
        byte[] x = values[node.input()];
        FixedPoint.Rounding rounding = graph.rounding();
        return switch (node.kind()) {
            case CONV2D -> conv2d((Int8Graph.Conv2D) node, in, out, x, KernelSet.output(out, n), n, rounding);
            case DENSE -> dense((Int8Graph.Dense) node, in, out, x, KernelSet.output(out, n), n, rounding);
            case MAX_POOL -> maxPool((Int8Graph.MaxPool) node, in, out, x, KernelSet.output(out, n), n);
            case AVG_POOL -> avgPool((Int8Graph.AvgPool) node, in, out, x, KernelSet.output(out, n), n);
            case FLATTEN -> x;   // the same bytes under another shape
            case ADD -> {
                Int8Graph.Add a = (Int8Graph.Add) node;
                yield add(a, in, graph.tensors().get(a.input2()), out, x, values[a.input2()], KernelSet.output(out, n), n, rounding);
            }
            case REQUANTIZE -> requantizeTensor((Int8Graph.Requantize) node, in, out, x, KernelSet.output(out, n), n, rounding);
            case AVG_POOL_REQUANT -> avgPoolRequant((Int8Graph.AvgPoolRequant) node, in, out, x, KernelSet.output(out, n), n, rounding);
            case DEPTHWISE_CONV2D -> depthwiseConv2d((Int8Graph.DepthwiseConv2D) node, in, out, x, KernelSet.output(out, n), n, rounding);
            case CONCAT -> {
                int[] ids = node.inputs();
                Int8Graph.Tensor[] ins = new Int8Graph.Tensor[ids.length];
                byte[][] xs = new byte[ids.length][];
                for (int i = 0; i < ids.length; i++) {
                    ins[i] = graph.tensors().get(ids[i]);
                    xs[i] = values[ids[i]];
                }
                yield concat((Int8Graph.Concat) node, ins, out, xs, KernelSet.output(out, n), n, rounding);
            }
            case LEAKY_RELU -> leakyRelu((Int8Graph.LeakyRelu) node, in, out, x, KernelSet.output(out, n), n, rounding);
            case LOOKUP_TABLE -> lookupTable((Int8Graph.LookupTable) node, out, x, KernelSet.output(out, n), n);
            case ZERO_PAD -> zeroPad((Int8Graph.ZeroPad) node, in, out, x, KernelSet.output(out, n), n);
            case CROP -> crop((Int8Graph.Crop) node, in, out, x, KernelSet.output(out, n), n);
            case UPSAMPLE_NEAREST -> upsampleNearest((Int8Graph.UpsampleNearest) node, in, out, x, KernelSet.output(out, n), n);
            case DENSE_LOGITS -> denseLogits((Int8Graph.DenseLogits) node, in, x, n);
        };
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

    public static byte[] conv2d(Int8Graph.Conv2D c, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                FixedPoint.Rounding rounding) {
        Int8Graph.Window win = c.window();
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int inC = shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        int zx = in.zeroPoint();
        int zy = out.zeroPoint();
        byte[] w = c.weights();
        Int8Graph.Requant r = c.requant();
        int inSize = shape.inSize();
        int outSize = shape.outSize();
        for (int b = 0; b < n; b++) {
            for (int oc = 0; oc < c.outChannels(); oc++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        int acc = c.bias()[oc];
                        for (int ic = 0; ic < inC; ic++) {
                            for (int ky = 0; ky < win.kernelH(); ky++) {
                                int iy = oy * win.strideH() - win.padTop() + ky * win.dilationH();
                                if (iy < 0 || iy >= inH) {
                                    continue;   // zero padding: real 0 is exactly z_x, so (x - z_x) = 0 contributes nothing
                                }
                                for (int kx = 0; kx < win.kernelW(); kx++) {
                                    int ix = ox * win.strideW() - win.padLeft() + kx * win.dilationW();
                                    if (ix < 0 || ix >= inW) {
                                        continue;
                                    }
                                    int xv = x[b * inSize + (ic * inH + iy) * inW + ix] - zx;
                                    int wv = w[((oc * inC + ic) * win.kernelH() + ky) * win.kernelW() + kx];
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
        return y;
    }

    public static byte[] dense(Int8Graph.Dense d, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
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
        return y;
    }

    public static byte[] maxPool(Int8Graph.MaxPool p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        return pool(p.window(), true, in, out, x, y, n);
    }

    public static byte[] avgPool(Int8Graph.AvgPool p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        return pool(p.window(), false, in, out, x, y, n);
    }

    /**
     * One loop for both poolings over the valid (unpadded) elements of each window: their maximum, or
     * their int32 sum divided by their count with {@link #roundingDivide}.
     */
    private static byte[] pool(Int8Graph.Window w, boolean max, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int c = shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        int best = Integer.MIN_VALUE;
                        int sum = 0;
                        int count = 0;
                        for (int ky = 0; ky < w.kernelH(); ky++) {
                            int iy = oy * w.strideH() - w.padTop() + ky;
                            for (int kx = 0; kx < w.kernelW(); kx++) {
                                int ix = ox * w.strideW() - w.padLeft() + kx;
                                if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
                                    int v = x[((b * c + ch) * inH + iy) * inW + ix];
                                    best = Math.max(best, v);
                                    sum += v;
                                    count++;
                                }
                            }
                        }
                        y[((b * c + ch) * outH + oy) * outW + ox] = (byte) (max ? best : roundingDivide(sum, count));
                    }
                }
            }
        }
        return y;
    }

    /** {@code sum / count} rounded half away from zero (TFLite's average-pool rounding). */
    static int roundingDivide(int sum, int count) {
        return sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    }

    /**
     * TFLite's quantized add: {@code x_i = (q_i - z_i) << leftShift}, rescaled by each input's
     * multiplier, summed, rescaled by the output multiplier, plus {@code z_out}, clamped.
     */
    public static byte[] add(Int8Graph.Add a, Int8Graph.Tensor in1, Int8Graph.Tensor in2, Int8Graph.Tensor out, byte[] x1, byte[] x2,
                             byte[] y, int n, FixedPoint.Rounding rounding) {
        int len = (int) (n * out.elements());
        for (int i = 0; i < len; i++) {
            int s1 = FixedPoint.multiplyByQuantizedMultiplier((x1[i] - in1.zeroPoint()) << a.leftShift(), a.multiplier1(), a.shift1(), rounding);
            int s2 = FixedPoint.multiplyByQuantizedMultiplier((x2[i] - in2.zeroPoint()) << a.leftShift(), a.multiplier2(), a.shift2(), rounding);
            int v = out.zeroPoint() + FixedPoint.multiplyByQuantizedMultiplier(s1 + s2, a.outputMultiplier(), a.outputShift(), rounding);
            y[i] = (byte) Math.max(a.activationMin(), Math.min(a.activationMax(), v));
        }
        return y;
    }

    /** Elementwise {@code clamp(z_out + MBQM(q - z_in, M, shift), min, max)}: a tensor moved to another scale and zero point. */
    public static byte[] requantizeTensor(Int8Graph.Requantize q, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                        FixedPoint.Rounding rounding) {
        int len = (int) (n * out.elements());
        for (int i = 0; i < len; i++) {
            y[i] = (byte) requantize(x[i] - in.zeroPoint(), q.multiplier(), q.shift(), out.zeroPoint(), q.activationMin(),
                    q.activationMax(), rounding);
        }
        return y;
    }

    /**
     * Average pooling with one requantization ({@link Int8Graph.AvgPoolRequant}): per window the int32 sum of
     * {@code q - z_in} over the valid elements and their count {@code c}; the divisor {@code k} is {@code c}, or
     * the window area when padded positions count; then {@code clamp(z_out + MBQM(sum, M_k, shift_k), min, max)}.
     */
    public static byte[] avgPoolRequant(Int8Graph.AvgPoolRequant p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                        FixedPoint.Rounding rounding) {
        Int8Graph.Window w = p.window();
        Int8Graph.Requant r = p.requant();
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int c = shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        int zx = in.zeroPoint();
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        int sum = 0;
                        int count = 0;
                        for (int ky = 0; ky < w.kernelH(); ky++) {
                            int iy = oy * w.strideH() - w.padTop() + ky;
                            for (int kx = 0; kx < w.kernelW(); kx++) {
                                int ix = ox * w.strideW() - w.padLeft() + kx;
                                if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
                                    sum += x[((b * c + ch) * inH + iy) * inW + ix] - zx;
                                    count++;
                                }
                            }
                        }
                        int k = p.countIncludePad() ? w.area() : count;
                        y[((b * c + ch) * outH + oy) * outW + ox] = (byte) requantize(sum, r.multiplier()[k - 1], r.shift()[k - 1],
                                out.zeroPoint(), r.activationMin(), r.activationMax(), rounding);
                    }
                }
            }
        }
        return y;
    }

    /**
     * Depthwise convolution ({@link Int8Graph.DepthwiseConv2D}, TFLite {@code DepthwiseConv}): output channel
     * {@code oc} reads input channel {@code oc / depthMultiplier};
     * {@code acc = bias[oc] + sum (x - z_x) w[oc][ky][kx]} over the window's valid positions, then {@link #requantize}.
     */
    public static byte[] depthwiseConv2d(Int8Graph.DepthwiseConv2D c, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                         FixedPoint.Rounding rounding) {
        Int8Graph.Window win = c.window();
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        int zx = in.zeroPoint();
        byte[] w = c.weights();
        Int8Graph.Requant r = c.requant();
        for (int b = 0; b < n; b++) {
            for (int oc = 0; oc < c.outChannels(); oc++) {
                int ic = oc / c.depthMultiplier();
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        int acc = c.bias()[oc];
                        for (int ky = 0; ky < win.kernelH(); ky++) {
                            int iy = oy * win.strideH() - win.padTop() + ky * win.dilationH();
                            for (int kx = 0; kx < win.kernelW(); kx++) {
                                int ix = ox * win.strideW() - win.padLeft() + kx * win.dilationW();
                                if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {   // padding: x - z_x = 0 contributes nothing
                                    acc += (x[b * shape.inSize() + (ic * inH + iy) * inW + ix] - zx) * w[(oc * win.kernelH() + ky) * win.kernelW() + kx];
                                }
                            }
                        }
                        y[b * shape.outSize() + (oc * outH + oy) * outW + ox] = (byte) requantize(acc, r.multiplier()[oc], r.shift()[oc],
                                out.zeroPoint(), r.activationMin(), r.activationMax(), rounding);
                    }
                }
            }
        }
        return y;
    }

    /**
     * Channel concatenation ({@link Int8Graph.Concat}, TFLite's int8 concatenation): per sample, each input's
     * block in turn; an input with the output's scale and zero point is copied, any other requantized,
     * {@code clamp(z_out + MBQM(x - z_i, M_i, shift_i), -128, 127)}.
     *
     * @param ins  the input tensors, in the node's order
     * @param xs   their values ({@code n} samples each)
     */
    public static byte[] concat(Int8Graph.Concat c, Int8Graph.Tensor[] ins, Int8Graph.Tensor out, byte[][] xs, byte[] y, int n,
                                FixedPoint.Rounding rounding) {
        int[] m = c.multiplier();
        int[] s = c.shift();
        int outSize = (int) out.elements();
        for (int b = 0; b < n; b++) {
            int offset = b * outSize;
            for (int i = 0; i < ins.length; i++) {
                int size = (int) ins[i].elements();
                boolean copy = Int8Graph.Concat.copies(ins[i], out);
                for (int j = 0; j < size; j++) {
                    int q = xs[i][b * size + j];
                    y[offset + j] = copy ? (byte) q : (byte) requantize(q - ins[i].zeroPoint(), m[i], s[i], out.zeroPoint(), -128, 127,
                            rounding);
                }
                offset += size;
            }
        }
        return y;
    }

    /** TFLite's int8 LeakyRelu ({@link Int8Graph.LeakyRelu}), elementwise: the positive or the negative multiplier by the sign of {@code q - z_in}. */
    public static byte[] leakyRelu(Int8Graph.LeakyRelu l, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                   FixedPoint.Rounding rounding) {
        int len = (int) (n * out.elements());
        for (int i = 0; i < len; i++) {
            y[i] = (byte) leakyRelu(l, x[i], in.zeroPoint(), out.zeroPoint(), rounding);
        }
        return y;
    }

    /** The LeakyRelu output code of input code {@code q}. */
    public static int leakyRelu(Int8Graph.LeakyRelu l, int q, int inputZeroPoint, int outputZeroPoint, FixedPoint.Rounding rounding) {
        int d = q - inputZeroPoint;
        return d >= 0
                ? requantize(d, l.multiplierPositive(), l.shiftPositive(), outputZeroPoint, l.activationMin(), l.activationMax(), rounding)
                : requantize(d, l.multiplierNegative(), l.shiftNegative(), outputZeroPoint, l.activationMin(), l.activationMax(), rounding);
    }

    /** {@code y = table[q + 128]} ({@link Int8Graph.LookupTable}). */
    public static byte[] lookupTable(Int8Graph.LookupTable l, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        byte[] table = l.table();
        int len = (int) (n * out.elements());
        for (int i = 0; i < len; i++) {
            y[i] = table[x[i] + 128];
        }
        return y;
    }

    /** {@link Int8Graph.ZeroPad}: every output position inside the input's copy takes its code, the others the zero point. */
    public static byte[] zeroPad(Int8Graph.ZeroPad p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape s = Int8Graph.MapShape.of(in, out);
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < s.outC(); ch++) {
                for (int oy = 0; oy < s.outH(); oy++) {
                    for (int ox = 0; ox < s.outW(); ox++) {
                        int iy = oy - p.top();
                        int ix = ox - p.left();
                        boolean inside = iy >= 0 && iy < s.inH() && ix >= 0 && ix < s.inW();
                        y[b * s.outSize() + (ch * s.outH() + oy) * s.outW() + ox] = inside
                                ? x[b * s.inSize() + (ch * s.inH() + iy) * s.inW() + ix] : (byte) in.zeroPoint();
                    }
                }
            }
        }
        return y;
    }

    /** {@link Int8Graph.Crop}: output {@code (oy, ox)} is input {@code (oy + top, ox + left)}. */
    public static byte[] crop(Int8Graph.Crop c, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape s = Int8Graph.MapShape.of(in, out);
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < s.outC(); ch++) {
                for (int oy = 0; oy < s.outH(); oy++) {
                    for (int ox = 0; ox < s.outW(); ox++) {
                        y[b * s.outSize() + (ch * s.outH() + oy) * s.outW() + ox] =
                                x[b * s.inSize() + (ch * s.inH() + oy + c.top()) * s.inW() + ox + c.left()];
                    }
                }
            }
        }
        return y;
    }

    /** {@link Int8Graph.UpsampleNearest}: output {@code (oy, ox)} is input {@code (oy / scaleH, ox / scaleW)}. */
    public static byte[] upsampleNearest(Int8Graph.UpsampleNearest u, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape s = Int8Graph.MapShape.of(in, out);
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < s.outC(); ch++) {
                for (int oy = 0; oy < s.outH(); oy++) {
                    for (int ox = 0; ox < s.outW(); ox++) {
                        y[b * s.outSize() + (ch * s.outH() + oy) * s.outW() + ox] =
                                x[b * s.inSize() + (ch * s.inH() + oy / u.scaleH()) * s.inW() + ox / u.scaleW()];
                    }
                }
            }
        }
        return y;
    }

    /**
     * {@link Int8Graph.DenseLogits}: the Dense accumulators {@code bias[o] + sum (x - z_x) w[o][i]}, stored as
     * 4 little-endian bytes each ({@link #logitsOutput}).
     */
    public static byte[] denseLogits(Int8Graph.DenseLogits d, Int8Graph.Tensor in, byte[] x, int n) {
        int inF = d.inFeatures();
        int outF = d.outFeatures();
        int[] acc = new int[n * outF];
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < outF; o++) {
                int a = d.bias()[o];
                for (int i = 0; i < inF; i++) {
                    a += (x[b * inF + i] - in.zeroPoint()) * d.weights()[o * inF + i];
                }
                acc[b * outF + o] = a;
            }
        }
        return logitsOutput(acc);
    }

    /** int32 accumulators as the bytes of a DenseLogits output: 4 little-endian bytes each. */
    public static byte[] logitsOutput(int[] acc) {
        byte[] y = new byte[Math.multiplyExact(4, acc.length)];
        java.nio.ByteBuffer.wrap(y).order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(acc);
        return y;
    }

    /** The {@code i}-th int32 accumulator of a DenseLogits output's bytes. */
    public static int logitAccumulator(byte[] y, int i) {
        return (y[4 * i] & 0xFF) | (y[4 * i + 1] & 0xFF) << 8 | (y[4 * i + 2] & 0xFF) << 16 | y[4 * i + 3] << 24;
    }
}
