package io.qat4j.layers.impl;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The training hot path of the uniform quantizers as single Java loops over the tensor, with the
 * arithmetic of the ste/lsq ops element for element (float64 {@code (x - beta)/s}, ties to even,
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

    /** The elements of {@code x} in C order, as float64. */
    static double[] read(INDArray x) {
        INDArray c = x.ordering() == 'c' && !x.isView() && x.data().length() == x.length() ? x : x.dup('c');
        return c.data().asDouble();
    }

    /** A new array of {@code shape} and {@code type} (current workspace) holding {@code values}. */
    static INDArray write(double[] values, long[] shape, DataType type) {
        INDArray out = Nd4j.createUninitialized(type, shape, 'c');
        out.data().setData(values);
        return out;
    }

    /**
     * {@code (clamp(rint((x - beta_g)/s_g) + z_g, qmin, qmax) - z_g) s_g + beta_g}.
     *
     * @param beta offsets per group or null (0); @param z zero points per group or null (0)
     */
    static double[] forward(double[] x, Groups g, double[] s, double[] beta, int[] z, int qmin, int qmax) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int k = g.of(i);
            double b = beta == null ? 0 : beta[k];
            int zp = z == null ? 0 : z[k];
            double q = Math.min(qmax, Math.max(qmin, Math.rint((x[i] - b) / s[k]) + zp));
            out[i] = (q - zp) * s[k] + b;
        }
        return out;
    }

    /**
     * Clipped STE in place on {@code grad} (dL/dx^ in, dL/dx out: kept where
     * {@code qmin <= (x - beta)/s + z <= qmax}), accumulating LSQ's step gradient
     * ({@code rint(v) - v} inside, qmin below, qmax above) and LSQ+'s offset gradient (1 outside),
     * each times {@code gradScale}, into {@code stepGrad}/{@code offsetGrad} when not null.
     */
    static void backward(double[] x, double[] grad, Groups g, double[] s, double[] beta, int[] z, int qmin, int qmax,
                         double[] stepGrad, double[] offsetGrad, double gradScale) {
        for (int i = 0; i < x.length; i++) {
            int k = g.of(i);
            double b = beta == null ? 0 : beta[k];
            int zp = z == null ? 0 : z[k];
            double v = (x[i] - b) / s[k];
            double u = v + zp;
            double gi = grad[i];
            if (u < qmin) {
                grad[i] = 0;
                if (stepGrad != null) {
                    stepGrad[k] += gi * qmin;
                }
                if (offsetGrad != null) {
                    offsetGrad[k] += gi;
                }
            } else if (u > qmax) {
                grad[i] = 0;
                if (stepGrad != null) {
                    stepGrad[k] += gi * qmax;
                }
                if (offsetGrad != null) {
                    offsetGrad[k] += gi;
                }
            } else if (stepGrad != null) {
                stepGrad[k] += gi * (Math.rint(v) - v);
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

    /** PACT: {@code rint(clamp(x, 0, alpha) k) / k}, {@code k = levels / alpha}. */
    static double[] pact(double[] x, double alpha, int levels) {
        double k = levels / alpha;
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = Math.rint(Math.min(alpha, Math.max(0, x[i])) * k) / k;
        }
        return out;
    }

    /** PACT backward in place on {@code grad} (kept for {@code 0 <= x < alpha}); returns the alpha gradient without decay. */
    static double pactBackward(double[] x, double[] grad, double alpha) {
        double alphaGrad = 0;
        for (int i = 0; i < x.length; i++) {
            if (x[i] >= alpha) {
                alphaGrad += grad[i];
                grad[i] = 0;
            } else if (x[i] < 0) {
                grad[i] = 0;
            }
        }
        return alphaGrad;
    }
}
