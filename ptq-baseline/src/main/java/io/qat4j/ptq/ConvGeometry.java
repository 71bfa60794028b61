package io.qat4j.ptq;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.util.ConvolutionUtils;

/** Where a DL4J convolution's windows start, for the PTQ passes that loop over them (bias correction, AdaRound's im2col). */
final class ConvGeometry {

    private ConvGeometry() {
    }

    /**
     * The top and left padding of {@code conf} on an {@code h x w} input giving an {@code oh x ow}
     * output: its configured padding, or in Same mode DL4J's own top-left padding
     * ({@code ConvolutionUtils.getSameModeTopLeftPadding}), so the loops match DL4J's convolution.
     *
     * @param kernel {@code {kh, kw}}
     */
    static int[] topLeftPadding(ConvolutionLayer conf, int[] kernel, int h, int w, int oh, int ow) {
        if (conf.getConvolutionMode() == ConvolutionMode.Same) {
            return ConvolutionUtils.getSameModeTopLeftPadding(new int[] {oh, ow}, new int[] {h, w}, kernel, conf.getStride(),
                    conf.getDilation());
        }
        return new int[] {conf.getPadding()[0], conf.getPadding()[1]};
    }
}
