package io.qat4j.layers.impl;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.ActivationQuantizerLayer;

/** Implementation of {@link ActivationQuantizerLayer}: {@code y = x^}, {@code dL/dx} by the quantizer's STE. */
public class ActivationQuantizerImpl extends org.deeplearning4j.nn.layers.BaseLayer<ActivationQuantizerLayer> {

    private static final long serialVersionUID = 1L;

    private final transient LayerQuantizers quantizers = new LayerQuantizers();

    public ActivationQuantizerImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private QuantSettings settings() {
        return layerConf().getQuant();
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        if (!settings().quantizesInputs()) {
            InputQuantization.observeIfCalibrating(settings(), input, paramTable(), LayerQuantizers.name(this));
            return workspaceMgr.dup(ArrayType.ACTIVATIONS, input);
        }
        INDArray q;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            q = InputQuantization.forward(settings(), input, training, paramTable(), LayerQuantizers.name(this),
                    quantizers::rememberInputFloor);
        }
        return workspaceMgr.dup(ArrayType.ACTIVATIONS, q);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        quantizers.rememberRawInput(input, LayerQuantizers.name(this));
        Pair<Gradient, INDArray> p = quantizers.finishBackprop(settings(), paramTable(), gradientViews, null, 0, epsilon, workspaceMgr);
        if (p.getSecond() == epsilon) {
            // pass-through: DL4J still wants this layer's epsilon in its own ACTIVATION_GRAD workspace
            return new Pair<>(p.getFirst(), workspaceMgr.dup(ArrayType.ACTIVATION_GRAD, epsilon));
        }
        return p;
    }

    @Override
    public boolean hasBias() {
        return false;
    }

    @Override
    public boolean isPretrainLayer() {
        return false;
    }

    @Override
    public void clear() {
        super.clear();
        quantizers.clear();
    }

    /** DL4J's constraints, then the learned step or alpha back to its floor (issue 14 #2). */
    @Override
    public void applyConstraints(int iteration, int epoch) {
        super.applyConstraints(iteration, epoch);
        quantizers.applyQuantizerConstraints(settings(), paramTable(), null, 0);
    }
}
