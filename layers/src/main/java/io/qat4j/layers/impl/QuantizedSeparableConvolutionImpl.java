package io.qat4j.layers.impl;

import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.SeparableConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.layers.DepthwiseWeightLayout;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * Implementation of {@link QuantizedSeparableConvolutionLayer}, as the two integer nodes compute it:
 * dropout (training), {@code Q_x}, native {@code depthwise_conv2d} (no bias) with the
 * channels-first-quantized depthwise weights, the mid quantizer {@code Q_mid} on its output, then a
 * native 1x1 {@code conv2d} with the quantized pointwise weights and the bias on the grid
 * {@code s_mid s_pw[o]}, then the activation. Backward runs the same chain in reverse:
 * {@code conv2d_bp}, the pointwise weight quantizer, {@code Q_mid}'s backward (STE, LSQ/PACT
 * gradients into the {@code midX*} parameters), {@code depthwise_conv2d_bp}, the depthwise weight
 * quantizer and {@code Q_x}'s backward. A training forward pass keeps its intermediate tensors
 * (outside workspaces) for the backward pass of the same batch.
 */
public class QuantizedSeparableConvolutionImpl extends org.deeplearning4j.nn.layers.convolution.SeparableConvolution2DLayer {

    private static final long serialVersionUID = 1L;
    private static final String W = SeparableConvolutionParamInitializer.DEPTH_WISE_WEIGHT_KEY;
    private static final String PW = SeparableConvolutionParamInitializer.POINT_WISE_WEIGHT_KEY;
    private static final String B = SeparableConvolutionParamInitializer.BIAS_KEY;

    /** Input quantizer and depthwise weights. */
    private final transient LayerQuantizers quantizers = new LayerQuantizers();
    /** Pointwise weights (its weight cache; it quantizes no input). */
    private final transient LayerQuantizers pointwiseSupport = new LayerQuantizers();
    /** Floor of the mid quantizer's learned step or alpha from the last training batch (NaN before one). */
    private transient double midFloor = Double.NaN;

    /** State of a training forward pass, consumed by its backward pass. */
    private transient INDArray fwdInput;
    private transient INDArray fwdPreActivation;
    private transient INDArray fwdMid;
    private transient INDArray fwdMidQuantized;

    public QuantizedSeparableConvolutionImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private QuantizedSeparableConvolutionLayer qconf() {
        return (QuantizedSeparableConvolutionLayer) conf.getLayer();
    }

    private QuantSettings settings() {
        return qconf().getQuant();
    }

    private String name() {
        return LayerQuantizers.name(this);
    }

    private String midName() {
        return QuantizedSeparableConvolutionLayer.midQuantizerName(name());
    }

    /** The pointwise part's name in messages (its quantizer keys are prefixed {@code p} in the layer, unprefixed in messages). */
    private String pointwiseName() {
        return QuantizedSeparableConvolutionLayer.pointwiseName(name());
    }

    /** The depthwise weights {@code W} in channels-first layout {@code [nIn mult, kH, kW]} (a new array). */
    public INDArray channelsFirstWeights() {
        return DepthwiseWeightLayout.SEPARABLE.toChannelsFirst(getParam(W));
    }

    /** The pointwise weight quantizer's parameters under the standard weight keys. */
    private Map<String, INDArray> pointwiseParams() {
        return QuantizerParams.unprefixed(paramTable(), QuantizerParams.POINTWISE_PREFIX);
    }

    /** The mid quantizer's parameters under the standard input keys. */
    private Map<String, INDArray> midParams() {
        return QuantizerParams.unprefixed(paramTable(), QuantizerParams.MID_PREFIX);
    }

    /**
     * The depthwise part of a separable convolution on {@code x} ({@code [n, nIn, h, w]}), as this
     * layer computes it before its mid quantizer with quantization off: libnd4j's
     * {@code depthwise_conv2d} with the layer's float {@code W}, its stride, padding, dilation and
     * convolution mode, no bias. Output {@code [n, nIn mult, oH, oW]}, channel {@code o = c mult + m},
     * in the layer's data type; a new array outside workspaces. This is the tensor
     * {@code <layer>/mid} that PTQ calibrates for the mid quantizer.
     *
     * @param layer a stock {@code SeparableConvolution2D} layer or a quantized one (NCHW)
     * @throws IllegalArgumentException naming the layer for another layer type or an input that is not rank 4 with nIn channels
     */
    public static INDArray depthwiseOutput(org.deeplearning4j.nn.api.Layer layer, INDArray x) {
        org.deeplearning4j.nn.conf.layers.Layer lc = layer.conf().getLayer();
        if (!(lc instanceof org.deeplearning4j.nn.conf.layers.SeparableConvolution2D c)) {
            throw new IllegalArgumentException("layer '" + lc.getLayerName() + "' is a " + lc.getClass().getSimpleName()
                    + ", not a SeparableConvolution2D");
        }
        if (x.rank() != 4 || x.size(1) != c.getNIn()) {
            throw new IllegalArgumentException("layer '" + lc.getLayerName() + "': the depthwise part reads NCHW input with " + c.getNIn()
                    + " channels, got shape " + Arrays.toString(x.shape()));
        }
        INDArray w = layer.getParam(W);
        long[] s = w.shape();
        INDArray kernel = DepthwiseWeightLayout.DEPTHWISE.fromChannelsFirst(DepthwiseWeightLayout.SEPARABLE.toChannelsFirst(w),
                new long[] {s[2], s[3], s[1], s[0]});
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return NativeConvolution.depthwise(NativeConvolution.Geometry.of(c), x.castTo(w.dataType()), kernel, null, w.dataType(),
                    LayerWorkspaceMgr.noWorkspaces(), ArrayType.ACTIVATIONS);
        }
    }

    /** Weight steps (and LSQ+ offsets) of both weight tensors from the current weights; nothing for other modes. */
    public void initializeWeightQuantizers() {
        WeightQuantization.initialize(settings(), channelsFirstWeights(), 0, paramTable());
        WeightQuantization.initialize(settings(), getParam(PW), 0, pointwiseParams());
    }

    /** Sets the mid quantizer's range from a calibrated {@code [min, max]} of the depthwise output (a plan's). */
    public void setMidRange(double min, double max) {
        QuantSettings m = qconf().midQuantizerSettings();
        InputQuantization.setRange(m, midParams(), min, max, midName());
        keepMidSign(m);
    }

    private void keepMidSign(QuantSettings m) {
        if (m.isInputSigned() && !qconf().isMidInputSigned()) {
            qconf().setMidInputSigned(true);
        }
    }

    private void checkInput() {
        long channels = qconf().getNIn();
        if (input.rank() != 4 || input.size(1) != channels) {
            throw new IllegalStateException("QuantizedSeparableConvolutionLayer " + name() + " expects NCHW input of rank 4 with " + channels
                    + " channels, got shape " + Arrays.toString(input.shape()));
        }
    }

    private INDArray bias() {
        return qconf().hasBias() ? getParam(B).reshape(qconf().getNOut()) : null;
    }

    /** Depthwise weights as libnd4j takes them ({@code [kH, kW, nIn, mult]}), fake-quantized when weights are. */
    private INDArray depthwiseKernel(boolean training) {
        INDArray k = channelsFirstWeights();
        INDArray kq = quantizers.quantizeWeights(settings(), k, 0, paramTable(), training, input, name());
        long[] s = getParam(W).shape();
        return DepthwiseWeightLayout.DEPTHWISE.fromChannelsFirst(kq, new long[] {s[2], s[3], s[1], s[0]});
    }

    private INDArray pointwiseKernel(boolean training) {
        return pointwiseSupport.quantizeWeights(settings(), getParam(PW), 0, pointwiseParams(), training, input, pointwiseName());
    }

    /** {@code Q_mid(d)}, or {@code d} when inputs are not quantized (a new detached array otherwise). */
    private INDArray quantizeMid(INDArray d, boolean training) {
        QuantSettings m = qconf().midQuantizerSettings();
        if (!m.quantizesInputs()) {
            return d;
        }
        INDArray q = InputQuantization.forward(m, d, training, midParams(), midName(), f -> midFloor = f);
        keepMidSign(m);
        return q;
    }

    /** The pre-activation into the ACTIVATIONS workspace; in training also the forward state for backprop. */
    private INDArray preActivation(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        checkInput();
        applyDropOutIfNecessary(training, workspaceMgr);   // DL4J's order: dropout on the layer input, then its quantizer
        input = quantizers.quantizeInput(settings(), input, training, paramTable(), name(), workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray mid;
        INDArray midQ;
        INDArray pw;
        INDArray b;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            mid = NativeConvolution.depthwise(NativeConvolution.Geometry.of(qconf()), x, depthwiseKernel(training), null, dataType,
                    LayerWorkspaceMgr.noWorkspaces(), ArrayType.ACTIVATIONS);
            midQ = quantizeMid(mid, training);
            pw = pointwiseKernel(training);
            // the bias grid s_mid s_pw[o]: the mid quantizer's scale, the pointwise weights' scales
            Map<String, INDArray> biasParams = new LinkedHashMap<>(pointwiseParams());
            biasParams.putAll(midParams());
            b = BiasQuantization.forward(qconf().midQuantizerSettings(), bias(), getParam(PW), 0, biasParams, pointwiseName(), training);
        }
        INDArray z = NativeConvolution.conv2d(NativeConvolution.Geometry.pointwise(), midQ, pw, b, dataType, workspaceMgr,
                ArrayType.ACTIVATIONS);
        if (training) {
            fwdInput = input;
            fwdPreActivation = workspaceMgr.dup(ArrayType.ACTIVATIONS, z);   // beside the activations, open until backprop
            fwdMid = mid;
            fwdMidQuantized = midQ;
        }
        return z;
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        return layerConf().getActivationFn().getActivation(preActivation(training, workspaceMgr), training);
    }

    @Override
    protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
        return new Pair<>(preActivation(training, workspaceMgr), null);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        if (fwdPreActivation == null || fwdInput != input) {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                preActivation(true, LayerWorkspaceMgr.noWorkspaces());
            }
        }
        QuantSettings s = settings();
        QuantSettings m = qconf().midQuantizerSettings();
        String name = name();
        INDArray x = input.castTo(dataType);
        // every quantizer gradient is written here except the input quantizer's, which finishBackprop writes
        Set<String> written = new HashSet<>();
        for (String key : gradientViews.keySet()) {
            if (QuantizerParams.isQuantizerParam(key)) {
                gradientViews.get(key).assign(0);
                written.add(key);
            }
        }
        for (QuantizerParams.Entry e : QuantizerParams.inputLayout(s, "")) {
            written.remove(e.key());
        }
        INDArray delta = layerConf().getActivationFn().backprop(fwdPreActivation.dup(), epsilon.castTo(dataType)).getFirst();
        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            // pointwise: dL/dQ_mid(d), dL/dpW^, dL/db
            INDArray gradMidQ = Nd4j.createUninitialized(dataType, fwdMidQuantized.shape(), 'c');
            INDArray b = bias();
            INDArray[] gp = NativeConvolution.conv2dBackprop(NativeConvolution.Geometry.pointwise(), fwdMidQuantized, pointwiseKernel(true),
                    b, delta, gradMidQ);
            if (s.quantizesWeights()) {
                WeightQuantization.backward(s, getParam(PW), 0, pointwiseParams(), gp[0], QuantizerParams.unprefixed(gradientViews,
                        QuantizerParams.POINTWISE_PREFIX), pointwiseName());
            }
            gradientViews.get(PW).assign(gp[0]);
            if (b != null) {
                gradientViews.get(B).assign(gp[1].reshape(gradientViews.get(B).shape()));
            }
            // the mid quantizer, then the depthwise part
            INDArray gradMid = m.quantizesInputs()
                    ? InputQuantization.backward(m, fwdMid, gradMidQ, midParams(), QuantizerParams.unprefixed(gradientViews,
                            QuantizerParams.MID_PREFIX), midName())
                    : gradMidQ;
            INDArray[] gd = NativeConvolution.depthwiseBackprop(NativeConvolution.Geometry.of(qconf()), x, depthwiseKernel(true), null,
                    gradMid, gradInput);
            INDArray gk = DepthwiseWeightLayout.DEPTHWISE.toChannelsFirst(gd[0]);
            if (s.quantizesWeights()) {
                WeightQuantization.backward(s, channelsFirstWeights(), 0, paramTable(), gk, gradientViews, name);
            }
            gradientViews.get(W).assign(DepthwiseWeightLayout.SEPARABLE.fromChannelsFirst(gk, getParam(W).shape()));
        }
        clearForwardState();
        Pair<Gradient, INDArray> p = quantizers.finishBackprop(s, paramTable(), gradientViews, null, 0, gradInput, workspaceMgr, written);
        return new Pair<>(p.getFirst(), backpropDropOutIfPresent(p.getSecond()));
    }

    private void clearForwardState() {
        fwdInput = null;
        fwdPreActivation = null;
        fwdMid = null;
        fwdMidQuantized = null;
    }

    @Override
    public void clear() {
        super.clear();
        quantizers.clear();
        pointwiseSupport.clear();
        clearForwardState();
    }

    /** DL4J's constraints, then every learned quantizer parameter (input, mid, both weight tensors) back to its floor. */
    @Override
    public void applyConstraints(int iteration, int epoch) {
        super.applyConstraints(iteration, epoch);
        quantizers.applyQuantizerConstraints(settings(), paramTable(), channelsFirstWeights(), 0);
        pointwiseSupport.applyQuantizerConstraints(settings(), pointwiseParams(), getParam(PW), 0);
        InputQuantization.project(qconf().midQuantizerSettings(), midParams(), midFloor, midName());
    }
}
