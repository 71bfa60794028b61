package io.qat4j.layers.conf;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.regularization.Regularization;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.impl.ActivationQuantizerImpl;
import io.qat4j.layers.params.ActivationQuantizerParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * A layer that only fake-quantizes the activations passing through it (any input type, output of
 * the same type and shape), with the input quantizer of its {@link QuantSettings} (FIXED, LSQ,
 * LSQ+ or PACT); the weight settings are ignored. Place it where a tensor needs its own scale,
 * e.g. before a residual add in a ComputationGraph or on a network's output.
 */
public class ActivationQuantizerLayer extends BaseLayer implements QuantizedLayerConf {

    private static final long serialVersionUID = 1L;

    private QuantSettings quant = forActivations(new QuantSettings());

    /** For JSON deserialization; prefer {@link #of}. */
    public ActivationQuantizerLayer() {
    }

    private static QuantSettings forActivations(QuantSettings s) {
        QuantSettings c = s.clone();
        c.setWeightMode(WeightQuantMode.NONE);
        return c;
    }

    /** An activation quantizer named {@code name} with the input-quantizer part of {@code quant}. */
    public static ActivationQuantizerLayer of(String name, QuantSettings quant) {
        ActivationQuantizerLayer layer = new ActivationQuantizerLayer();
        layer.setLayerName(name);
        layer.quant = forActivations(quant);
        layer.quant.validate(layer.nameForMessages(name));
        if (layer.quant.getInputMode() == InputQuantMode.NONE) {
            throw new IllegalArgumentException("layer '" + layer.nameForMessages(name) + "': an activation quantizer needs an input mode "
                    + "(FIXED, LSQ, LSQ_PLUS or PACT), got NONE");
        }
        return layer;
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
        quant.validate(nameForMessages(getLayerName()));
        return LayerParamWiring.wire(new ActivationQuantizerImpl(conf, networkDataType), conf, listeners, layerIndex, layerParamsView,
                initializeParams, initializer());
    }

    @Override
    public ParamInitializer initializer() {
        return ActivationQuantizerParamInitializer.getInstance();
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return inputType;
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        // shape-preserving: nothing to infer
    }

    @Override
    public InputPreProcessor getPreProcessorForInputType(InputType inputType) {
        return null;
    }

    @Override
    public boolean isPretrainParam(String paramName) {
        return false;
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        long params = initializer().numParams(this);
        return new LayerMemoryReport.Builder(getLayerName(), ActivationQuantizerLayer.class, inputType, inputType)
                .standardMemory(params, params).workingMemory(0, 0, 0, 0).cacheMemory(0, 0).build();
    }

    @Override
    public IUpdater getUpdaterByParam(String paramName) {
        return LayerParamWiring.updater(paramName, QuantizerParams.isStateParam(paramName), () -> super.getUpdaterByParam(paramName));
    }

    @Override
    public List<Regularization> getRegularizationByParam(String paramName) {
        return Collections.emptyList();
    }

    @Override
    public ActivationQuantizerLayer clone() {
        ActivationQuantizerLayer c = (ActivationQuantizerLayer) super.clone();
        c.quant = quant.clone();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ActivationQuantizerLayer q && super.equals(o) && Objects.equals(quant, q.quant);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + Objects.hashCode(quant);
    }
}
