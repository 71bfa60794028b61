package io.qat4j.layers.conf;

import java.util.Collection;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.regularization.Regularization;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.impl.QuantizedConvolutionImpl;
import io.qat4j.layers.params.QuantizedConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * A DL4J {@link ConvolutionLayer} (2-D, NCHW; kernel, stride, padding, dilation and convolution
 * mode as configured) whose weights ({@code [out, in, kh, kw]}, channels on axis 0) and inputs are
 * fake-quantized according to {@link QuantSettings}. Its implementation runs libnd4j's native
 * {@code conv2d}/{@code conv2d_bp} ops (oneDNN on CPU), not DL4J's Java im2col path; with
 * quantization disabled it computes what the DL4J convolution computes. Build one with {@link #of}.
 */
public class QuantizedConvolutionLayer extends ConvolutionLayer implements QuantizedLayerConf {

    private static final long serialVersionUID = 1L;

    private QuantSettings quant = new QuantSettings();

    /** For JSON deserialization; prefer {@link #of}. */
    public QuantizedConvolutionLayer() {
    }

    /** The quantized version of {@code base} (all of its fields copied) with {@code quant} (copied). */
    public static QuantizedConvolutionLayer of(ConvolutionLayer base, QuantSettings quant) {
        String name = base.getLayerName() == null ? "(unnamed)" : base.getLayerName();
        if (base.getClass() != ConvolutionLayer.class && !(base instanceof QuantizedConvolutionLayer)) {
            throw new IllegalArgumentException("layer '" + name + "': " + base.getClass().getSimpleName()
                    + " is not a plain 2-D convolution; only ConvolutionLayer can be quantized");
        }
        if (base.getCnn2dDataFormat() != CNN2DFormat.NCHW) {
            throw new IllegalArgumentException("layer '" + name + "': quantized convolutions support NCHW only, got "
                    + base.getCnn2dDataFormat());
        }
        QuantizedConvolutionLayer q = new QuantizedConvolutionLayer();
        ConfigCopy.copy(base.clone(), q, org.deeplearning4j.nn.conf.layers.Layer.class);
        UnsupportedFeatures.requireSupported(base, base.getLayerName(), false);
        quant.validate(q.nameForMessages(base.getLayerName()));
        q.quant = quant.clone();
        return q;
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
        LayerValidation.assertNInNOutSet("QuantizedConvolutionLayer", getLayerName(), layerIndex, getNIn(), getNOut());
        quant.validate(nameForMessages(getLayerName()));
        return LayerParamWiring.wire(new QuantizedConvolutionImpl(conf, networkDataType), conf, listeners, layerIndex, layerParamsView,
                initializeParams, initializer());
    }

    @Override
    public ParamInitializer initializer() {
        return QuantizedConvolutionParamInitializer.getInstance();
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
    public QuantizedConvolutionLayer clone() {
        QuantizedConvolutionLayer c = (QuantizedConvolutionLayer) super.clone();
        c.quant = quant.clone();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedConvolutionLayer q && super.equals(o) && Objects.equals(quant, q.quant);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + Objects.hashCode(quant);
    }
}
