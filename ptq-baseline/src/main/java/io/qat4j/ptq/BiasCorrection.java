package io.qat4j.ptq;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

/**
 * Empirical bias correction (Nagel et al. 2019; DESIGN.md): quantizing the weights shifts the
 * expected pre-activation output of channel c by {@code E[(W^ - W) x]_c}; subtracting it from the
 * bias makes the quantized layer's mean output equal the float layer's on the calibration data.
 * The expectation is exact for the calibration inputs because the layer is linear in x:
 * {@code E[(W^ - W) x] = (W^ - W) E[x]} (dense), and for a convolution the mean over samples and
 * output positions of {@code conv(x, W^ - W)}, i.e. {@code conv(E[x], W^ - W)} averaged over
 * positions, computed here with the layer's stride, padding, dilation and convolution mode.
 * {@code E[x]} is the float network's input to the layer ({@link Calibration}), in a
 * MultiLayerNetwork or a ComputationGraph alike. Layers without a bias are left alone.
 */
public final class BiasCorrection {

    private BiasCorrection() {
    }

    /**
     * Corrects the bias of {@code layer} of a MultiLayerNetwork or ComputationGraph in place.
     *
     * @param quantized the quantized weights W^ (same shape as W)
     * @return the correction subtracted from each output channel's bias (zeros when the layer has no bias)
     */
    public static double[] apply(Model net, WeightedLayer layer, INDArray quantized, Calibration.LayerInputs inputs) {
        return apply(NetworkView.of(net), layer, quantized, inputs);
    }

    static double[] apply(NetworkView net, WeightedLayer layer, INDArray quantized, Calibration.LayerInputs inputs) {
        org.deeplearning4j.nn.api.Layer l = net.layer(layer.name());
        INDArray w = l.getParam(DefaultParamInitializer.WEIGHT_KEY);
        double[] dw = quantized.castTo(DataType.DOUBLE).sub(w.castTo(DataType.DOUBLE)).dup('c').data().asDouble();
        double[] mean = inputs.mean();
        double[] shift = layer.kind() == WeightedLayer.Kind.CONV
                ? convShift(dw, w.shape(), mean, convInputShape(net, layer.name(), inputs.inputShape()), inputs.outputShape(),
                (ConvolutionLayer) l.conf().getLayer())
                : denseShift(dw, w.shape(), mean);
        INDArray b = l.paramTable().get(DefaultParamInitializer.BIAS_KEY);
        if (b == null) {
            return new double[shift.length];
        }
        double[] bv = b.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        for (int c = 0; c < bv.length; c++) {
            bv[c] -= shift[c];
        }
        l.setParam(DefaultParamInitializer.BIAS_KEY, Nd4j.create(bv, b.shape(), 'c').castTo(b.dataType()));
        return shift;
    }

    /**
     * The {@code [C, H, W]} a convolution sees: the captured input's shape, or, where the captured
     * input is flat and DL4J's FeedForwardToCnnPreProcessor reshapes it (zoo LeNet's first layer), the
     * preprocessor's shape (the same elements in C order, so the per-feature means keep their order).
     */
    private static long[] convInputShape(NetworkView net, String layer, long[] captured) {
        if (captured.length == 3) {
            return captured;
        }
        if (net.vertex(layer).preProcessor() instanceof org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor f) {
            return new long[] {f.getNumChannels(), f.getInputHeight(), f.getInputWidth()};
        }
        throw new IllegalArgumentException("bias correction: convolution '" + layer + "' reads an input of shape "
                + java.util.Arrays.toString(captured) + " and no FeedForwardToCnn preprocessor says its [C, H, W]");
    }

    /** {@code sum_k dW[k, c] mean[k]} for a dense weight {@code [in, out]}. */
    static double[] denseShift(double[] dw, long[] shape, double[] mean) {
        int in = (int) shape[0];
        int out = (int) shape[1];
        if (mean.length != in) {
            throw new IllegalArgumentException("bias correction: dense layer has " + in + " inputs but the calibration mean has " + mean.length);
        }
        double[] s = new double[out];
        for (int k = 0; k < in; k++) {
            for (int c = 0; c < out; c++) {
                s[c] += dw[k * out + c] * mean[k];
            }
        }
        return s;
    }

    /** Mean over output positions of {@code conv(mean, dW)} per output channel, zero padding. */
    static double[] convShift(double[] dw, long[] wShape, double[] mean, long[] inShape, long[] outShape, ConvolutionLayer conf) {
        int o = (int) wShape[0];
        int ci = (int) wShape[1];
        int kh = (int) wShape[2];
        int kw = (int) wShape[3];
        int h = (int) inShape[1];
        int wd = (int) inShape[2];
        int oh = (int) outShape[1];
        int ow = (int) outShape[2];
        int[] stride = conf.getStride();
        int[] dil = conf.getDilation();
        int[] pad = conf.getPadding();
        int padTop = pad[0];
        int padLeft = pad[1];
        if (conf.getConvolutionMode() == ConvolutionMode.Same) {   // DL4J's own Same-mode padding, so the loop matches its conv
            int[] topLeft = ConvolutionUtils.getSameModeTopLeftPadding(new int[] {oh, ow}, new int[] {h, wd}, new int[] {kh, kw}, stride, dil);
            padTop = topLeft[0];
            padLeft = topLeft[1];
        }
        double[] s = new double[o];
        for (int c = 0; c < o; c++) {
            double acc = 0;
            for (int y = 0; y < oh; y++) {
                for (int x = 0; x < ow; x++) {
                    for (int i = 0; i < ci; i++) {
                        for (int u = 0; u < kh; u++) {
                            int iy = y * stride[0] - padTop + u * dil[0];
                            if (iy < 0 || iy >= h) {
                                continue;
                            }
                            for (int v = 0; v < kw; v++) {
                                int ix = x * stride[1] - padLeft + v * dil[1];
                                if (ix >= 0 && ix < wd) {
                                    acc += dw[((c * ci + i) * kh + u) * kw + v] * mean[(i * h + iy) * wd + ix];
                                }
                            }
                        }
                    }
                }
            }
            s[c] = acc / ((double) oh * ow);
        }
        return s;
    }
}
