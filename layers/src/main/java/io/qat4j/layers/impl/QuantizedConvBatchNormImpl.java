package io.qat4j.layers.impl;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.layers.BatchNormStatistics;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.params.QuantizedConvBatchNormParamInitializer;

/**
 * Implementation of {@link QuantizedConvBatchNormLayer}. With {@code s = gamma/sigma_run} per
 * channel and {@code w_fold = W s}:
 * <ul>
 *   <li>live statistics: {@code c = conv(x, q(w_fold)) / s}, {@code c^ = (c - mu_B)/sigma_B},
 *       {@code z = gamma c^ + beta};</li>
 *   <li>frozen statistics: {@code z = conv(x, q(w_fold)) + beta - gamma mu_run/sigma_run}.</li>
 * </ul>
 * Backward by hand: the usual batch-norm backward for {@code c}, then through the division by
 * {@code s}, the native conv2d_bp, the weight quantizer's STE on {@code w_fold}, and the fold
 * {@code w_fold = W s}; {@code gamma} collects its direct term and the term through {@code s}
 * (the running sigma is a constant). Arithmetic in the network's type.
 */
public class QuantizedConvBatchNormImpl extends QuantizedConvolutionImpl {

    private static final long serialVersionUID = 1L;

    /** Per-batch state of a training forward pass, consumed by its backward pass. */
    private transient INDArray fwdInput;
    private transient INDArray fwdPreActivation;
    private transient INDArray fwdScale;
    private transient INDArray fwdFolded;
    private transient INDArray fwdQuantized;
    private transient INDArray fwdC;
    private transient INDArray fwdCHat;
    private transient INDArray fwdSigmaBatch;
    private transient boolean fwdFrozen;

    public QuantizedConvBatchNormImpl(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private QuantizedConvBatchNormLayer bnConf() {
        return (QuantizedConvBatchNormLayer) conf.getLayer();
    }

    /** {@code sigma_run = sqrt(var + eps)} per channel. */
    private INDArray sigmaRun() {
        return BatchNormStatistics.sigma(getParam(QuantizedConvBatchNormParamInitializer.VAR_KEY).castTo(dataType), bnConf().getEps());
    }

    /** The folded weights {@code W gamma/sigma_run} (a new array). */
    public INDArray foldedWeights() {
        INDArray s = getParam(QuantizedConvBatchNormParamInitializer.GAMMA_KEY).castTo(dataType).div(sigmaRun());
        return perChannel(getParam(ConvolutionParamInitializer.WEIGHT_KEY).dup(), s, 0, true);
    }

    /** The folded bias {@code beta - gamma mu_run/sigma_run} (a new array). */
    public INDArray foldedBias() {
        INDArray gamma = getParam(QuantizedConvBatchNormParamInitializer.GAMMA_KEY).castTo(dataType);
        INDArray mu = getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY).castTo(dataType);
        return getParam(QuantizedConvBatchNormParamInitializer.BETA_KEY).castTo(dataType).sub(gamma.mul(mu).divi(sigmaRun()));
    }

    /** Multiplies (or divides) {@code a} in place by a per-channel vector along {@code dim}. */
    private static INDArray perChannel(INDArray a, INDArray v, int dim, boolean multiply) {
        return multiply ? Broadcast.mul(a, v, a, dim) : Broadcast.div(a, v, a, dim);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        checkInput();
        applyDropOutIfNecessary(training, workspaceMgr);   // dropout on the layer input, then its quantizer (DL4J's order)
        input = quantizers.quantizeInput(settings(), input, training, paramTable(), LayerQuantizers.name(this), workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray gamma = getParam(QuantizedConvBatchNormParamInitializer.GAMMA_KEY).castTo(dataType);
        INDArray sigma = sigmaRun();
        INDArray s = gamma.div(sigma);
        INDArray folded = perChannel(getParam(ConvolutionParamInitializer.WEIGHT_KEY).castTo(dataType).dup(), s, 0, true);
        INDArray wq = quantizers.quantizeWeights(settings(), folded, 0, paramTable(), training, input, LayerQuantizers.name(this));
        boolean frozen = bnConf().isFreezeBatchNorm() || !training;
        INDArray z;
        INDArray c = null;
        INDArray cHat = null;
        INDArray sigmaBatch = null;
        if (frozen) {
            z = conv2d(x, wq, BiasQuantization.forward(settings(), foldedBias(), folded, 0, paramTable(), LayerQuantizers.name(this), training), workspaceMgr,
                    ArrayType.ACTIVATIONS);
        } else {
            c = perChannel(conv2d(x, wq, null, workspaceMgr, ArrayType.FF_WORKING_MEM), s, 1, false);
            if (c.size(0) * c.size(2) * c.size(3) < 2) {
                // PyTorch refuses such batches too ("Expected more than 1 value per channel when training"): the batch
                // variance is 0, the running variance collapses, and the folded weights and bias explode
                throw new IllegalArgumentException("layer '" + LayerQuantizers.name(this) + "': batch norm in training sees one "
                        + "value per channel (batch " + c.size(0) + " x " + c.size(2) + "x" + c.size(3) + " feature map), so its batch "
                        + "variance is 0 and the running statistics collapse; train with batch size >= 2 (drop a last batch of one), "
                        + "or freeze the batch norm (setFreezeBatchNorm(true)) to use its running statistics");
            }
            INDArray mean = c.mean(0, 2, 3);
            INDArray var = c.var(false, 0, 2, 3);
            sigmaBatch = BatchNormStatistics.sigma(var, bnConf().getEps());
            cHat = perChannel(Broadcast.sub(c.dup(), mean, c.dup(), 1), sigmaBatch, 1, false);
            z = workspaceMgr.dup(ArrayType.ACTIVATIONS, cHat);
            perChannel(z, gamma, 1, true);
            Broadcast.add(z, getParam(QuantizedConvBatchNormParamInitializer.BETA_KEY).castTo(dataType), z, 1);
            if (training) {
                double d = bnConf().getDecay();
                INDArray runMean = getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY);
                INDArray runVar = getParam(QuantizedConvBatchNormParamInitializer.VAR_KEY);
                runMean.muli(d).addi(mean.castTo(runMean.dataType()).muli(1 - d));
                runVar.muli(d).addi(var.castTo(runVar.dataType()).muli(1 - d));
            }
        }
        if (training) {
            // activation-sized state beside the activations (open until backprop), small state detached
            fwdInput = input;
            fwdPreActivation = workspaceMgr.dup(ArrayType.ACTIVATIONS, z);
            fwdScale = s.detach();
            fwdFolded = folded.detach();
            fwdQuantized = wq.detach();
            fwdC = c == null ? null : workspaceMgr.dup(ArrayType.ACTIVATIONS, c);
            fwdCHat = cHat == null ? null : workspaceMgr.dup(ArrayType.ACTIVATIONS, cHat);
            fwdSigmaBatch = sigmaBatch == null ? null : sigmaBatch.detach();
            fwdFrozen = frozen;
        }
        return layerConf().getActivationFn().getActivation(z, training);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        if (fwdPreActivation == null || fwdInput != input) {
            throw new IllegalStateException("QuantizedConvBatchNormLayer " + LayerQuantizers.name(this)
                    + ": backprop needs the training forward pass of the same batch first");
        }
        INDArray x = input.castTo(dataType);
        INDArray gamma = getParam(QuantizedConvBatchNormParamInitializer.GAMMA_KEY).castTo(dataType);
        INDArray sigma = sigmaRun();
        INDArray s = fwdScale;
        INDArray delta = layerConf().getActivationFn().backprop(fwdPreActivation.dup(), epsilon.castTo(dataType)).getFirst();
        INDArray dBeta = delta.sum(0, 2, 3);
        INDArray dGamma;
        INDArray dConv;
        INDArray dScaleFromDivision = null;
        if (fwdFrozen) {
            INDArray mu = getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY).castTo(dataType);
            dGamma = dBeta.mul(mu).divi(sigma).negi();                      // through beta - gamma mu / sigma
            dConv = delta;
        } else {
            dGamma = delta.mul(fwdCHat).sum(0, 2, 3);
            INDArray dCHat = perChannel(delta.dup(), gamma, 1, true);
            INDArray meanD = dCHat.mean(0, 2, 3);
            INDArray meanDX = dCHat.mul(fwdCHat).mean(0, 2, 3);
            INDArray dC = Broadcast.sub(dCHat, meanD, dCHat, 1);
            dC.subi(perChannel(fwdCHat.dup(), meanDX, 1, true));
            perChannel(dC, fwdSigmaBatch, 1, false);
            dScaleFromDivision = dC.mul(fwdC).sum(0, 2, 3).divi(s).negi();   // c = conv / s
            dConv = perChannel(dC, s, 1, false);
        }
        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        INDArray dWq = conv2dBackprop(x, fwdQuantized, null, dConv, gradInput)[0];
        for (String key : new String[] {io.qat4j.layers.params.QuantizerParams.WEIGHT_STEP_KEY,
                io.qat4j.layers.params.QuantizerParams.WEIGHT_OFFSET_KEY}) {
            if (gradientViews.containsKey(key)) {
                gradientViews.get(key).assign(0);
            }
        }
        if (settings().quantizesWeights()) {
            WeightQuantization.backward(settings(), fwdFolded, 0, paramTable(), dWq, gradientViews, LayerQuantizers.name(this));
        }
        INDArray latent = getParam(ConvolutionParamInitializer.WEIGHT_KEY).castTo(dataType);
        long out = s.length();
        INDArray dScale = dWq.mul(latent).reshape(out, dWq.length() / out).sum(1);   // w_fold = W s
        if (dScaleFromDivision != null) {
            dScale.addi(dScaleFromDivision);
        }
        dGamma.addi(dScale.div(sigma));                                     // s = gamma / sigma_run
        gradientViews.get(ConvolutionParamInitializer.WEIGHT_KEY).assign(perChannel(dWq, s, 0, true));
        gradientViews.get(QuantizedConvBatchNormParamInitializer.GAMMA_KEY).assign(dGamma);
        gradientViews.get(QuantizedConvBatchNormParamInitializer.BETA_KEY).assign(dBeta);
        gradientViews.get(QuantizedConvBatchNormParamInitializer.MEAN_KEY).assign(0);
        gradientViews.get(QuantizedConvBatchNormParamInitializer.VAR_KEY).assign(0);
        clearForwardState();
        Pair<Gradient, INDArray> p = quantizers.finishBackprop(settings(), paramTable(), gradientViews, null, 0, gradInput, workspaceMgr, false);
        return new Pair<>(p.getFirst(), backpropDropOutIfPresent(p.getSecond()));
    }

    private void clearForwardState() {
        fwdInput = null;
        fwdPreActivation = null;
        fwdScale = null;
        fwdFolded = null;
        fwdQuantized = null;
        fwdC = null;
        fwdCHat = null;
        fwdSigmaBatch = null;
    }

    @Override
    public void clear() {
        super.clear();
        clearForwardState();
    }

    @Override
    protected INDArray quantizedWeightsForConstraints() {
        return foldedWeights();
    }
}
