package io.qat4j.layers;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.params.DepthwiseConvolutionParamInitializer;
import org.deeplearning4j.nn.params.SeparableConvolutionParamInitializer;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Folds an inference-mode batch normalization into the preceding convolution or dense layer
 * (Jacob et al. 2018; Nagel et al. 2021, DESIGN.md):
 * {@code w' = w gamma/sigma}, {@code b' = beta + (b - mu) gamma/sigma} per output channel, with
 * {@code sigma = sqrt(var + eps)} from {@link BatchNormStatistics}.
 *
 * <p>Output channels are axis 0 of a DL4J convolution kernel {@code [out, in, kh, kw]} and axis 1
 * of a dense weight {@code [in, out]}; a depthwise convolution's kernel is folded channels first
 * ({@link DepthwiseWeightLayout}), a separable convolution's batch norm goes into its pointwise
 * weights ({@link #foldDepthwise}). Arithmetic in float64; results in the weight's data type.
 */
public final class BatchNormFolding {

    /** Folded weight and bias (bias shaped {@code [1, out]} like DL4J's). */
    public record Folded(INDArray weight, INDArray bias) {
    }

    private BatchNormFolding() {
    }

    /**
     * The one conv+BN folding rule, shared by the PTQ pass and {@link QuantizedModel#wrap}: a batch
     * norm folds into the layer before it when that layer is a stock {@code ConvolutionLayer} or
     * {@code DenseLayer} (not a subclass) with identity activation, the batch norm directly follows
     * it, and no input preprocessor sits between them (an activation or reshape there would not
     * commute with the per-channel affine map).
     *
     * @param producer the layer before the batch norm
     * @param next     the layer after it, folded when it is a {@code BatchNormalization}
     * @param between  the input preprocessor of {@code next}, or null
     */
    public static boolean folds(org.deeplearning4j.nn.conf.layers.Layer producer, org.deeplearning4j.nn.conf.layers.Layer next,
                                InputPreProcessor between) {
        boolean linear = (producer.getClass() == ConvolutionLayer.class || producer.getClass() == DenseLayer.class)
                && ((BaseLayer) producer).getActivationFn() instanceof ActivationIdentity;
        return linear && next instanceof BatchNormalization && between == null;
    }

    /**
     * What takes a folded batch norm's place: an identity activation with its name, so layer indices,
     * preprocessors and graph wiring stay valid.
     */
    public static ActivationLayer placeholder(String batchNormName) {
        ActivationLayer a = new ActivationLayer.Builder().activation(new ActivationIdentity()).build();
        a.setLayerName(batchNormName);
        return a;
    }

    /**
     * Folds the batch norm layer {@code bn} (a DL4J BatchNormalization layer instance) into the
     * parameters of {@code previous} (a ConvolutionLayer or DenseLayer instance).
     */
    public static Folded fold(Layer previous, Layer bn) {
        INDArray w = previous.getParam(DefaultParamInitializer.WEIGHT_KEY);
        if (w == null) {
            throw new IllegalArgumentException("BatchNormFolding: layer '" + previous.conf().getLayer().getLayerName()
                    + "' has no weight parameter 'W'; only Convolution2D and Dense layers can absorb a batch norm");
        }
        INDArray b = previous.getParam(DefaultParamInitializer.BIAS_KEY);   // null when hasBias(false)
        return fold(w, b, w.rank() == 4 ? 0 : 1, bn);
    }

    /**
     * The rule for a batch norm after a depthwise or separable convolution (MobileNet's pattern),
     * which {@link QuantizedModel#wrap} folds once with the batch norm's frozen statistics (no
     * QAT-time folding): the producer is a stock {@code DepthwiseConvolution2D} or
     * {@code SeparableConvolution2D} (not a subclass) with identity activation, the batch norm
     * directly follows it, and no input preprocessor sits between them.
     */
    public static boolean foldsIntoDepthwise(org.deeplearning4j.nn.conf.layers.Layer producer,
                                             org.deeplearning4j.nn.conf.layers.Layer next, InputPreProcessor between) {
        boolean linear = (producer.getClass() == DepthwiseConvolution2D.class || producer.getClass() == SeparableConvolution2D.class)
                && ((BaseLayer) producer).getActivationFn() instanceof ActivationIdentity;
        return linear && next instanceof BatchNormalization && between == null;
    }

    /**
     * The parameter of a depthwise or separable convolution that a following batch norm folds into:
     * the depthwise {@code W} of a {@code DepthwiseConvolution2D} (each output channel is one
     * filter), the pointwise {@code pW} of a {@code SeparableConvolution2D} (its output channels).
     */
    public static String foldedWeightKey(org.deeplearning4j.nn.conf.layers.Layer conv) {
        return switch (DepthwiseWeightLayout.of(conv)) {
            case DEPTHWISE -> DepthwiseConvolutionParamInitializer.WEIGHT_KEY;
            case SEPARABLE -> SeparableConvolutionParamInitializer.POINT_WISE_WEIGHT_KEY;
        };
    }

    /**
     * Folds the batch norm layer {@code bn} into a depthwise or separable convolution layer
     * instance {@code conv}, per output channel: a depthwise convolution's {@code W} (output channel
     * {@code o = c mult + m}, {@link DepthwiseWeightLayout}), a separable convolution's pointwise
     * {@code pW}; the bias {@code b} (zero when the layer has none) in both cases.
     *
     * @return the weight in the layer's own layout ({@code W} {@code [kH, kW, nIn, mult]} or {@code pW}
     *         {@code [nOut, nIn mult, 1, 1]}, the parameter {@link #foldedWeightKey} names) and the bias {@code [1, out]}
     */
    public static Folded foldDepthwise(Layer conv, Layer bn) {
        org.deeplearning4j.nn.conf.layers.Layer c = conv.conf().getLayer();
        INDArray b = conv.paramTable().get(DepthwiseConvolutionParamInitializer.BIAS_KEY);   // null when hasBias(false)
        return switch (DepthwiseWeightLayout.of(c)) {
            case DEPTHWISE -> {
                INDArray w = conv.getParam(DepthwiseConvolutionParamInitializer.WEIGHT_KEY);
                Folded f = fold(DepthwiseWeightLayout.DEPTHWISE.toChannelsFirst(w), b, 0, bn);
                yield new Folded(DepthwiseWeightLayout.DEPTHWISE.fromChannelsFirst(f.weight(), w.shape()), f.bias());
            }
            case SEPARABLE -> fold(conv.getParam(SeparableConvolutionParamInitializer.POINT_WISE_WEIGHT_KEY), b, 0, bn);
        };
    }

    /** Reads gamma, beta (or their locked values), running mean and sigma of {@code bn}, and folds them into {@code w}, {@code b}. */
    private static Folded fold(INDArray w, INDArray b, int outAxis, Layer bn) {
        if (!(bn.conf().getLayer() instanceof BatchNormalization bnConf)) {
            throw new IllegalArgumentException("BatchNormFolding: layer '" + bn.conf().getLayer().getLayerName()
                    + "' is a " + bn.conf().getLayer().getClass().getSimpleName() + ", not a BatchNormalization");
        }
        INDArray sigma = BatchNormStatistics.sigma(bn, DataType.DOUBLE);   // float64 throughout, as the rest of the fold
        INDArray gamma = bnConf.isLockGammaBeta()
                ? Nd4j.valueArrayOf(sigma.shape(), bnConf.getGamma(), DataType.DOUBLE)
                : bn.getParam(BatchNormalizationParamInitializer.GAMMA).castTo(DataType.DOUBLE);
        INDArray beta = bnConf.isLockGammaBeta()
                ? Nd4j.valueArrayOf(sigma.shape(), bnConf.getBeta(), DataType.DOUBLE)
                : bn.getParam(BatchNormalizationParamInitializer.BETA).castTo(DataType.DOUBLE);
        return fold(w, b, outAxis, gamma, beta, bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN), sigma);
    }

    /**
     * @param w       weights
     * @param b       bias ({@code [1, out]} or {@code [out]}), or null for none
     * @param outAxis output-channel axis of {@code w}
     * @param gamma   BN scale per channel
     * @param beta    BN shift per channel
     * @param mean    BN running mean per channel
     * @param sigma   BN running standard deviation per channel, {@code sqrt(var + eps)}
     */
    public static Folded fold(INDArray w, INDArray b, int outAxis, INDArray gamma, INDArray beta, INDArray mean, INDArray sigma) {
        long out = w.size(outAxis);
        for (INDArray v : new INDArray[] {gamma, beta, mean, sigma}) {
            if (v.length() != out) {
                throw new IllegalArgumentException("BatchNormFolding: batch-norm parameters have " + v.length()
                        + " channels but the weight has " + out + " output channels on axis " + outAxis);
            }
        }
        INDArray factor = gamma.castTo(DataType.DOUBLE).reshape(out).div(sigma.castTo(DataType.DOUBLE).reshape(out));
        INDArray wd = w.castTo(DataType.DOUBLE);
        INDArray folded = outAxis == 0
                ? wd.reshape('c', out, w.length() / out).mulColumnVector(factor.reshape(out, 1)).reshape('c', w.shape())
                : wd.dup('c').mulRowVector(factor.reshape(1, out));
        INDArray bias = b == null ? Nd4j.zeros(DataType.DOUBLE, out) : b.castTo(DataType.DOUBLE).reshape(out);
        INDArray foldedBias = bias.sub(mean.castTo(DataType.DOUBLE).reshape(out)).muli(factor).addi(beta.castTo(DataType.DOUBLE).reshape(out));
        return new Folded(folded.castTo(w.dataType()), foldedBias.reshape(1, out).castTo(w.dataType()));
    }
}
