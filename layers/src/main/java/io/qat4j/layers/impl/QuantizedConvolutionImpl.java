package io.qat4j.layers.impl;

import java.util.Arrays;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.QuantizedConvolutionLayer;

/**
 * Implementation of {@link QuantizedConvolutionLayer}: fake-quantized input and weights, then
 * libnd4j's native {@code conv2d} (forward) and {@code conv2d_bp} (backward), NCHW input and
 * {@code [out, in, kh, kw]} weights. The pre-activation of a training forward pass is kept (in the
 * activations workspace) for the backward pass of the same batch, so backprop does not convolve twice.
 */
public class QuantizedConvolutionImpl extends org.deeplearning4j.nn.layers.convolution.ConvolutionLayer {

    private static final long serialVersionUID = 1L;
    protected final transient LayerQuantizers quantizers = new LayerQuantizers();
    private transient INDArray cachedPreOutput;
    private transient INDArray cachedForInput;

    public QuantizedConvolutionImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    protected QuantizedConvolutionLayer qconf() {
        return (QuantizedConvolutionLayer) conf.getLayer();
    }

    protected QuantSettings settings() {
        return qconf().getQuant();
    }

    protected void checkInput() {
        if (input.rank() != 4) {
            throw new IllegalStateException("QuantizedConvolutionLayer " + LayerQuantizers.name(this) + " expects NCHW input of rank 4, got shape "
                    + Arrays.toString(input.shape()));
        }
        long channels = qconf().getNIn();
        if (input.size(1) != channels) {
            throw new IllegalStateException("QuantizedConvolutionLayer " + LayerQuantizers.name(this) + " expects " + channels
                    + " input channels (NCHW), got input of shape " + Arrays.toString(input.shape()));
        }
    }

    private INDArray bias() {
        return qconf().hasBias() ? getParam(ConvolutionParamInitializer.BIAS_KEY).reshape(qconf().getNOut()) : null;
    }

    /** conv2d(input, W^, b) into an array of the given workspace type. */
    private INDArray convolve(boolean training, LayerWorkspaceMgr workspaceMgr, ArrayType type) {
        assertInputSet(false);
        checkInput();
        applyDropOutIfNecessary(training, workspaceMgr);   // DL4J's order: dropout on the layer input, then (here) its quantizer
        input = quantizers.quantizeInput(settings(), input, training, paramTable(), LayerQuantizers.name(this), workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray w = quantizers.quantizeWeights(settings(), getParam(ConvolutionParamInitializer.WEIGHT_KEY), 0, paramTable(), training, input, LayerQuantizers.name(this));
        INDArray b = BiasQuantization.forward(settings(), bias(), getParam(ConvolutionParamInitializer.WEIGHT_KEY), 0, paramTable(),
                LayerQuantizers.name(this), training);
        return conv2d(x, w, b, workspaceMgr, type);
    }

    /** Native conv2d of {@code x} with weights {@code w} ({@code [out, in, kh, kw]}) and optional bias, into the given workspace type. */
    protected INDArray conv2d(INDArray x, INDArray w, INDArray b, LayerWorkspaceMgr workspaceMgr, ArrayType type) {
        return NativeConvolution.conv2d(NativeConvolution.Geometry.of(qconf()), x, w, b, dataType, workspaceMgr, type);
    }

    /**
     * Native conv2d_bp: writes dL/dx into {@code gradInput} and returns {dL/dw, dL/db or null} (new arrays).
     */
    protected INDArray[] conv2dBackprop(INDArray x, INDArray w, INDArray b, INDArray delta, INDArray gradInput) {
        return NativeConvolution.conv2dBackprop(NativeConvolution.Geometry.of(qconf()), x, w, b, delta, gradInput);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        INDArray z = convolve(training, workspaceMgr, ArrayType.ACTIVATIONS);
        if (training) {
            // kept beside the activations (DL4J keeps that workspace open until backprop)
            cachedPreOutput = workspaceMgr.dup(ArrayType.ACTIVATIONS, z);
            cachedForInput = input;
        }
        return layerConf().getActivationFn().getActivation(z, training);
    }

    @Override
    protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
        return new Pair<>(convolve(training, workspaceMgr, ArrayType.ACTIVATIONS), null);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray z;
        if (cachedPreOutput != null && cachedForInput == input) {
            z = cachedPreOutput;
        } else {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                z = convolve(true, LayerWorkspaceMgr.noWorkspaces(), ArrayType.ACTIVATIONS);
            }
        }
        cachedPreOutput = null;
        cachedForInput = null;
        INDArray x = input.castTo(dataType);
        INDArray w = quantizers.quantizeWeights(settings(), getParam(ConvolutionParamInitializer.WEIGHT_KEY), 0, paramTable(), true, input, LayerQuantizers.name(this));
        INDArray delta = layerConf().getActivationFn().backprop(z.dup(), epsilon.castTo(dataType)).getFirst();
        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        INDArray gradW = gradientViews.get(ConvolutionParamInitializer.WEIGHT_KEY);
        INDArray b = bias();
        INDArray[] g = conv2dBackprop(x, w, b, delta, gradInput);
        gradW.assign(g[0]);
        if (b != null) {
            gradientViews.get(ConvolutionParamInitializer.BIAS_KEY).assign(g[1].reshape(gradientViews.get(ConvolutionParamInitializer.BIAS_KEY).shape()));
        }
        Pair<Gradient, INDArray> p = quantizers.finishBackprop(settings(), paramTable(), gradientViews, ConvolutionParamInitializer.WEIGHT_KEY,
                0, gradInput, workspaceMgr);
        return new Pair<>(p.getFirst(), backpropDropOutIfPresent(p.getSecond()));
    }

    @Override
    public void clear() {
        super.clear();
        quantizers.clear();
        cachedPreOutput = null;
        cachedForInput = null;
    }

    /** DL4J's constraints, then the quantizer parameters back to their floors (issue 14 #2). */
    @Override
    public void applyConstraints(int iteration, int epoch) {
        super.applyConstraints(iteration, epoch);
        quantizers.applyQuantizerConstraints(settings(), paramTable(), quantizedWeightsForConstraints(), 0);
    }

    /** The weights the weight quantizer sees (the folded ones in the conv+BN subclass). */
    protected INDArray quantizedWeightsForConstraints() {
        return getParam(ConvolutionParamInitializer.WEIGHT_KEY);
    }
}
