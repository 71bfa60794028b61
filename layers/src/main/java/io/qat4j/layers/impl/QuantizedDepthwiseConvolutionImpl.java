package io.qat4j.layers.impl;

import java.util.Arrays;
import java.util.Set;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DepthwiseConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.layers.DepthwiseWeightLayout;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * Implementation of {@link QuantizedDepthwiseConvolutionLayer}: dropout (training), fake-quantized
 * input, weights fake-quantized per output channel in the channels-first layout
 * {@code [nIn mult, kH, kW]} ({@link DepthwiseWeightLayout}), the bias on the int32 grid, then
 * libnd4j's native {@code depthwise_conv2d}; backward through {@code depthwise_conv2d_bp}, the weight
 * quantizer's backward (channels-first) and the input quantizer's STE. The pre-activation of a
 * training forward pass is kept (activations workspace) for the backward pass of the same batch.
 */
public class QuantizedDepthwiseConvolutionImpl extends org.deeplearning4j.nn.layers.convolution.DepthwiseConvolution2DLayer {

    private static final long serialVersionUID = 1L;
    private static final String W = DepthwiseConvolutionParamInitializer.WEIGHT_KEY;
    private static final String B = DepthwiseConvolutionParamInitializer.BIAS_KEY;

    private final transient LayerQuantizers quantizers = new LayerQuantizers();
    private transient INDArray cachedPreOutput;
    private transient INDArray cachedForInput;

    public QuantizedDepthwiseConvolutionImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private QuantizedDepthwiseConvolutionLayer qconf() {
        return (QuantizedDepthwiseConvolutionLayer) conf.getLayer();
    }

    private QuantSettings settings() {
        return qconf().getQuant();
    }

    private String name() {
        return LayerQuantizers.name(this);
    }

    /** The weights {@code W} in channels-first layout {@code [nIn mult, kH, kW]} (a new array): what the weight quantizer sees. */
    public INDArray channelsFirstWeights() {
        return DepthwiseWeightLayout.DEPTHWISE.toChannelsFirst(getParam(W));
    }

    /** Weight steps (and LSQ+ offsets) from the current weights (LSQ's or LSQ+'s initialization); nothing for other modes. */
    public void initializeWeightQuantizers() {
        WeightQuantization.initialize(settings(), channelsFirstWeights(), 0, paramTable());
    }

    private void checkInput() {
        long channels = qconf().getNIn();
        if (input.rank() != 4 || input.size(1) != channels) {
            throw new IllegalStateException("QuantizedDepthwiseConvolutionLayer " + name() + " expects NCHW input of rank 4 with " + channels
                    + " channels, got shape " + Arrays.toString(input.shape()));
        }
    }

    private INDArray bias() {
        return qconf().hasBias() ? getParam(B).reshape(qconf().getNOut()) : null;
    }

    /** The fake-quantized weights in DL4J's layout {@code [kH, kW, nIn, mult]}, as libnd4j takes them. */
    private INDArray quantizedWeights(boolean training) {
        if (!settings().quantizesWeights()) {
            return getParam(W);
        }
        INDArray kq = quantizers.quantizeWeights(settings(), channelsFirstWeights(), 0, paramTable(), training, input, name());
        return DepthwiseWeightLayout.DEPTHWISE.fromChannelsFirst(kq, getParam(W).shape());
    }

    private INDArray convolve(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        checkInput();
        applyDropOutIfNecessary(training, workspaceMgr);   // DL4J's order: dropout on the layer input, then its quantizer
        input = quantizers.quantizeInput(settings(), input, training, paramTable(), name(), workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray b = BiasQuantization.forward(settings(), bias(), channelsFirstWeights(), 0, paramTable(), name(), training);
        return NativeConvolution.depthwise(NativeConvolution.Geometry.of(qconf()), x, quantizedWeights(training), b, dataType,
                workspaceMgr, ArrayType.ACTIVATIONS);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        INDArray z = convolve(training, workspaceMgr);
        if (training) {
            cachedPreOutput = workspaceMgr.dup(ArrayType.ACTIVATIONS, z);
            cachedForInput = input;
        }
        return layerConf().getActivationFn().getActivation(z, training);
    }

    @Override
    protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
        return new Pair<>(convolve(training, workspaceMgr), null);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray z;
        if (cachedPreOutput != null && cachedForInput == input) {
            z = cachedPreOutput;
        } else {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                z = convolve(true, LayerWorkspaceMgr.noWorkspaces());
            }
        }
        cachedPreOutput = null;
        cachedForInput = null;
        QuantSettings s = settings();
        INDArray x = input.castTo(dataType);
        INDArray delta = layerConf().getActivationFn().backprop(z.dup(), epsilon.castTo(dataType)).getFirst();
        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        INDArray b = bias();
        INDArray[] g = NativeConvolution.depthwiseBackprop(NativeConvolution.Geometry.of(qconf()), x, quantizedWeights(true), b, delta,
                gradInput);
        INDArray gk = DepthwiseWeightLayout.DEPTHWISE.toChannelsFirst(g[0]);   // dL/dW^, channels first
        if (s.quantizesWeights()) {
            WeightQuantization.backward(s, channelsFirstWeights(), 0, paramTable(), gk, gradientViews, name());
        }
        gradientViews.get(W).assign(DepthwiseWeightLayout.DEPTHWISE.fromChannelsFirst(gk, getParam(W).shape()));
        if (b != null) {
            gradientViews.get(B).assign(g[1].reshape(gradientViews.get(B).shape()));
        }
        Set<String> written = s.quantizesWeights() ? Set.of(QuantizerParams.WEIGHT_STEP_KEY, QuantizerParams.WEIGHT_OFFSET_KEY) : Set.of();
        Pair<Gradient, INDArray> p = quantizers.finishBackprop(s, paramTable(), gradientViews, null, 0, gradInput, workspaceMgr, written);
        return new Pair<>(p.getFirst(), backpropDropOutIfPresent(p.getSecond()));
    }

    @Override
    public void clear() {
        super.clear();
        quantizers.clear();
        cachedPreOutput = null;
        cachedForInput = null;
    }

    /** DL4J's constraints, then the quantizer parameters back to their floors. */
    @Override
    public void applyConstraints(int iteration, int epoch) {
        super.applyConstraints(iteration, epoch);
        quantizers.applyQuantizerConstraints(settings(), paramTable(), channelsFirstWeights(), 0);
    }
}
