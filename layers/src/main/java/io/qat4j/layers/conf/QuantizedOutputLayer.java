package io.qat4j.layers.conf;

import java.util.Collection;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.regularization.Regularization;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.impl.QuantizedOutputImpl;
import io.qat4j.layers.params.QuantizedFeedForwardParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * A DL4J {@link OutputLayer} (dense + loss) whose weights ({@code [nIn, nOut]}, channels on axis 1) and inputs are
 * fake-quantized according to {@link QuantSettings}. With quantization disabled it computes exactly
 * what the DL4J output layer computes. Build one from a stock configuration with {@link #of}.
 */
public class QuantizedOutputLayer extends OutputLayer implements QuantizedLayerConf {

    private static final long serialVersionUID = 1L;

    private QuantSettings quant = new QuantSettings();

    /** For JSON deserialization; prefer {@link #of}. */
    public QuantizedOutputLayer() {
    }

    /** The quantized version of {@code base} (all of its fields copied) with {@code quant} (copied). */
    public static QuantizedOutputLayer of(OutputLayer base, QuantSettings quant) {
        QuantizedOutputLayer q = new QuantizedOutputLayer();
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
        LayerValidation.assertNInNOutSet("QuantizedOutputLayer", getLayerName(), layerIndex, getNIn(), getNOut());
        quant.validate(nameForMessages(getLayerName()));
        return LayerParamWiring.wire(new QuantizedOutputImpl(conf, networkDataType), conf, listeners, layerIndex, layerParamsView,
                initializeParams, initializer());
    }

    @Override
    public ParamInitializer initializer() {
        return QuantizedFeedForwardParamInitializer.getInstance();
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
    public QuantizedOutputLayer clone() {
        QuantizedOutputLayer c = (QuantizedOutputLayer) super.clone();
        c.quant = quant.clone();
        return c;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedOutputLayer q && super.equals(o) && Objects.equals(quant, q.quant);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + Objects.hashCode(quant);
    }
}
