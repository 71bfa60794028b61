package io.qat4j.ptq;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.ste.BitWidths;

/**
 * Weight scales for the symmetric narrow-range weight quantizer of {@code io.qat4j.layers}
 * ({@code q in [-(2^(b-1)-1), 2^(b-1)-1]}, z = 0, rounding half to even), per output channel or per
 * tensor. The scale is {@code t / qmax} where t is {@code max|w|} (MINMAX) or the clip threshold
 * minimizing the squared error of the group's weights (MSE, searched over
 * {@code t = max|w| * k / 200}, k = 1..200, i.e. 0.5% to 100% of the range in 0.5% steps).
 */
public final class WeightRanges {

    /** Smallest scale written (all-zero channels get it instead of 0). */
    public static final double MIN_SCALE = 1e-8;

    private WeightRanges() {
    }

    /**
     * @param w          weights (conv {@code [out, in, kh, kw]}, dense {@code [in, out]})
     * @param outAxis    output-channel axis (0 conv, 1 dense)
     * @param bits       2..16
     * @param perChannel one scale per output channel, or one for the tensor
     */
    public static double[] scales(INDArray w, int outAxis, int bits, boolean perChannel, WeightRangeMethod method) {
        BitWidths.checkWeightBits("weight bits", bits, BitWidths.Target.SIMULATION);
        double[][] groups = groups(w, outAxis, perChannel);
        int qmax = (1 << (bits - 1)) - 1;
        double[] scales = new double[groups.length];
        for (int g = 0; g < groups.length; g++) {
            double max = 0;
            for (double v : groups[g]) {
                max = Math.max(max, Math.abs(v));
            }
            double t = switch (method) {
                case MINMAX -> max;
                case MSE -> mseThreshold(groups[g], max, qmax);
            };
            scales[g] = Math.max(t / qmax, MIN_SCALE);
        }
        return scales;
    }

    static double mseThreshold(double[] values, double max, int qmax) {
        double best = max;
        double bestErr = Double.POSITIVE_INFINITY;
        for (int k = 200; k >= 1; k--) {
            double t = max * k / 200.0;
            double err = squaredError(values, t / qmax, qmax);
            if (err < bestErr) {
                bestErr = err;
                best = t;
            }
        }
        return best;
    }

    /** {@code sum (w - s clamp(rint(w/s), -qmax, qmax))^2}. */
    public static double squaredError(double[] values, double scale, int qmax) {
        if (scale <= 0) {
            double e = 0;
            for (double v : values) {
                e += v * v;
            }
            return e;
        }
        double err = 0;
        for (double v : values) {
            double q = Math.max(-qmax, Math.min(qmax, Math.rint(v / scale)));
            double d = v - q * scale;
            err += d * d;
        }
        return err;
    }

    /** The weights grouped by output channel (or one group). */
    static double[][] groups(INDArray w, int outAxis, boolean perChannel) {
        double[] all = w.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        if (!perChannel) {
            return new double[][] {all};
        }
        long[] shape = w.shape();
        int channels = (int) shape[outAxis];
        long inner = 1;
        for (int d = outAxis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        int per = (int) (all.length / channels);
        double[][] out = new double[channels][per];
        int[] fill = new int[channels];
        for (int i = 0; i < all.length; i++) {
            int c = (int) ((i / inner) % channels);
            out[c][fill[c]++] = all[i];
        }
        return out;
    }
}
