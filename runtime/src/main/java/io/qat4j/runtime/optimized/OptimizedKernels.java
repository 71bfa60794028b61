package io.qat4j.runtime.optimized;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.KernelSet;
import io.qat4j.runtime.reference.ReferenceKernels;

/**
 * Faster conv2d and dense, byte-identical to the reference kernels.
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
     * the JVM has the Vector API, its float weights ({@link VectorKernels.Prepared}) once; average
     * pooling, Add and Requantize run on the reference kernels.
     */
    public static KernelSet prepare(Int8Graph graph) {
        return new Prepared(graph);
    }

    /** What the optimized kernels keep per node of one graph (null where a node has nothing prepared). */
    private static final class Prepared implements KernelSet {
        private final Int8Graph graph;
        private final int[][] weightSums;
        private final VectorKernels.Prepared[] vector;

        Prepared(Int8Graph graph) {
            this.graph = graph;
            int count = graph.nodes().size();
            weightSums = new int[count][];
            vector = new VectorKernels.Prepared[count];
            boolean vectorAvailable = vectorAvailable();
            for (int i = 0; i < count; i++) {
                Int8Graph.Node node = graph.nodes().get(i);
                weightSums[i] = switch (node.kind()) {
                    case CONV2D -> weightSums(((Int8Graph.Conv2D) node).weights(), ((Int8Graph.Conv2D) node).outChannels());
                    case DENSE -> weightSums(((Int8Graph.Dense) node).weights(), ((Int8Graph.Dense) node).outFeatures());
                    case MAX_POOL, AVG_POOL, FLATTEN, ADD, REQUANTIZE -> null;
                };
                if (vectorAvailable) {   // VectorKernels may be loaded only where the module is present
                    vector[i] = switch (node.kind()) {
                        case CONV2D -> VectorKernels.prepare((Int8Graph.Conv2D) node);
                        case DENSE -> VectorKernels.prepare((Int8Graph.Dense) node);
                        case MAX_POOL, AVG_POOL, FLATTEN, ADD, REQUANTIZE -> null;
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
                case AVG_POOL, FLATTEN, ADD, REQUANTIZE -> ReferenceKernels.run(graph, node, values, n);
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
        int inF = d.inFeatures();
        int outF = d.outFeatures();
        Int8Graph.Requant r = d.requant();
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < outF; o++) {
                int a = dot(d.weights(), o * inF, x, b * inF, inF) - in.zeroPoint() * weightSums[o] + d.bias()[o];
                y[b * outF + o] = (byte) ReferenceKernels.requantize(a, r.multiplier()[o], r.shift()[o], out.zeroPoint(),
                        r.activationMin(), r.activationMax(), rounding);
            }
        }
        return y;
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
