package io.qat4j.layers;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The running statistics of a DL4J {@code BatchNormalization} layer as DL4J 1.0.0-M2.1's inference
 * uses them; the one place that reads or writes its stored variance (BN folding, {@code wrap},
 * {@code unwrap} and the float ONNX export all go through here).
 *
 * <p>DL4J stores the running variance either as is ({@link BatchNormalizationParamInitializer#GLOBAL_VAR},
 * {@code useLogStd(false)}) or, by default, as {@code log10(std)}
 * ({@link BatchNormalizationParamInitializer#GLOBAL_LOG_STD}) with {@code var = (10^log10std)^2}; the
 * stored value does <em>not</em> include eps. Inference then divides by
 * {@code sigma = sqrt(var + eps)} ({@code BatchNormalization.preOutput}, test mode). So an ONNX
 * {@code BatchNormalization} with {@code epsilon = eps} takes {@link #variance} unchanged.
 * Arithmetic is DL4J's (in the parameter's data type) unless a type is given.
 */
public final class BatchNormStatistics {

    private BatchNormStatistics() {
    }

    /** The running variance {@code var} (without eps) of batch-norm layer {@code bn}, a new array shaped like its parameter. */
    public static INDArray variance(Layer bn) {
        return variance(bn, null);
    }

    /**
     * As {@link #variance(Layer)}, computed in {@code type} (the stored statistic is cast first; null:
     * the parameter's own type, as DL4J's inference computes). BN folding uses float64, so that a fold is
     * as exact as the double arithmetic around it.
     */
    public static INDArray variance(Layer bn, org.nd4j.linalg.api.buffer.DataType type) {
        BatchNormalization conf = confOf(bn);
        if (conf.isUseLogStd()) {
            INDArray stored = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD);
            INDArray log10Std = type == null ? stored : stored.castTo(type);
            INDArray std = Transforms.pow(Nd4j.valueArrayOf(log10Std.shape(), 10.0, log10Std.dataType()), log10Std, false);
            return std.muli(std);
        }
        INDArray var = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_VAR);
        return type == null ? var.dup() : var.castTo(type).dup();
    }

    /** The standard deviation DL4J's inference divides by: {@code sqrt(variance(bn) + eps)}. */
    public static INDArray sigma(Layer bn) {
        return sigma(variance(bn), confOf(bn).getEps());
    }

    /** {@code sqrt(variance(bn, type) + eps)} computed in {@code type}. */
    public static INDArray sigma(Layer bn, org.nd4j.linalg.api.buffer.DataType type) {
        return sigma(variance(bn, type), confOf(bn).getEps());
    }

    /** {@code sqrt(var + eps)}, a new array. */
    public static INDArray sigma(INDArray var, double eps) {
        return Transforms.sqrt(var.add(eps), false);
    }

    /**
     * Stores running variance {@code var} (without eps, one value per channel) into {@code bn}, as
     * {@code log10(sqrt(var))} when the layer keeps the log-std: the inverse of {@link #variance}.
     */
    public static void setVariance(Layer bn, INDArray var) {
        if (confOf(bn).isUseLogStd()) {
            INDArray target = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD);
            INDArray log10Std = Transforms.log(Transforms.sqrt(var, true), 10, false);
            bn.setParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD, log10Std.reshape(target.shape()).castTo(target.dataType()));
        } else {
            INDArray target = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_VAR);
            bn.setParam(BatchNormalizationParamInitializer.GLOBAL_VAR, var.reshape(target.shape()).castTo(target.dataType()).dup());
        }
    }

    private static BatchNormalization confOf(Layer bn) {
        if (!(bn.conf().getLayer() instanceof BatchNormalization conf)) {
            throw new IllegalArgumentException("layer '" + bn.conf().getLayer().getLayerName() + "' is a "
                    + bn.conf().getLayer().getClass().getSimpleName() + ", not a BatchNormalization");
        }
        return conf;
    }
}
