package io.qat4j.layers.impl;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.ste.Rounding;
import io.qat4j.ste.RoundingOps;

/**
 * The training hot path of the uniform quantizers as single Java loops over the tensor, with the
 * arithmetic of the ste/lsq ops element for element (float64 {@code (x - beta)/s}, the spec's rounding,
 * clamp, rescale, one rounding to the tensor's type), so results are identical to
 * {@code UniformQuantizer}, {@code LsqQuantizer}, {@code LsqPlusQuantizer} and {@code PactQuantizer}
 * (tested), without the chains of temporary float64 arrays the general ops allocate. Outputs are
 * created in the current ND4J workspace, if any.
 *
 * <p>One quantizer group per index along an axis ({@link Groups}): per-tensor or per-channel.
 */
final class FastQuant {

    private FastQuant() {
    }

    /** Maps a flat C-order index to its quantization group. */
    record Groups(long inner, int channels) {
        static Groups perTensor() {
            return new Groups(1, 1);
        }

        /** Per channel along {@code axis} of a tensor of {@code shape}. */
        static Groups perChannel(long[] shape, int axis) {
            long inner = 1;
            for (int d = axis + 1; d < shape.length; d++) {
                inner *= shape[d];
            }
            return new Groups(inner, (int) shape[axis]);
        }

        int of(long i) {
            return channels == 1 ? 0 : (int) ((i / inner) % channels);
        }
    }

    /**
     * The elements of {@code x} in C order, as float64, copied in bulk through the buffer's native
     * memory (ND4J's {@code asFloat}/{@code setData} go element by element and dominated the profile).
     */
    static double[] read(INDArray x) {
        INDArray c = x.ordering() == 'c' && !x.isView() && x.data().length() == x.length() ? x : x.dup('c');
        ByteBuffer nio = c.data().asNio().order(ByteOrder.nativeOrder());
        double[] d = new double[(int) c.length()];
        if (c.dataType() == DataType.FLOAT) {
            float[] f = new float[d.length];
            nio.asFloatBuffer().get(f);
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
        } else if (c.dataType() == DataType.DOUBLE) {
            nio.asDoubleBuffer().get(d);
        } else {
            return c.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        }
        return d;
    }

    /** A new array of {@code shape} and {@code type} (current workspace) holding {@code values} (rounded once to float for FLOAT). */
    static INDArray write(double[] values, long[] shape, DataType type) {
        INDArray out = Nd4j.createUninitialized(type, shape, 'c');
        ByteBuffer nio = out.data().asNio().order(ByteOrder.nativeOrder());
        if (type == DataType.FLOAT) {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) values[i];
            }
            nio.asFloatBuffer().put(f);
        } else if (type == DataType.DOUBLE) {
            nio.asDoubleBuffer().put(values);
        } else {
            return Nd4j.createFromArray(values).reshape('c', shape).castTo(type);
        }
        return out;
    }

    /**
     * {@code (clamp(round((x - beta_g)/s_g) + z_g, qmin, qmax) - z_g) s_g + beta_g}, rounding as
     * {@link RoundingOps#round(Rounding, double, double)} ({@code +inf} -> qmax, {@code -inf} -> qmin,
     * NaN stays NaN).
     *
     * @param beta offsets per group or null (0); @param z zero points per group or null (0)
     */
    static double[] forward(double[] x, Groups g, double[] s, double[] beta, int[] z, int qmin, int qmax, Rounding rounding) {
        double[] out = new double[x.length];
        forEachChunk(x.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                int k = g.of(i);
                double b = beta == null ? 0 : beta[k];
                int zp = z == null ? 0 : z[k];
                double q = RoundingOps.clamp(RoundingOps.round(rounding, (x[i] - b) / s[k], 0) + zp, qmin, qmax);
                out[i] = (q - zp) * s[k] + b;
            }
        });
        return out;
    }

    /** Elements per parallel chunk; smaller tensors run on the calling thread. */
    static final int CHUNK = 1 << 16;

    /** A loop body over {@code [from, to)}. */
    @FunctionalInterface
    interface Range {
        void run(int from, int to);
    }

    /** Runs {@code body} over {@code [0, n)} in chunks, in parallel when there is more than one chunk. */
    static void forEachChunk(int n, Range body) {
        int chunks = (n + CHUNK - 1) / CHUNK;
        if (chunks <= 1) {
            body.run(0, n);
            return;
        }
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> body.run(c * CHUNK, Math.min(n, (c + 1) * CHUNK)));
    }

    /**
     * Clipped STE in place on {@code grad} (dL/dx^ in, dL/dx out: kept where
     * {@code qmin <= (x - beta)/s + z <= qmax}), accumulating LSQ's step gradient
     * ({@code rint(v) - v} inside, qmin below, qmax above) and LSQ+'s offset gradient (1 outside),
     * each times {@code gradScale}, into {@code stepGrad}/{@code offsetGrad} when not null.
     */
    static void backward(double[] x, double[] grad, Groups g, double[] s, double[] beta, int[] z, int qmin, int qmax,
                         Rounding rounding, double[] stepGrad, double[] offsetGrad, double gradScale) {
        int groups = s.length;
        int chunks = Math.max(1, (x.length + CHUNK - 1) / CHUNK);
        // per-chunk partial sums, added in chunk order: the result does not depend on thread timing
        double[][] stepPart = new double[chunks][groups];
        double[][] offsetPart = new double[chunks][groups];
        forEachChunk(x.length, (from, to) -> {
            double[] sp = stepPart[from / CHUNK];
            double[] op = offsetPart[from / CHUNK];
            for (int i = from; i < to; i++) {
                int k = g.of(i);
                double b = beta == null ? 0 : beta[k];
                int zp = z == null ? 0 : z[k];
                double v = (x[i] - b) / s[k];
                double u = v + zp;
                double gi = grad[i];
                if (Double.isNaN(u)) {
                    grad[i] = 0;   // a NaN input has no gradient; NaN in the forward output already tells the story
                } else if (u < qmin) {
                    grad[i] = 0;
                    sp[k] += gi * qmin;
                    op[k] += gi;
                } else if (u > qmax) {
                    grad[i] = 0;
                    sp[k] += gi * qmax;
                    op[k] += gi;
                } else {
                    sp[k] += gi * (RoundingOps.round(rounding, v, 0) - v);
                }
            }
        });
        for (int c = 0; c < chunks; c++) {
            for (int k = 0; k < groups; k++) {
                if (stepGrad != null) {
                    stepGrad[k] += stepPart[c][k];
                }
                if (offsetGrad != null) {
                    offsetGrad[k] += offsetPart[c][k];
                }
            }
        }
        if (stepGrad != null) {
            for (int k = 0; k < stepGrad.length; k++) {
                stepGrad[k] *= gradScale;
            }
        }
        if (offsetGrad != null) {
            for (int k = 0; k < offsetGrad.length; k++) {
                offsetGrad[k] *= gradScale;
            }
        }
    }

    /**
     * PACT: {@code round(clamp(x, lo, alpha) k) / k} with {@code k = levels / alpha}, {@code lo = 0}
     * unsigned or {@code -alpha} signed, ties up; NaN stays NaN.
     */
    static double[] pact(double[] x, double alpha, int levels, boolean signed) {
        double k = levels / alpha;
        double lo = signed ? -alpha : 0;
        double[] out = new double[x.length];
        forEachChunk(x.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                out[i] = RoundingOps.round(Rounding.HALF_UP, RoundingOps.clamp(x[i], lo, alpha) * k, 0) / k;
            }
        });
        return out;
    }

    /**
     * PACT backward in place on {@code grad} (kept for {@code lo <= x < alpha}, {@code lo = 0} unsigned,
     * {@code lo > -alpha} signed); returns the alpha gradient without decay: {@code +grad} where
     * {@code x >= alpha}, and for signed PACT {@code -grad} where {@code x <= -alpha}.
     */
    static double pactBackward(double[] x, double[] grad, double alpha, boolean signed) {
        double alphaGrad = 0;
        for (int i = 0; i < x.length; i++) {
            if (x[i] >= alpha) {
                alphaGrad += grad[i];
                grad[i] = 0;
            } else if (signed && x[i] <= -alpha) {
                alphaGrad -= grad[i];
                grad[i] = 0;
            } else if (!signed && x[i] < 0 || Double.isNaN(x[i])) {
                grad[i] = 0;
            }
        }
        return alphaGrad;
    }
}
