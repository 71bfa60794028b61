package io.qat4j.layers.conf;

import java.util.Collection;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.regularization.Regularization;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.impl.QuantizedDepthwiseConvolutionImpl;
import io.qat4j.layers.params.QuantizedDepthwiseConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * A DL4J {@link DepthwiseConvolution2D} (2-D, NCHW; kernel, stride, padding, dilation, convolution
 * mode and depth multiplier as configured; {@code nOut = nIn * depthMultiplier}) whose weights and
 * input are fake-quantized according to {@link QuantSettings}. Weights ({@code W},
 * {@code [kH, kW, nIn, depthMultiplier]} as DL4J stores them) are quantized per output channel
 * {@code o = c * depthMultiplier + m} (or per tensor), the bias on the int32 grid
 * {@code s_x s_w[o]}; the integer model runs it as one depthwise node (TFLite's
 * {@code DepthwiseConv}). Its implementation runs libnd4j's native {@code depthwise_conv2d} and
 * {@code depthwise_conv2d_bp}; with quantization disabled it computes what the DL4J layer computes.
 * DL4J dropout on the layer applies to its input before the input quantizer (training only).
 * Build one with {@link #of}.
 */
public class QuantizedDepthwiseConvolutionLayer extends DepthwiseConvolution2D implements QuantizedLayerConf {

    private static final long serialVersionUID = 1L;

    private QuantSettings quant = new QuantSettings();

    /** For JSON deserialization; prefer {@link #of}. */
    public QuantizedDepthwiseConvolutionLayer() {
    }

    /**
     * The quantized version of {@code base} (all of its fields copied) with {@code quant} (copied).
     *
     * @throws IllegalArgumentException naming the layer if {@code base} is a subclass of
     *                                  DepthwiseConvolution2D, is not NCHW, has weight noise, or
     *                                  {@code quant} is invalid
     */
    public static QuantizedDepthwiseConvolutionLayer of(DepthwiseConvolution2D base, QuantSettings quant) {
        String name = base.getLayerName() == null ? "(unnamed)" : base.getLayerName();
        if (base.getClass() != DepthwiseConvolution2D.class && !(base instanceof QuantizedDepthwiseConvolutionLayer)) {
            throw new IllegalArgumentException("layer '" + name + "': " + base.getClass().getSimpleName()
                    + " is not a plain DepthwiseConvolution2D; only DepthwiseConvolution2D itself can be quantized");
        }
        requireNchw(base.getCnn2dDataFormat(), name);
        QuantizedDepthwiseConvolutionLayer q = new QuantizedDepthwiseConvolutionLayer();
        ConfigCopy.copy(base.clone(), q, org.deeplearning4j.nn.conf.layers.Layer.class);
        UnsupportedFeatures.requireSupported(base, base.getLayerName(), false);
        quant.validate(q.nameForMessages(base.getLayerName()));
        q.quant = quant.clone();
        return q;
    }

    /** NCHW or not yet set (DL4J sets it from the input type; {@code instantiate} checks again). */
    private static void requireNchw(CNN2DFormat format, String name) {
        if (format != null && format != CNN2DFormat.NCHW) {
            throw new IllegalArgumentException("layer '" + name + "': quantized depthwise convolutions support NCHW only, got " + format
                    + "; use InputType.convolutional(h, w, c) (channels first)");
        }
    }

    @Override
    public QuantSettings getQuant() {
        return quant;
    }

    @Override
    public void setQuant(QuantSettings quant) {
        this.quant = quant;
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners,
                                                       int layerIndex, INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        LayerValidation.assertNInNOutSet("QuantizedDepthwiseConvolutionLayer", getLayerName(), layerIndex, getNIn(), getNOut());
        quant.validate(nameForMessages(getLayerName()));
        requireNchw(getCnn2dDataFormat(), nameForMessages(getLayerName()));
        return LayerParamWiring.wire(new QuantizedDepthwiseConvolutionImpl(conf, networkDataType), conf, listeners, layerIndex,
                layerParamsView, initializeParams, initializer());
    }

    @Override
    public ParamInitializer initializer() {
        return QuantizedDepthwiseConvolutionParamInitializer.getInstance();
    }

    @Override
    public IUpdater getUpdaterByParam(String paramName) {
        return LayerParamWiring.updater(paramName, QuantizerParams.isStateParam(paramName), () -> super.getUpdaterByParam(paramName));
    }

    @Override
    public List<Regularization> getRegularizationByParam(String paramName) {
        return LayerParamWiring.regularization(paramName, () -> super.getRegularizationByParam(paramName));
    }

    @Override
    public QuantizedDepthwiseConvolutionLayer clone() {
        QuantizedDepthwiseConvolutionLayer c = (QuantizedDepthwiseConvolutionLayer) super.clone();
        c.quant = quant.clone();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedDepthwiseConvolutionLayer q && super.equals(o) && Objects.equals(quant, q.quant);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + Objects.hashCode(quant);
    }
}
