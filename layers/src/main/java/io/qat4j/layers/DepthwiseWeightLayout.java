package io.qat4j.layers;

import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * How DL4J 1.0.0-M2.1 stores depthwise kernels, and the one conversion to and from the
 * channels-first layout {@code [nIn * depthMultiplier, kH, kW]} that qat4j quantizes, folds and
 * exports them in (output channel axis 0, like a convolution's {@code [out, in, kh, kw]}).
 *
 * <p>Output channel order: DL4J runs libnd4j's {@code depthwise_conv2d} with weights
 * {@code [kH, kW, iC, mC]}; output channel {@code o = c * depthMultiplier + m} is input channel
 * {@code c} convolved with its filter {@code m} (TFLite's depthwise channel order too). Both layouts
 * below give channel {@code o} as row {@code o} of the channels-first array.
 */
public enum DepthwiseWeightLayout {

    /** {@link DepthwiseConvolution2D}'s {@code W}: {@code [kH, kW, nIn, depthMultiplier]}. */
    DEPTHWISE,
    /**
     * {@link SeparableConvolution2D}'s depthwise {@code W}: {@code [depthMultiplier, nIn, kH, kW]}
     * (DL4J permutes it to {@code [kH, kW, nIn, depthMultiplier]} before {@code sconv2d}).
     */
    SEPARABLE;

    /** The layout of a stock or quantized depthwise/separable convolution configuration. */
    public static DepthwiseWeightLayout of(org.deeplearning4j.nn.conf.layers.Layer conf) {
        if (conf instanceof DepthwiseConvolution2D) {
            return DEPTHWISE;
        }
        if (conf instanceof SeparableConvolution2D) {
            return SEPARABLE;
        }
        throw new IllegalArgumentException("layer '" + conf.getLayerName() + "' is a " + conf.getClass().getSimpleName()
                + ", not a DepthwiseConvolution2D or SeparableConvolution2D");
    }

    /**
     * The kernel {@code w} (this layout, rank 4) as a new C-order array {@code [nIn * mult, kH, kW]}
     * whose row {@code o = c * mult + m} is the filter of output channel {@code o}.
     */
    public INDArray toChannelsFirst(INDArray w) {
        requireRank4(w);
        long[] s = w.shape();
        return switch (this) {
            case DEPTHWISE -> w.dup('c').reshape('c', s[0], s[1], s[2] * s[3]).permute(2, 0, 1).dup('c');
            case SEPARABLE -> w.permute(1, 0, 2, 3).dup('c').reshape('c', s[1] * s[0], s[2], s[3]);
        };
    }

    /**
     * The inverse of {@link #toChannelsFirst}: {@code k} ({@code [nIn * mult, kH, kW]}) as a new
     * C-order array of this layout's {@code shape}.
     */
    public INDArray fromChannelsFirst(INDArray k, long[] shape) {
        if (shape.length != 4 || k.rank() != 3 || k.length() != shape[0] * shape[1] * shape[2] * shape[3]) {
            throw new IllegalArgumentException(this + " kernel: cannot lay out a channels-first array of shape "
                    + java.util.Arrays.toString(k.shape()) + " as " + java.util.Arrays.toString(shape));
        }
        return switch (this) {
            case DEPTHWISE -> k.permute(1, 2, 0).dup('c').reshape('c', shape);
            case SEPARABLE -> k.dup('c').reshape('c', shape[1], shape[0], shape[2], shape[3]).permute(1, 0, 2, 3).dup('c');
        };
    }

    /** The depth multiplier of a kernel {@code w} in this layout. */
    public long depthMultiplier(INDArray w) {
        requireRank4(w);
        return switch (this) {
            case DEPTHWISE -> w.size(3);
            case SEPARABLE -> w.size(0);
        };
    }

    private void requireRank4(INDArray w) {
        if (w.rank() != 4) {
            throw new IllegalArgumentException(this + " kernel must have rank 4, got shape " + java.util.Arrays.toString(w.shape()));
        }
    }
}
