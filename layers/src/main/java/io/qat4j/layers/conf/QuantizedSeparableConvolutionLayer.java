package io.qat4j.layers.conf;

import java.util.Collection;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.regularization.Regularization;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl;
import io.qat4j.layers.params.QuantizedSeparableConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * A DL4J {@link SeparableConvolution2D} (NCHW; depthwise {@code W} {@code [depthMultiplier, nIn, kH, kW]},
 * pointwise {@code pW} {@code [nOut, nIn depthMultiplier, 1, 1]}, bias {@code b} {@code [nOut]})
 * trained as the integer model runs it: two nodes, a depthwise convolution whose output becomes an
 * int8 tensor, then a 1x1 convolution. So the layer computes
 * <pre>
 *   d = depthwise(Q_x(x), Q_w(W))              (no bias; channel o = c * depthMultiplier + m)
 *   y = act(conv1x1(Q_mid(d), Q_pw(pW)) + Q_b(b))
 * </pre>
 * with the input quantizer {@code Q_x}, the per-output-channel (or per-tensor) weight quantizers
 * {@code Q_w} (channels {@code nIn depthMultiplier}) and {@code Q_pw} (channels {@code nOut}), the
 * "mid" quantizer {@code Q_mid} on the depthwise output, and the bias on the int32 grid
 * {@code s_mid s_pw[o]}. {@code Q_mid} has the input quantizer's mode and bits, its own parameters
 * ({@code midX*} keys, {@link QuantizedSeparableConvolutionParamInitializer}) and its own signedness:
 * it starts unsigned and becomes signed at the first clearly negative depthwise output (whatever
 * {@link QuantSettings#isInputSignFromData()} says about the layer input); a plan sets its range
 * under {@link #midQuantizerName}, the pointwise weight scales under {@link #pointwiseName} (the
 * depthwise ones under the layer's name). Messages name the parts {@code name/mid} and
 * {@code name/pointwise} (with the quantizer keys unprefixed). With quantization disabled the layer
 * computes what DL4J's separable convolution computes. DL4J dropout applies to the layer input,
 * before {@code Q_x}.
 */
public class QuantizedSeparableConvolutionLayer extends SeparableConvolution2D implements QuantizedLayerConf {

    private static final long serialVersionUID = 1L;

    /** Suffix of the mid quantizer's name in messages and in a {@code QuantizationPlan}'s input ranges. */
    public static final String MID_SUFFIX = "/mid";
    /** Suffix of the pointwise part's name in messages and in a {@code QuantizationPlan}'s weight scales. */
    public static final String POINTWISE_SUFFIX = "/pointwise";

    private QuantSettings quant = new QuantSettings();
    /** Whether the mid quantizer is signed (set by the layer from the data; default false). */
    private boolean midInputSigned;

    /** For JSON deserialization; prefer {@link #of}. */
    public QuantizedSeparableConvolutionLayer() {
    }

    /**
     * The quantized version of {@code base} (all of its fields copied) with {@code quant} (copied).
     *
     * @throws IllegalArgumentException naming the layer if {@code base} is a subclass of
     *                                  SeparableConvolution2D, is not NCHW, has weight noise, or
     *                                  {@code quant} is invalid
     */
    public static QuantizedSeparableConvolutionLayer of(SeparableConvolution2D base, QuantSettings quant) {
        String name = base.getLayerName() == null ? "(unnamed)" : base.getLayerName();
        if (base.getClass() != SeparableConvolution2D.class && !(base instanceof QuantizedSeparableConvolutionLayer)) {
            throw new IllegalArgumentException("layer '" + name + "': " + base.getClass().getSimpleName()
                    + " is not a plain SeparableConvolution2D; only SeparableConvolution2D itself can be quantized");
        }
        requireNchw(base.getCnn2dDataFormat(), name);
        QuantizedSeparableConvolutionLayer q = new QuantizedSeparableConvolutionLayer();
        ConfigCopy.copy(base.clone(), q, org.deeplearning4j.nn.conf.layers.Layer.class);
        UnsupportedFeatures.requireSupported(base, base.getLayerName(), false);
        quant.validate(q.nameForMessages(base.getLayerName()));
        q.quant = quant.clone();
        q.midInputSigned = false;
        return q;
    }

    /** The name of the mid quantizer of layer {@code layerName}: {@code layerName + "/mid"}. */
    public static String midQuantizerName(String layerName) {
        return layerName + MID_SUFFIX;
    }

    /**
     * The name of the pointwise part of layer {@code layerName}: {@code layerName + "/pointwise"}. A
     * {@code QuantizationPlan} gives the pointwise weight scales under it (the layer's own name holds
     * the depthwise weight scales).
     */
    public static String pointwiseName(String layerName) {
        return layerName + POINTWISE_SUFFIX;
    }

    /**
     * The mid quantizer's settings: a copy of {@link #getQuant()} with its own signedness
     * ({@link #isMidInputSigned()}) and signedness taken from the data. Its input part describes the
     * mid quantizer; its weight part is the layer's, so that it also describes the pointwise
     * accumulator grid {@code s_mid s_pw[o]}. A new copy each call: the layer writes a change of
     * signedness back through {@link #setMidInputSigned}.
     */
    public QuantSettings midQuantizerSettings() {
        QuantSettings m = quant.clone();
        m.setInputSigned(midInputSigned);
        m.setInputSignFromData(true);
        return m;
    }

    public boolean isMidInputSigned() {
        return midInputSigned;
    }

    public void setMidInputSigned(boolean midInputSigned) {
        this.midInputSigned = midInputSigned;
    }

    /** NCHW or not yet set (DL4J sets it from the input type; {@code instantiate} checks again). */
    private static void requireNchw(CNN2DFormat format, String name) {
        if (format != null && format != CNN2DFormat.NCHW) {
            throw new IllegalArgumentException("layer '" + name + "': quantized separable convolutions support NCHW only, got " + format
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
        LayerValidation.assertNInNOutSet("QuantizedSeparableConvolutionLayer", getLayerName(), layerIndex, getNIn(), getNOut());
        quant.validate(nameForMessages(getLayerName()));
        requireNchw(getCnn2dDataFormat(), nameForMessages(getLayerName()));
        return LayerParamWiring.wire(new QuantizedSeparableConvolutionImpl(conf, networkDataType), conf, listeners, layerIndex,
                layerParamsView, initializeParams, initializer());
    }

    @Override
    public ParamInitializer initializer() {
        return QuantizedSeparableConvolutionParamInitializer.getInstance();
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
    public QuantizedSeparableConvolutionLayer clone() {
        QuantizedSeparableConvolutionLayer c = (QuantizedSeparableConvolutionLayer) super.clone();
        c.quant = quant.clone();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedSeparableConvolutionLayer q && super.equals(o) && Objects.equals(quant, q.quant)
                && midInputSigned == q.midInputSigned;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), quant, midInputSigned);
    }
}
