package io.qat4j.layers.conf;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.regularization.Regularization;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.impl.QuantizedConvBatchNormImpl;
import io.qat4j.layers.params.QuantizedConvBatchNormParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * A convolution (no bias) followed by batch normalization, trained with the batch norm folded into
 * the quantized weights (Jacob et al. 2018, Krishnamoorthi 2018), so that the integer model has no
 * batch norm: {@code w_fold = W gamma/sigma}, {@code sigma = sqrt(runningVar + eps)}, weights
 * fake-quantized as {@code w_fold}.
 *
 * <ul>
 *   <li>Training with live statistics ({@link #isFreezeBatchNorm()} false): the convolution with the
 *       quantized folded weights is divided back by {@code gamma/sigma} and normalized with the batch's
 *       mean and variance; running statistics follow {@code r = decay r + (1 - decay) batch}.</li>
 *   <li>Frozen statistics (training after the freeze, and always in inference):
 *       {@code y = conv(x, q(w_fold)) + beta - gamma mu/sigma}, exactly what the exported integer model computes.</li>
 * </ul>
 * The layer's activation (identity when fused by {@link #of}) applies after the batch norm. Parameters: {@code W}, {@code gamma}, {@code beta},
 * {@code mean}, {@code var} (running statistics: NoOp updater, updated by the layer), then the quantizer's.
 */
public class QuantizedConvBatchNormLayer extends QuantizedConvolutionLayer {

    private static final long serialVersionUID = 1L;

    /** Batch-norm epsilon (DL4J's default 1e-5). */
    private double eps = 1e-5;
    /** Running-statistics decay (DL4J's default 0.9). */
    private double decay = 0.9;
    /** Use the running statistics in training too (the usual switch a few epochs before the end of QAT). */
    private boolean freezeBatchNorm;

    /** For JSON deserialization; prefer {@link #of}. */
    public QuantizedConvBatchNormLayer() {
    }

    /**
     * Fuses {@code conv} (identity activation) and {@code bn} with settings {@code quant}; the fused
     * layer's activation is the identity (activations follow as separate layers, as with DL4J's batch norm).
     *
     * @throws IllegalArgumentException if the convolution has a non-identity activation (the batch norm
     *                                  would then not directly follow the convolution)
     */
    public static QuantizedConvBatchNormLayer of(ConvolutionLayer conv, BatchNormalization bn, QuantSettings quant) {
        String name = conv.getLayerName() == null ? "(unnamed)" : conv.getLayerName();
        if (!(conv.getActivationFn() instanceof ActivationIdentity)) {
            throw new IllegalArgumentException("layer '" + name + "': a convolution can absorb the following batch norm only with an "
                    + "IDENTITY activation, got " + conv.getActivationFn());
        }
        if (bn.isLockGammaBeta()) {
            throw new IllegalArgumentException("layer '" + name + "': batch norm with locked gamma/beta cannot be folded for QAT");
        }
        QuantizedConvolutionLayer q = QuantizedConvolutionLayer.of(conv, quant);
        QuantizedConvBatchNormLayer f = new QuantizedConvBatchNormLayer();
        ConfigCopy.copy(q, f, org.deeplearning4j.nn.conf.layers.Layer.class);
        f.setQuant(quant.clone());
        f.setHasBias(false);
        // DL4J 1.0.0-M2.1's batch-norm layer never applies its activation field (it defaults to the
        // network's, e.g. sigmoid, and is ignored), so the fused layer's output is the batch norm's
        f.setActivationFn(new ActivationIdentity());
        f.eps = bn.getEps();
        f.decay = bn.getDecay();
        return f;
    }

    public double getEps() {
        return eps;
    }

    public void setEps(double eps) {
        this.eps = eps;
    }

    public double getDecay() {
        return decay;
    }

    public void setDecay(double decay) {
        this.decay = decay;
    }

    public boolean isFreezeBatchNorm() {
        return freezeBatchNorm;
    }

    public void setFreezeBatchNorm(boolean freezeBatchNorm) {
        this.freezeBatchNorm = freezeBatchNorm;
    }

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners,
                                                       int layerIndex, INDArray layerParamsView, boolean initializeParams,
                                                       DataType networkDataType) {
        LayerValidation.assertNInNOutSet("QuantizedConvBatchNormLayer", getLayerName(), layerIndex, getNIn(), getNOut());
        getQuant().validate(nameForMessages(getLayerName()));
        return LayerParamWiring.wire(new QuantizedConvBatchNormImpl(conf, networkDataType), conf, listeners, layerIndex, layerParamsView,
                initializeParams, initializer());
    }

    @Override
    public ParamInitializer initializer() {
        return QuantizedConvBatchNormParamInitializer.getInstance();
    }

    @Override
    public IUpdater getUpdaterByParam(String paramName) {
        return LayerParamWiring.updater(paramName, QuantizedConvBatchNormParamInitializer.isRunningStat(paramName),
                () -> super.getUpdaterByParam(paramName));
    }

    @Override
    public List<Regularization> getRegularizationByParam(String paramName) {
        if (QuantizerParams.isQuantizerParam(paramName) || QuantizedConvBatchNormParamInitializer.isBatchNormParam(paramName)) {
            return Collections.emptyList();
        }
        return super.getRegularizationByParam(paramName);
    }

    @Override
    public QuantizedConvBatchNormLayer clone() {
        return (QuantizedConvBatchNormLayer) super.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantizedConvBatchNormLayer q && super.equals(o) && eps == q.eps && decay == q.decay
                && freezeBatchNorm == q.freezeBatchNorm;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), eps, decay, freezeBatchNorm);
    }
}
