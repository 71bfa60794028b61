package io.qat4j.layers.impl;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.QuantizedOutputLayer;

/**
 * Implementation of {@link QuantizedOutputLayer}: DL4J's output layer (dense + loss) with fake-quantized
 * weights (served through {@code getParamWithNoise}, so forward and backward use the same
 * quantized matrix) and fake-quantized input.
 */
public class QuantizedOutputImpl extends org.deeplearning4j.nn.layers.OutputLayer {

    private static final long serialVersionUID = 1L;

    private final transient LayerQuantizers quantizers = new LayerQuantizers();

    public QuantizedOutputImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private QuantSettings settings() {
        return ((QuantizedOutputLayer) conf.getLayer()).getQuant();
    }

    /** Every DL4J path (activate, backprop, score) computes through here: quantize the input first. */
    @Override
    protected Pair<INDArray, INDArray> preOutputWithPreNorm(boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(forBackprop);
        // DL4J's dropout on the layer input comes before its quantizer (super's call is then a no-op); on the way back
        // super applies the dropout mask and finishBackprop the quantizer's STE mask: both elementwise, so the order is free
        applyDropOutIfNecessary(training, workspaceMgr);
        input = quantizers.quantizeInput(settings(), input, training, paramTable(), LayerQuantizers.name(this), workspaceMgr);
        return super.preOutputWithPreNorm(training, forBackprop, workspaceMgr);
    }

    @Override
    protected INDArray getParamWithNoise(String param, boolean training, LayerWorkspaceMgr workspaceMgr) {
        return quantizers.quantizeDenseParam(settings(), param, super.getParamWithNoise(param, training, workspaceMgr), paramTable(),
                training, input, LayerQuantizers.name(this));
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        Pair<Gradient, INDArray> p = super.backpropGradient(epsilon, workspaceMgr);
        return quantizers.finishBackprop(settings(), paramTable(), gradientViews, DefaultParamInitializer.WEIGHT_KEY, 1, p.getSecond(),
                workspaceMgr);
    }

    @Override
    public void clear() {
        super.clear();
        quantizers.clear();
    }

    /** DL4J's constraints, then the quantizer parameters back to their floors (issue 14 #2). */
    @Override
    public void applyConstraints(int iteration, int epoch) {
        super.applyConstraints(iteration, epoch);
        quantizers.applyQuantizerConstraints(settings(), paramTable(), getParam(DefaultParamInitializer.WEIGHT_KEY), 1);
    }
}
