package io.qat4j.ptq;

import java.util.EnumMap;
import java.util.Map;

import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.api.Model;
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
 * positions, computed here with the layer's stride, padding, dilation and convolution mode. A
 * depthwise convolution is the same per output channel {@code o = c mult + m}, whose filter reads
 * input channel {@code c} only. A separable convolution's bias comes after its pointwise part, so
 * its shift is that of the whole layer with both kernels quantized:
 * {@code E[y^ - y]_o = sum_k (pW^[o,k] a^_k - pW[o,k] a_k)}, where {@code a_k} ({@code a^_k}) is the
 * position mean of {@code depthwise(E[x], W)} ({@code W^}) in mid channel k (the 1x1 pointwise
 * kernel keeps positions; the mid quantizer is left out, as every activation quantizer is here).
 * {@code E[x]} is the float network's input to the layer ({@link Calibration}), in a
 * MultiLayerNetwork or a ComputationGraph alike. Layers without a bias are left alone.
 */
public final class BiasCorrection {

    private BiasCorrection() {
    }

    /**
     * Corrects the bias of {@code layer} (one weight tensor: CONV, DENSE or DEPTHWISE) of a
     * MultiLayerNetwork or ComputationGraph in place.
     *
     * @param quantized the quantized weights W^ in the quantizer layout ({@link WeightedLayer#toQuantizerLayout}: W's own
     *                  shape for CONV and DENSE, channels first {@code [nIn mult, kh, kw]} for DEPTHWISE)
     * @return the correction subtracted from each output channel's bias (zeros when the layer has no bias)
     * @throws IllegalArgumentException for a SEPARABLE layer (give both kernels to the map overload)
     */
    public static double[] apply(Model net, WeightedLayer layer, INDArray quantized, Calibration.LayerInputs inputs) {
        if (layer.tensors().size() != 1) {
            throw new IllegalArgumentException("bias correction: layer '" + layer.name() + "' (" + layer.kind() + ") has the weight tensors "
                    + layer.tensors() + "; give the quantized weights of each (the overload taking a map)");
        }
        return apply(NetworkView.of(net), layer, Map.of(WeightedLayer.Tensor.WEIGHTS, quantized), inputs);
    }

    /**
     * Corrects the bias of {@code layer} (any kind) of a MultiLayerNetwork or ComputationGraph in place.
     *
     * @param quantized the quantized version of each of the layer's weight tensors ({@link WeightedLayer#tensors}), in
     *                  the quantizer layout
     * @return the correction subtracted from each output channel's bias (zeros when the layer has no bias)
     * @throws IllegalArgumentException naming the layer when a tensor is missing or has the wrong shape
     */
    public static double[] apply(Model net, WeightedLayer layer, Map<WeightedLayer.Tensor, INDArray> quantized, Calibration.LayerInputs inputs) {
        return apply(NetworkView.of(net), layer, quantized, inputs);
    }

    static double[] apply(NetworkView net, WeightedLayer layer, Map<WeightedLayer.Tensor, INDArray> quantized, Calibration.LayerInputs inputs) {
        org.deeplearning4j.nn.api.Layer l = net.layer(layer.name());
        Map<WeightedLayer.Tensor, double[]> w = new EnumMap<>(WeightedLayer.Tensor.class);
        Map<WeightedLayer.Tensor, double[]> q = new EnumMap<>(WeightedLayer.Tensor.class);
        Map<WeightedLayer.Tensor, long[]> shapes = new EnumMap<>(WeightedLayer.Tensor.class);
        for (WeightedLayer.Tensor t : layer.tensors()) {
            INDArray wt = layer.read(l, t);
            INDArray qt = quantized.get(t);
            if (qt == null || !java.util.Arrays.equals(qt.shape(), wt.shape())) {
                throw new IllegalArgumentException("bias correction: layer '" + layer.name() + "' needs its quantized " + t + " of shape "
                        + java.util.Arrays.toString(wt.shape()) + " (the quantizer layout), got "
                        + (qt == null ? "none" : java.util.Arrays.toString(qt.shape())));
            }
            w.put(t, doubles(wt));
            q.put(t, doubles(qt));
            shapes.put(t, wt.shape());
        }
        double[] mean = inputs.mean();
        long[] wShape = shapes.get(WeightedLayer.Tensor.WEIGHTS);
        double[] shift = switch (layer.kind()) {
            case DENSE -> denseShift(minus(q.get(WeightedLayer.Tensor.WEIGHTS), w.get(WeightedLayer.Tensor.WEIGHTS)), wShape, mean);
            case CONV -> positionMeans(minus(q.get(WeightedLayer.Tensor.WEIGHTS), w.get(WeightedLayer.Tensor.WEIGHTS)),
                    new int[] {(int) wShape[0], (int) wShape[1], (int) wShape[2], (int) wShape[3]}, (int) wShape[0], mean,
                    net.cnnInputShape(layer.name(), inputs.inputShape()), inputs.outputShape(), (ConvolutionLayer) l.conf().getLayer());
            case DEPTHWISE -> depthwiseMeans(minus(q.get(WeightedLayer.Tensor.WEIGHTS), w.get(WeightedLayer.Tensor.WEIGHTS)), wShape, mean,
                    net.cnnInputShape(layer.name(), inputs.inputShape()), inputs.outputShape(), (ConvolutionLayer) l.conf().getLayer());
            case SEPARABLE -> {
                long[] in = net.cnnInputShape(layer.name(), inputs.inputShape());
                ConvolutionLayer conf = (ConvolutionLayer) l.conf().getLayer();
                double[] a = depthwiseMeans(w.get(WeightedLayer.Tensor.WEIGHTS), wShape, mean, in, inputs.outputShape(), conf);
                double[] aq = depthwiseMeans(q.get(WeightedLayer.Tensor.WEIGHTS), wShape, mean, in, inputs.outputShape(), conf);
                double[] p = w.get(WeightedLayer.Tensor.POINTWISE);
                double[] pq = q.get(WeightedLayer.Tensor.POINTWISE);
                int out = (int) shapes.get(WeightedLayer.Tensor.POINTWISE)[0];
                int k = a.length;
                double[] s = new double[out];
                for (int o = 0; o < out; o++) {
                    for (int c = 0; c < k; c++) {
                        s[o] += pq[o * k + c] * aq[c] - p[o * k + c] * a[c];
                    }
                }
                yield s;
            }
        };
        INDArray b = l.paramTable().get(DefaultParamInitializer.BIAS_KEY);
        if (b == null) {
            return new double[shift.length];
        }
        double[] bv = doubles(b);
        for (int c = 0; c < bv.length; c++) {
            bv[c] -= shift[c];
        }
        l.setParam(DefaultParamInitializer.BIAS_KEY, Nd4j.create(bv, b.shape(), 'c').castTo(b.dataType()));
        return shift;
    }

    private static double[] doubles(INDArray a) {
        return a.castTo(DataType.DOUBLE).dup('c').data().asDouble();
    }

    private static double[] minus(double[] a, double[] b) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i] - b[i];
        }
        return d;
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

    /**
     * Mean over output positions of {@code depthwise(mean, k)} per output channel {@code o = c mult + m}
     * (filter o reads input channel {@code c = o / mult}); {@code k} channels first {@code [nIn mult, kh, kw]}.
     */
    static double[] depthwiseMeans(double[] k, long[] kShape, double[] mean, long[] inShape, long[] outShape, ConvolutionLayer conf) {
        int channels = (int) inShape[0];
        if (kShape[0] % channels != 0) {
            throw new IllegalArgumentException("bias correction: depthwise layer '" + conf.getLayerName() + "' has " + kShape[0]
                    + " filters, not a multiple of its " + channels + " input channels");
        }
        return positionMeans(k, new int[] {(int) kShape[0], 1, (int) kShape[1], (int) kShape[2]}, (int) (kShape[0] / channels), mean,
                inShape, outShape, conf);
    }

    /**
     * Mean over output positions of a grouped convolution of {@code mean} ({@code [C, H, W]}, c-order)
     * with kernel {@code k} ({@code [O, I, kh, kw]}, c-order, {@code kShape} these four) per output
     * channel, zero padding: output channel c reads the I input channels from {@code (c / perGroup) I},
     * {@code perGroup} output channels per group (O for a plain convolution, the depth multiplier for a
     * depthwise one, I = 1).
     */
    static double[] positionMeans(double[] k, int[] kShape, int perGroup, double[] mean, long[] inShape, long[] outShape,
                                  ConvolutionLayer conf) {
        int o = kShape[0];
        int ci = kShape[1];
        int kh = kShape[2];
        int kw = kShape[3];
        int h = (int) inShape[1];
        int wd = (int) inShape[2];
        int oh = (int) outShape[1];
        int ow = (int) outShape[2];
        int[] stride = conf.getStride();
        int[] dil = conf.getDilation();
        int[] topLeft = ConvGeometry.topLeftPadding(conf, new int[] {kh, kw}, h, wd, oh, ow);
        int padTop = topLeft[0];
        int padLeft = topLeft[1];
        double[] s = new double[o];
        for (int c = 0; c < o; c++) {
            int first = (c / perGroup) * ci;
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
                                    acc += k[((c * ci + i) * kh + u) * kw + v] * mean[((first + i) * h + iy) * wd + ix];
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
