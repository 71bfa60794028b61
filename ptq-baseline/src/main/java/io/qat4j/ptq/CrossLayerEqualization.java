package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

/**
 * Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization and
 * Bias Correction", ICCV 2019): for consecutive weighted layers A, B joined only by positively
 * homogeneous operations (ReLU or identity activations, max/average pooling, dropout, DL4J's
 * CNN-to-dense flatten), {@code relu(s x) = s relu(x)} for {@code s > 0}, so output channel i of A
 * can be divided by {@code s_i} (weights and bias) and input channel i of B multiplied by it without
 * changing the function. With {@code r1_i = max|W_A[i]|} and {@code r2_i = max|W_B[:, i]|},
 * {@code s_i = sqrt(r1_i r2_i) / r2_i} makes both ranges {@code sqrt(r1_i r2_i)}, which helps
 * per-tensor weight quantization. Pairs are equalized in order, repeatedly, until no scale
 * differs from 1 by more than 1e-6 (at most 100 sweeps). Run it after batch-norm folding. Modifies
 * the network in place. In a ComputationGraph only single-consumer chains qualify ({@link #pairs}):
 * a tensor that also feeds an Add, a concat or a second layer is never rescaled.
 *
 * <p>Depthwise convolutions (the MobileNet pairs of the paper): as B, a depthwise kernel's input
 * channel i is its {@code mult} filters {@code i mult .. i mult + mult - 1}; as A, its output channel
 * o is filter o and bias o. A separable convolution is A through its pointwise kernel and bias, B
 * through its depthwise kernel, and is also a pair on its own ({@code "sep:depthwise->pointwise"}):
 * nothing but the (float) identity lies between its depthwise output channel k and the pointwise
 * kernel's input channel k, so the depthwise filter k (no bias) and pointwise column k equalize
 * like any pair. Note that ReLU6 is not positively homogeneous ({@code min(6, s x) != s min(6, x)}),
 * so, as in the paper, a MobileNet with ReLU6 between layers has no pairs there (the paper replaces
 * ReLU6 by ReLU first; this pass leaves the network's function alone).
 */
public final class CrossLayerEqualization {

    /** Equalized pairs ({@code "A->B"}, or {@code "S:depthwise->pointwise"} inside separable convolution S) and the sweeps used. */
    public record Result(List<String> pairs, int sweeps) {
    }

    /** A pair: the output channels of A's tensor {@code aTensor} (and A's bias if {@code aBias}) against the input channels of B's {@code bTensor}. */
    private record Pair(WeightedLayer a, WeightedLayer.Tensor aTensor, boolean aBias, WeightedLayer b, WeightedLayer.Tensor bTensor,
                        String label) {
    }

    private CrossLayerEqualization() {
    }

    /** Equalizes a MultiLayerNetwork or ComputationGraph in place. */
    public static Result apply(Model net) {
        NetworkView view = NetworkView.of(net);
        List<Pair> pairs = pairs(view);
        int sweeps = 0;
        boolean changed = !pairs.isEmpty();
        while (changed && sweeps < 100) {
            changed = false;
            for (Pair p : pairs) {
                changed |= equalize(view, p);
            }
            sweeps++;
        }
        List<String> names = new ArrayList<>();
        pairs.forEach(p -> names.add(p.label));
        return new Result(names, sweeps);
    }

    /**
     * Pairs (A, B): A has a homogeneous activation, and A's output reaches B through a chain of
     * positively homogeneous layers in which every tensor has exactly one consumer and none is a
     * network output (so no other reader sees the rescaled channels); every input preprocessor on
     * the way is none or a CNN-to-dense flatten. In a MultiLayerNetwork that is each weighted layer
     * and the next one. Each separable convolution is also a pair of its depthwise and pointwise
     * kernels, listed before the pairs it starts.
     */
    static List<Pair> pairs(NetworkView view) {
        List<WeightedLayer> layers = WeightedLayer.of(view);
        List<Pair> out = new ArrayList<>();
        for (WeightedLayer a : layers) {
            if (a.kind() == WeightedLayer.Kind.SEPARABLE) {
                out.add(new Pair(a, WeightedLayer.Tensor.WEIGHTS, false, a, WeightedLayer.Tensor.POINTWISE,
                        a.name() + ":depthwise->pointwise"));
            }
            if (!homogeneous(((BaseLayer) view.vertex(a.name()).layer()).getActivationFn())) {
                continue;
            }
            NetworkView.Vertex next = view.soleConsumer(a.name());
            while (next != null && next.layer() != null
                    && (next.preProcessor() == null || next.preProcessor() instanceof CnnToFeedForwardPreProcessor)) {
                if (WeightedLayer.kindOf(next.layer()) != null) {
                    WeightedLayer b = WeightedLayer.named(layers, next.name());
                    out.add(new Pair(a, a.outputTensor(), true, b, WeightedLayer.Tensor.WEIGHTS, a.name() + "->" + b.name()));
                    break;
                }
                next = passesScales(next.layer()) ? view.soleConsumer(next.name()) : null;
            }
        }
        return out;
    }

    /** Layers without weights that commute with a positive per-channel scale. */
    private static boolean passesScales(Layer l) {
        return l instanceof SubsamplingLayer s ? s.getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.MAX
                || s.getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.AVG
                : l instanceof ActivationLayer act ? homogeneous(act.getActivationFn()) : l instanceof DropoutLayer;
    }

    private static boolean homogeneous(IActivation act) {
        return act instanceof ActivationReLU || act instanceof ActivationIdentity;
    }

    /** One equalization step of a pair; true when some scale moved by more than 1e-6. */
    private static boolean equalize(NetworkView view, Pair p) {
        org.deeplearning4j.nn.api.Layer la = view.layer(p.a.name());
        org.deeplearning4j.nn.api.Layer lb = view.layer(p.b.name());
        INDArray wa = p.a.read(la, p.aTensor);
        INDArray wb = p.b.read(lb, p.bTensor);
        double[] w1 = wa.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] w2 = wb.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        int channels = (int) wa.size(p.a.outAxis(p.aTensor));
        ChannelView va = ChannelView.output(wa.shape(), p.a.kind());
        ChannelView vb = ChannelView.input(wb.shape(), p.b.kind(), p.bTensor, channels);
        boolean changed = false;
        double[] scale = new double[channels];
        for (int c = 0; c < channels; c++) {
            double r1 = va.absMax(w1, c);
            double r2 = vb.absMax(w2, c);
            scale[c] = r1 > 0 && r2 > 0 ? Math.sqrt(r1 * r2) / r2 : 1;
            changed |= Math.abs(scale[c] - 1) > 1e-6;
            va.scale(w1, c, 1 / scale[c]);
            vb.scale(w2, c, scale[c]);
        }
        p.a.write(la, p.aTensor, Nd4j.create(w1, wa.shape(), 'c'));
        p.b.write(lb, p.bTensor, Nd4j.create(w2, wb.shape(), 'c'));
        INDArray bias = p.aBias ? la.paramTable().get(DefaultParamInitializer.BIAS_KEY) : null;
        if (bias != null) {
            double[] bv = bias.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            for (int c = 0; c < channels; c++) {
                bv[c] /= scale[c];
            }
            la.setParam(DefaultParamInitializer.BIAS_KEY, Nd4j.create(bv, bias.shape(), 'c').castTo(bias.dataType()));
        }
        return changed;
    }

    /** Where channel c's weights sit in a c-order weight array in the quantizer layout ({@link WeightedLayer#toQuantizerLayout}). */
    record ChannelView(int groups, int groupStride, int channelStride, int run) {
        /**
         * Output channel c of A: one block per channel on axis 0 (a conv kernel {@code [O, I, kh, kw]}, a
         * depthwise kernel channels first {@code [nIn mult, kh, kw]}, a pointwise kernel); one column of
         * a dense {@code [in, out]}.
         */
        static ChannelView output(long[] shape, WeightedLayer.Kind kind) {
            if (kind != WeightedLayer.Kind.DENSE) {
                int block = 1;
                for (int d = 1; d < shape.length; d++) {
                    block *= (int) shape[d];
                }
                return new ChannelView(1, 0, block, block);
            }
            return new ChannelView((int) shape[0], (int) shape[1], 1, 1);
        }

        /** Input channel c of B's W (see {@link #input(long[], WeightedLayer.Kind, WeightedLayer.Tensor, int)}). */
        static ChannelView input(long[] shape, WeightedLayer.Kind kind, int channels) {
            return input(shape, kind, WeightedLayer.Tensor.WEIGHTS, channels);
        }

        /**
         * Input channel c of B's tensor: conv {@code [O, I, kh, kw]} and pointwise {@code [O, I, 1, 1]}
         * kernels: one kh*kw run in every output block; a depthwise kernel channels first
         * {@code [channels mult, kh, kw]}: its {@code mult} consecutive filters {@code c mult ..}; dense
         * {@code [in, out]}: {@code in / channels} consecutive rows (one after a flatten of C x H x W,
         * one row per channel otherwise).
         */
        static ChannelView input(long[] shape, WeightedLayer.Kind kind, WeightedLayer.Tensor tensor, int channels) {
            boolean depthwise = tensor == WeightedLayer.Tensor.WEIGHTS
                    && (kind == WeightedLayer.Kind.DEPTHWISE || kind == WeightedLayer.Kind.SEPARABLE);
            if (depthwise) {
                if (shape[0] % channels != 0) {
                    throw new IllegalArgumentException("cross-layer equalization: a depthwise kernel of " + shape[0]
                            + " filters does not split into " + channels + " input channels");
                }
                int run = (int) (shape[0] / channels * shape[1] * shape[2]);
                return new ChannelView(1, 0, run, run);
            }
            if (kind != WeightedLayer.Kind.DENSE) {
                int k = (int) (shape[2] * shape[3]);
                return new ChannelView((int) shape[0], (int) (shape[1] * k), k, k);
            }
            int rows = (int) (shape[0] / channels);
            if (rows * (long) channels != shape[0]) {
                throw new IllegalArgumentException("cross-layer equalization: dense input of " + shape[0]
                        + " features does not split into " + channels + " channels");
            }
            int run = (int) (rows * shape[1]);
            return new ChannelView(1, 0, run, run);
        }

        double absMax(double[] w, int c) {
            double m = 0;
            for (int g = 0; g < groups; g++) {
                int start = g * groupStride + c * channelStride;
                for (int j = 0; j < run; j++) {
                    m = Math.max(m, Math.abs(w[start + j]));
                }
            }
            return m;
        }

        void scale(double[] w, int c, double factor) {
            for (int g = 0; g < groups; g++) {
                int start = g * groupStride + c * channelStride;
                for (int j = 0; j < run; j++) {
                    w[start + j] *= factor;
                }
            }
        }
    }
}
