package io.qat4j.runtime.optimized;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.KernelSet;
import io.qat4j.runtime.reference.ReferenceKernels;

/**
 * Faster kernels, byte-identical to the reference kernels: conv2d, dense (and DenseLogits' accumulators),
 * max pooling, average pooling with requantization, depthwise convolution, concatenation, LeakyReLU (a
 * 256-entry table prepared with the reference formula), zero padding, cropping and upsampling (row copies).
 *
 * <p>Both use {@code sum (x - z_x) w = sum x w - z_x sum w}: the weight sums per output channel are
 * precomputed, and padded positions of the im2col patch matrix are filled with {@code z_x} (whose
 * real value is 0), so every term is a plain int8 x int8 product accumulated in int32 over a
 * contiguous row; four output channels share each patch row. The result is the same int32
 * accumulator as the reference's, then the same {@link FixedPoint} requantization.
 */
public final class OptimizedKernels {

    private OptimizedKernels() {
    }

    /**
     * The optimized kernel set for {@code graph}: prepares each weighted node's weight sums and, where
     * the JVM has the Vector API, its float weights ({@link VectorKernels.Prepared}) once, and each
     * LeakyRelu's table; version-1 average pooling, Add, Requantize and LookupTable run on the reference kernels.
     */
    public static KernelSet prepare(Int8Graph graph) {
        return new Prepared(graph);
    }

    /** What the optimized kernels keep per node of one graph (null where a node has nothing prepared). */
    private static final class Prepared implements KernelSet {
        private final Int8Graph graph;
        private final int[][] weightSums;
        private final VectorKernels.Prepared[] vector;
        /** LeakyRelu's output code per input code {@code q + 128}, computed once by the reference formula. */
        private final byte[][] tables;

        Prepared(Int8Graph graph) {
            this.graph = graph;
            int count = graph.nodes().size();
            weightSums = new int[count][];
            vector = new VectorKernels.Prepared[count];
            tables = new byte[count][];
            boolean vectorAvailable = vectorAvailable();
            for (int i = 0; i < count; i++) {
                Int8Graph.Node node = graph.nodes().get(i);
                weightSums[i] = switch (node.kind()) {
                    case CONV2D -> weightSums(((Int8Graph.Conv2D) node).weights(), ((Int8Graph.Conv2D) node).outChannels());
                    case DENSE -> weightSums(((Int8Graph.Dense) node).weights(), ((Int8Graph.Dense) node).outFeatures());
                    case DENSE_LOGITS -> weightSums(((Int8Graph.DenseLogits) node).weights(), ((Int8Graph.DenseLogits) node).outFeatures());
                    case MAX_POOL, AVG_POOL, FLATTEN, ADD, REQUANTIZE, AVG_POOL_REQUANT, DEPTHWISE_CONV2D, CONCAT, LEAKY_RELU, LOOKUP_TABLE,
                         ZERO_PAD, CROP, UPSAMPLE_NEAREST -> null;
                };
                if (node instanceof Int8Graph.LeakyRelu l) {
                    tables[i] = leakyReluTable(l, graph.tensors().get(l.input()), graph.tensors().get(l.output()), graph.rounding());
                }
                if (vectorAvailable) {   // VectorKernels may be loaded only where the module is present
                    vector[i] = switch (node.kind()) {
                        case CONV2D -> VectorKernels.prepare((Int8Graph.Conv2D) node);
                        case DENSE -> VectorKernels.prepare((Int8Graph.Dense) node);
                        case DENSE_LOGITS -> VectorKernels.prepare((Int8Graph.DenseLogits) node);
                        case MAX_POOL, AVG_POOL, FLATTEN, ADD, REQUANTIZE, AVG_POOL_REQUANT, DEPTHWISE_CONV2D, CONCAT, LEAKY_RELU, LOOKUP_TABLE,
                             ZERO_PAD, CROP, UPSAMPLE_NEAREST -> null;
                    };
                }
            }
        }

        @Override
        public byte[] run(int index, byte[][] values, int n) {
            Int8Graph.Node node = graph.nodes().get(index);
            Int8Graph.Tensor in = graph.tensors().get(node.input());
            Int8Graph.Tensor out = graph.tensors().get(node.output());
            byte[] x = values[node.input()];
            FixedPoint.Rounding rounding = graph.rounding();
            boolean vectorRun = vectorized() && vector[index] != null;
            return switch (node.kind()) {
                case CONV2D -> vectorRun
                        ? VectorKernels.conv2d((Int8Graph.Conv2D) node, vector[index], in, out, x, KernelSet.output(out, n), n, rounding)
                        : conv2d((Int8Graph.Conv2D) node, weightSums[index], in, out, x, KernelSet.output(out, n), n, rounding);
                case DENSE -> vectorRun
                        ? VectorKernels.dense((Int8Graph.Dense) node, vector[index], in, out, x, KernelSet.output(out, n), n, rounding)
                        : dense((Int8Graph.Dense) node, weightSums[index], in, out, x, KernelSet.output(out, n), n, rounding);
                case MAX_POOL -> maxPool((Int8Graph.MaxPool) node, in, out, x, KernelSet.output(out, n), n);
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
                case LEAKY_RELU -> map(tables[index], x, KernelSet.output(out, n));
                case ZERO_PAD -> zeroPad((Int8Graph.ZeroPad) node, in, out, x, KernelSet.output(out, n), n);
                case CROP -> crop((Int8Graph.Crop) node, in, out, x, KernelSet.output(out, n), n);
                case UPSAMPLE_NEAREST -> upsampleNearest((Int8Graph.UpsampleNearest) node, in, out, x, KernelSet.output(out, n), n);
                case DENSE_LOGITS -> {
                    Int8Graph.DenseLogits d = (Int8Graph.DenseLogits) node;
                    yield ReferenceKernels.logitsOutput(vectorRun
                            ? VectorKernels.denseAccumulators(vector[index], d.inFeatures(), d.outFeatures(), d.bias(), in.zeroPoint(), x, n)
                            : denseAccumulators(d.weights(), weightSums[index], d.bias(), d.inFeatures(), d.outFeatures(), in.zeroPoint(), x, n));
                }
                // AvgPool (version 1) is rare; Flatten copies nothing; a table lookup is already one load per element, so the
                // optimized set runs the reference loop for LookupTable; Add and Requantize are elementwise and run there too
                case AVG_POOL, FLATTEN, ADD, REQUANTIZE, LOOKUP_TABLE -> ReferenceKernels.run(graph, node, values, n);
            };
        }
    }

    /** Per-output-channel sums of the weight codes (cacheable per node). */
    public static int[] weightSums(byte[] w, int outChannels) {
        int k = w.length / outChannels;
        int[] sums = new int[outChannels];
        for (int oc = 0; oc < outChannels; oc++) {
            int s = 0;
            for (int i = 0; i < k; i++) {
                s += w[oc * k + i];
            }
            sums[oc] = s;
        }
        return sums;
    }

    public static byte[] conv2d(Int8Graph.Conv2D c, int[] weightSums, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                              FixedPoint.Rounding rounding) {
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int k = c.reduction();
        int positions = shape.positions();
        byte zx = (byte) in.zeroPoint();
        byte[] patches = new byte[positions * k];
        int inSize = shape.inSize();
        int outSize = shape.outSize();
        int[] acc = new int[4];
        for (int b = 0; b < n; b++) {
            im2col(x, b * inSize, shape, c, zx, patches);
            int oc = 0;
            for (; oc + 4 <= c.outChannels(); oc += 4) {
                for (int p = 0; p < positions; p++) {
                    dot4(c.weights(), oc * k, k, patches, p * k, acc);
                    for (int j = 0; j < 4; j++) {
                        y[b * outSize + (oc + j) * positions + p] = requantize(c, oc + j, acc[j] - in.zeroPoint() * weightSums[oc + j],
                                out.zeroPoint(), rounding);
                    }
                }
            }
            for (; oc < c.outChannels(); oc++) {
                for (int p = 0; p < positions; p++) {
                    int a = dot(c.weights(), oc * k, patches, p * k, k);
                    y[b * outSize + oc * positions + p] = requantize(c, oc, a - in.zeroPoint() * weightSums[oc], out.zeroPoint(), rounding);
                }
            }
        }
        return y;
    }

    public static byte[] dense(Int8Graph.Dense d, int[] weightSums, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                             FixedPoint.Rounding rounding) {
        int outF = d.outFeatures();
        int[] acc = denseAccumulators(d.weights(), weightSums, d.bias(), d.inFeatures(), outF, in.zeroPoint(), x, n);
        Int8Graph.Requant r = d.requant();
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < outF; o++) {
                y[b * outF + o] = (byte) ReferenceKernels.requantize(acc[b * outF + o], r.multiplier()[o], r.shift()[o], out.zeroPoint(),
                        r.activationMin(), r.activationMax(), rounding);
            }
        }
        return y;
    }

    /** The int32 accumulators {@code bias[o] + sum x w - z_x sum w} of a Dense or DenseLogits node, {@code [n][outF]}. */
    public static int[] denseAccumulators(byte[] weights, int[] weightSums, int[] bias, int inF, int outF, int zx, byte[] x, int n) {
        int[] acc = new int[n * outF];
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < outF; o++) {
                acc[b * outF + o] = dot(weights, o * inF, x, b * inF, inF) - zx * weightSums[o] + bias[o];
            }
        }
        return acc;
    }

    private static byte requantize(Int8Graph.Conv2D c, int oc, int accWithoutBias, int zy, FixedPoint.Rounding rounding) {
        Int8Graph.Requant r = c.requant();
        return (byte) ReferenceKernels.requantize(accWithoutBias + c.bias()[oc], r.multiplier()[oc], r.shift()[oc], zy, r.activationMin(),
                r.activationMax(), rounding);
    }

    /** Max pooling with the window clipped to the input once per row and column (same result as the reference). */
    public static byte[] maxPool(Int8Graph.MaxPool p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int planes = n * shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        Int8Graph.Window w = p.window();
        int kh = w.kernelH();
        int kw = w.kernelW();
        if (kh == 2 && kw == 2 && w.strideH() == 2 && w.strideW() == 2 && w.padTop() == 0 && w.padLeft() == 0
                && 2 * outH <= inH && 2 * outW <= inW) {
            maxPool2x2(planes, inH, inW, outH, outW, x, y);
            return y;
        }
        for (int plane = 0; plane < planes; plane++) {
            int xo = plane * inH * inW;
            int yo = plane * outH * outW;
            for (int oy = 0; oy < outH; oy++) {
                int y0 = oy * w.strideH() - w.padTop();
                int kyLo = Math.max(0, -y0);
                int kyHi = Math.min(kh, inH - y0);
                for (int ox = 0; ox < outW; ox++) {
                    int x0 = ox * w.strideW() - w.padLeft();
                    int kxLo = Math.max(0, -x0);
                    int kxHi = Math.min(kw, inW - x0);
                    int best = Integer.MIN_VALUE;
                    for (int ky = kyLo; ky < kyHi; ky++) {
                        int row = xo + (y0 + ky) * inW + x0;
                        for (int kx = kxLo; kx < kxHi; kx++) {
                            best = Math.max(best, x[row + kx]);
                        }
                    }
                    y[yo + oy * outW + ox] = (byte) best;
                }
            }
        }
        return y;
    }

    /**
     * Average pooling with requantization, the window clipped to the input once per row and column: the sum of
     * the valid codes minus {@code count z_in} (the same int32 sum as the reference's {@code sum (q - z_in)}),
     * then the reference requantization.
     */
    public static byte[] avgPoolRequant(Int8Graph.AvgPoolRequant p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                        FixedPoint.Rounding rounding) {
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        int planes = n * shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        Int8Graph.Window w = p.window();
        Int8Graph.Requant r = p.requant();
        int[] m = r.multiplier();
        int[] s = r.shift();
        int zx = in.zeroPoint();
        int zy = out.zeroPoint();
        int min = r.activationMin();
        int max = r.activationMax();
        boolean includePad = p.countIncludePad();
        int area = w.area();
        for (int plane = 0; plane < planes; plane++) {
            int xo = plane * inH * inW;
            int yo = plane * outH * outW;
            for (int oy = 0; oy < outH; oy++) {
                int y0 = oy * w.strideH() - w.padTop();
                int kyLo = Math.max(0, -y0);
                int kyHi = Math.min(w.kernelH(), inH - y0);
                for (int ox = 0; ox < outW; ox++) {
                    int x0 = ox * w.strideW() - w.padLeft();
                    int kxLo = Math.max(0, -x0);
                    int kxHi = Math.min(w.kernelW(), inW - x0);
                    int sum = 0;
                    for (int ky = kyLo; ky < kyHi; ky++) {
                        int row = xo + (y0 + ky) * inW + x0;
                        for (int kx = kxLo; kx < kxHi; kx++) {
                            sum += x[row + kx];
                        }
                    }
                    int count = (kyHi - kyLo) * (kxHi - kxLo);
                    int k = includePad ? area : count;
                    y[yo + oy * outW + ox] = (byte) ReferenceKernels.requantize(sum - count * zx, m[k - 1], s[k - 1], zy, min, max, rounding);
                }
            }
        }
        return y;
    }

    /**
     * Depthwise convolution over one channel at a time: the input channel is copied once into a zero-padded
     * int image of {@code x - z_x} (0, the real value of padding, around it) that serves its
     * {@code depthMultiplier} output channels; each weight tap then adds {@code w * image} to a row of int32
     * accumulators (contiguous for stride 1, which the JIT vectorizes), skipping zero weights. The integer
     * sums are the reference's (int32 addition is exact modulo 2^32 in any order), then the reference
     * requantization with the channel's constants hoisted.
     */
    public static byte[] depthwiseConv2d(Int8Graph.DepthwiseConv2D c, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n,
                                         FixedPoint.Rounding rounding) {
        Int8Graph.MapShape shape = Int8Graph.MapShape.of(in, out);
        Int8Graph.Window win = c.window();
        int inC = shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        int positions = shape.positions();
        int kh = win.kernelH();
        int kw = win.kernelW();
        int sh = win.strideH();
        int sw = win.strideW();
        int hp = (int) win.paddedH(inH, outH);   // within int: ModelCost counted this image against the limits
        int wp = (int) win.paddedW(inW, outW);
        int dm = c.depthMultiplier();
        int zx = in.zeroPoint();
        byte[] w = c.weights();
        int[] bias = c.bias();
        Int8Graph.Requant r = c.requant();
        int[] image = new int[hp * wp];
        int[] acc = new int[positions];
        for (int b = 0; b < n; b++) {
            for (int ic = 0; ic < inC; ic++) {
                java.util.Arrays.fill(image, 0);
                int src = b * shape.inSize() + ic * inH * inW;
                for (int iy = 0; iy < inH; iy++) {
                    int dst = (iy + win.padTop()) * wp + win.padLeft();
                    for (int ix = 0; ix < inW; ix++) {
                        image[dst + ix] = x[src + iy * inW + ix] - zx;
                    }
                }
                for (int j = 0; j < dm; j++) {
                    int oc = ic * dm + j;
                    java.util.Arrays.fill(acc, bias[oc]);
                    for (int ky = 0; ky < kh; ky++) {
                        for (int kx = 0; kx < kw; kx++) {
                            int wv = w[(oc * kh + ky) * kw + kx];
                            if (wv == 0) {
                                continue;
                            }
                            int tap = ky * win.dilationH() * wp + kx * win.dilationW();
                            for (int oy = 0; oy < outH; oy++) {
                                int row = oy * sh * wp + tap;
                                int a = oy * outW;
                                if (sw == 1) {
                                    for (int ox = 0; ox < outW; ox++) {
                                        acc[a + ox] += wv * image[row + ox];
                                    }
                                } else {
                                    for (int ox = 0; ox < outW; ox++) {
                                        acc[a + ox] += wv * image[row + ox * sw];
                                    }
                                }
                            }
                        }
                    }
                    requantizeRow(acc, positions, r.multiplier()[oc], r.shift()[oc], out.zeroPoint(), r.activationMin(), r.activationMax(),
                            rounding, y, b * shape.outSize() + oc * positions);
                }
            }
        }
        return y;
    }

    /**
     * {@code y[yo + p] = clamp(zy + MBQM(acc[p], m, shift), min, max)} for {@code p < len}: the reference
     * requantization, with single rounding's one 64-bit multiply and shift written inline.
     */
    static void requantizeRow(int[] acc, int len, int m, int shift, int zy, int min, int max, FixedPoint.Rounding rounding, byte[] y, int yo) {
        if (rounding == FixedPoint.Rounding.SINGLE && shift >= FixedPoint.MIN_SHIFT && shift <= FixedPoint.MAX_SHIFT) {
            int total = 31 - shift;
            long half = 1L << (total - 1);
            for (int p = 0; p < len; p++) {
                long v = ((long) acc[p] * m + half) >> total;
                int q = zy + (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v));
                y[yo + p] = (byte) Math.max(min, Math.min(max, q));
            }
        } else {
            for (int p = 0; p < len; p++) {
                y[yo + p] = (byte) ReferenceKernels.requantize(acc[p], m, shift, zy, min, max, rounding);
            }
        }
    }

    /**
     * Channel concatenation: an input at the output's scale and zero point is copied with {@code System.arraycopy},
     * any other mapped through its 256-entry table of requantized codes (each entry the reference formula).
     */
    public static byte[] concat(Int8Graph.Concat c, Int8Graph.Tensor[] ins, Int8Graph.Tensor out, byte[][] xs, byte[] y, int n,
                                FixedPoint.Rounding rounding) {
        int[] m = c.multiplier();
        int[] s = c.shift();
        int outSize = (int) out.elements();
        int offset = 0;
        for (int i = 0; i < ins.length; i++) {
            int size = (int) ins[i].elements();
            byte[] table = null;
            if (!Int8Graph.Concat.copies(ins[i], out)) {
                table = new byte[256];
                for (int q = -128; q < 128; q++) {
                    table[q + 128] = (byte) ReferenceKernels.requantize(q - ins[i].zeroPoint(), m[i], s[i], out.zeroPoint(), -128, 127, rounding);
                }
            }
            for (int b = 0; b < n; b++) {
                int yo = b * outSize + offset;
                int xo = b * size;
                if (table == null) {
                    System.arraycopy(xs[i], xo, y, yo, size);
                } else {
                    for (int j = 0; j < size; j++) {
                        y[yo + j] = table[xs[i][xo + j] + 128];
                    }
                }
            }
            offset += size;
        }
        return y;
    }

    /** LeakyRelu's output code for each input code {@code q} at {@code q + 128}, by the reference formula. */
    static byte[] leakyReluTable(Int8Graph.LeakyRelu l, Int8Graph.Tensor in, Int8Graph.Tensor out, FixedPoint.Rounding rounding) {
        byte[] table = new byte[256];
        for (int q = -128; q < 128; q++) {
            table[q + 128] = (byte) ReferenceKernels.leakyRelu(l, q, in.zeroPoint(), out.zeroPoint(), rounding);
        }
        return table;
    }

    /** {@code y[i] = table[x[i] + 128]} over all of {@code y}. */
    static byte[] map(byte[] table, byte[] x, byte[] y) {
        for (int i = 0; i < y.length; i++) {
            y[i] = table[x[i] + 128];
        }
        return y;
    }

    /** Zero padding: each output plane filled with the zero point, then the input's rows copied in. */
    public static byte[] zeroPad(Int8Graph.ZeroPad p, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape s = Int8Graph.MapShape.of(in, out);
        java.util.Arrays.fill(y, (byte) in.zeroPoint());
        int planes = n * s.inC();
        for (int plane = 0; plane < planes; plane++) {
            for (int iy = 0; iy < s.inH(); iy++) {
                System.arraycopy(x, (plane * s.inH() + iy) * s.inW(), y, (plane * s.outH() + iy + p.top()) * s.outW() + p.left(), s.inW());
            }
        }
        return y;
    }

    /** Cropping: one row copy per output row. */
    public static byte[] crop(Int8Graph.Crop c, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape s = Int8Graph.MapShape.of(in, out);
        int planes = n * s.inC();
        for (int plane = 0; plane < planes; plane++) {
            for (int oy = 0; oy < s.outH(); oy++) {
                System.arraycopy(x, (plane * s.inH() + oy + c.top()) * s.inW() + c.left(), y, (plane * s.outH() + oy) * s.outW(), s.outW());
            }
        }
        return y;
    }

    /** Nearest upsampling: each input row widened once, then copied {@code scaleH - 1} more times. */
    public static byte[] upsampleNearest(Int8Graph.UpsampleNearest u, Int8Graph.Tensor in, Int8Graph.Tensor out, byte[] x, byte[] y, int n) {
        Int8Graph.MapShape s = Int8Graph.MapShape.of(in, out);
        int planes = n * s.inC();
        int sw = u.scaleW();
        int outW = s.outW();
        for (int plane = 0; plane < planes; plane++) {
            for (int iy = 0; iy < s.inH(); iy++) {
                int src = (plane * s.inH() + iy) * s.inW();
                int first = (plane * s.outH() + iy * u.scaleH()) * outW;
                for (int ix = 0, o = first; ix < s.inW(); ix++, o += sw) {
                    java.util.Arrays.fill(y, o, o + sw, x[src + ix]);
                }
                for (int r = 1; r < u.scaleH(); r++) {
                    System.arraycopy(y, first, y, first + r * outW, outW);
                }
            }
        }
        return y;
    }

    /** The common 2x2, stride 2, unpadded max pooling whose windows all lie inside the input. */
    private static void maxPool2x2(int planes, int inH, int inW, int outH, int outW, byte[] x, byte[] y) {
        for (int plane = 0; plane < planes; plane++) {
            int xo = plane * inH * inW;
            int yo = plane * outH * outW;
            for (int oy = 0; oy < outH; oy++) {
                int r0 = xo + 2 * oy * inW;
                int r1 = r0 + inW;
                int yr = yo + oy * outW;
                for (int ox = 0; ox < outW; ox++) {
                    int i = 2 * ox;
                    y[yr + ox] = (byte) Math.max(Math.max(x[r0 + i], x[r0 + i + 1]), Math.max(x[r1 + i], x[r1 + i + 1]));
                }
            }
        }
    }

    /** Patch matrix {@code [positions][inC * kh * kw]}; positions outside the input hold {@code zx}. */
    static void im2col(byte[] x, int offset, Int8Graph.MapShape shape, Int8Graph.Conv2D c, byte zx, byte[] patches) {
        int inC = shape.inC();
        int inH = shape.inH();
        int inW = shape.inW();
        int outH = shape.outH();
        int outW = shape.outW();
        Int8Graph.Window w = c.window();
        int kh = w.kernelH();
        int kw = w.kernelW();
        int k = inC * kh * kw;
        for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++) {
                int row = (oy * outW + ox) * k;
                int col = 0;
                for (int ic = 0; ic < inC; ic++) {
                    int plane = offset + ic * inH * inW;
                    for (int ky = 0; ky < kh; ky++) {
                        int iy = oy * w.strideH() - w.padTop() + ky * w.dilationH();
                        boolean rowInside = iy >= 0 && iy < inH;
                        for (int kx = 0; kx < kw; kx++, col++) {
                            int ix = ox * w.strideW() - w.padLeft() + kx * w.dilationW();
                            patches[row + col] = rowInside && ix >= 0 && ix < inW ? x[plane + iy * inW + ix] : zx;
                        }
                    }
                }
            }
        }
    }

    /** Whether the JVM was started with {@code --add-modules jdk.incubator.vector} (and {@code -Dqat4j.vector=false} is not set). */
    private static final boolean VECTOR_AVAILABLE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !"false".equals(System.getProperty("qat4j.vector"));
    /** Use {@link VectorKernels} (through {@code Int8Model}); tests switch it off to check the scalar loops too. */
    private static volatile boolean vectorized = VECTOR_AVAILABLE;

    /** Whether the Vector API module is present in this JVM. */
    public static boolean vectorAvailable() {
        return VECTOR_AVAILABLE;
    }

    /** Whether conv2d and dense currently run on {@link VectorKernels}. */
    public static boolean vectorized() {
        return vectorized;
    }

    /** Switches the Vector API kernels on (only where available) or off; results are identical either way. */
    public static void setVectorized(boolean on) {
        vectorized = on && VECTOR_AVAILABLE;
    }

    /** {@code sum a[ai + i] * b[bi + i]} over {@code len} int8 values, in int32. */
    static int dot(byte[] a, int ai, byte[] b, int bi, int len) {
        int s0 = 0;
        int s1 = 0;
        int i = 0;
        for (; i + 2 <= len; i += 2) {
            s0 += a[ai + i] * b[bi + i];
            s1 += a[ai + i + 1] * b[bi + i + 1];
        }
        for (; i < len; i++) {
            s0 += a[ai + i] * b[bi + i];
        }
        return s0 + s1;
    }

    /** Four output channels' dot products with one patch row. */
    static void dot4(byte[] w, int wi, int k, byte[] patch, int pi, int[] acc) {
        int a0 = 0;
        int a1 = 0;
        int a2 = 0;
        int a3 = 0;
        for (int i = 0; i < k; i++) {
            int v = patch[pi + i];
            a0 += w[wi + i] * v;
            a1 += w[wi + k + i] * v;
            a2 += w[wi + 2 * k + i] * v;
            a3 += w[wi + 3 * k + i] * v;
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
    }
}
