package io.qat4j.ptq;

import java.util.Map;
import java.util.Random;

import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.impl.InputQuantization;

/**
 * AdaRound (Nagel, Amjad, van Baalen, Louizos, Blankevoort, "Up or Down? Adaptive Rounding for
 * Post-Training Quantization", ICML 2020): instead of rounding each weight to the nearest code, learn
 * per weight whether it rounds down or up so that the layer's output on calibration data stays close
 * to the float layer's.
 *
 * <p>For a linear map {@code y = x W + b} ({@code W} of shape {@code [K, out]}: a dense layer, or a
 * convolution as a matrix over im2col rows, {@code K = C kh kw}) with per-output-column scales
 * {@code s_c} and symmetric codes {@code [-qmax, qmax]}:
 * <pre>
 *   W~[k,c] = s_c clamp(floor(W[k,c] / s_c) + h(V[k,c]), -qmax, qmax)          (paper eq. 22)
 *   h(V)    = clamp(sigmoid(V) (zeta - gamma) + gamma, 0, 1),  zeta = 1.1, gamma = -0.1   (eq. 23)
 *   L(V)    = mean_rows sum_c (f(x~ W~ + b) - y)^2 + lambda sum_{k,c} (1 - |2 h(V) - 1|^beta)   (eqs. 24-25)
 * </pre>
 * where {@code x~} are the layer's inputs in the network whose earlier layers are already quantized
 * (the paper's asymmetric reconstruction, sec. 4.2), {@code y = f(x W + b)} the float layer's outputs
 * on float inputs, and {@code f} the identity or the layer's ReLU. {@code V} starts where
 * {@code h(V)} equals the fractional part {@code W/s - floor(W/s)} (so the first iterate is the float
 * weight), is trained with Adam on random row batches, the regularizer off for the first
 * {@code warmup} fraction of iterations and then with {@code beta} decayed linearly from 20 to 2 (the
 * authors' {@code LinearTempDecay}); finally each weight rounds up where {@code h(V) >= 0.5}, i.e.
 * {@code V >= 0}. Gradients: {@code dh/dV = sigmoid'(V)(zeta - gamma)} inside {@code (0, 1)}, zero
 * where {@code h} is clamped; zero for a weight whose code is clamped at {@code +-qmax}.
 */
public final class AdaRound {

    /** Stretch of the rectified sigmoid (paper eq. 23). */
    public static final double ZETA = 1.1;
    /** Shift of the rectified sigmoid (paper eq. 23). */
    public static final double GAMMA = -0.1;
    /** Regularizer exponent at the end of the warm-up (high: soft, lets h move). */
    public static final double BETA_START = 20;
    /** Regularizer exponent at the last iteration (low: pushes h to 0 or 1). */
    public static final double BETA_END = 2;

    /**
     * How AdaRound learns one layer's rounding.
     *
     * @param iterations     Adam steps per layer, >= 1 (default 1000; the paper uses 10,000 on ImageNet)
     * @param regularization {@code lambda}, weight of the rounding regularizer relative to the reconstruction error, > 0
     *                       (default 0.01, as AIMET)
     * @param batchRows      rows (samples, or samples times output positions for a convolution) per step, >= 1 (default 4096)
     * @param learningRate   Adam learning rate on {@code V}, > 0 (default 0.01)
     * @param warmup         fraction of the iterations without the regularizer, in [0, 1) (default 0.2)
     * @param samples        calibration samples whose inputs and outputs are reconstructed, >= 1 (default 256)
     * @param seed           seed of the row sampling
     */
    public record Settings(int iterations, double regularization, int batchRows, double learningRate, double warmup, int samples,
                           long seed) {
        public Settings {
            if (iterations < 1) {
                throw new IllegalArgumentException("AdaRound: iterations must be >= 1 (e.g. 1000), got " + iterations);
            }
            if (!(regularization > 0) || Double.isInfinite(regularization)) {
                throw new IllegalArgumentException("AdaRound: regularization must be a positive number (e.g. 0.01), got " + regularization);
            }
            if (batchRows < 1) {
                throw new IllegalArgumentException("AdaRound: batchRows must be >= 1 (e.g. 4096), got " + batchRows);
            }
            if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw new IllegalArgumentException("AdaRound: learningRate must be a positive number (e.g. 0.01), got " + learningRate);
            }
            if (!(warmup >= 0 && warmup < 1)) {
                throw new IllegalArgumentException("AdaRound: warmup must be in [0, 1) (e.g. 0.2), got " + warmup);
            }
            if (samples < 1) {
                throw new IllegalArgumentException("AdaRound: samples must be >= 1 (e.g. 256), got " + samples);
            }
        }

        /** 1000 iterations, lambda 0.01, 4096 rows per step, Adam 0.01, 20% warm-up, 256 samples, seed 0. */
        public static Settings defaults() {
            return new Settings(1000, 0.01, 4096, 0.01, 0.2, 256, 0);
        }

        public Settings withIterations(int iterations) {
            return new Settings(iterations, regularization, batchRows, learningRate, warmup, samples, seed);
        }
    }

    /**
     * One layer's learned rounding.
     *
     * @param codes         integer codes in {@code [-qmax, qmax]}, {@code [K, out]} row-major
     * @param nearestError  reconstruction error (mean over rows of the squared output difference summed over outputs) with
     *                      nearest rounding, on all rows given
     * @param learnedError  the same with the learned codes
     * @param changed       fraction of weights whose code differs from nearest rounding
     */
    public record Rounded(int[] codes, double nearestError, double learnedError, double changed) {
    }

    private AdaRound() {
    }

    /**
     * Learns the rounding of {@code y = f(x W + b)}.
     *
     * @param w       float weights {@code [K, out]} row-major
     * @param out     output columns
     * @param scales  one positive scale per output column, or one for all
     * @param qmax    codes are in {@code [-qmax, qmax]}, qmax >= 1
     * @param x       the layer's inputs from the partly quantized network, {@code [R, K]}
     * @param target  the float layer's outputs {@code f(x W + b)} on float inputs, {@code [R, out]}
     * @param bias    length {@code out}, or null
     * @param relu    whether {@code f} is ReLU (else the identity)
     * @throws IllegalArgumentException on shapes that do not fit or non-positive scales
     */
    public static Rounded learn(double[] w, int out, double[] scales, int qmax, INDArray x, INDArray target, double[] bias, boolean relu,
                                Settings settings) {
        Objective f = new Objective(w, out, scales, qmax, bias, relu);
        if (x.rank() != 2 || x.columns() != f.fanIn || target.rank() != 2 || target.columns() != out || target.rows() != x.rows()) {
            throw new IllegalArgumentException("AdaRound: inputs " + java.util.Arrays.toString(x.shape()) + " and targets "
                    + java.util.Arrays.toString(target.shape()) + " do not fit a [" + f.fanIn + ", " + out + "] weight");
        }
        INDArray xf = x.castTo(DataType.FLOAT);
        INDArray yf = target.castTo(DataType.FLOAT);
        float[] xa = xf.dup('c').data().asFloat();
        float[] ya = yf.dup('c').data().asFloat();
        double[] v = f.initialV();
        double[] m = new double[v.length];
        double[] s2 = new double[v.length];
        double[] grad = new double[v.length];
        Random rnd = new Random(settings.seed());
        long rows = xf.rows();
        int batch = (int) Math.min(rows, settings.batchRows());
        int warm = (int) Math.round(settings.warmup() * settings.iterations());
        double b1 = 0.9;
        double b2 = 0.999;
        for (int it = 0; it < settings.iterations(); it++) {
            INDArray xb;
            INDArray yb;
            if (batch == rows) {
                xb = xf;
                yb = yf;
            } else {
                // gather the batch rows in Java (INDArray.getRows copies row by row through the op executioner: slow)
                int k = f.fanIn;
                float[] xr = new float[batch * k];
                float[] yr = new float[batch * out];
                for (int i = 0; i < batch; i++) {
                    int r = rnd.nextInt((int) rows);
                    System.arraycopy(xa, r * k, xr, i * k, k);
                    System.arraycopy(ya, r * out, yr, i * out, out);
                }
                xb = Nd4j.create(xr, new long[] {batch, k}, 'c');
                yb = Nd4j.create(yr, new long[] {batch, out}, 'c');
            }
            double lambda = it < warm ? 0 : settings.regularization();
            double beta = it < warm ? BETA_START
                    : BETA_END + (BETA_START - BETA_END) * Math.max(0, 1 - (double) (it - warm) / Math.max(1, settings.iterations() - warm));
            f.evaluate(v, xb, yb, lambda, beta, grad);
            double c1 = 1 - Math.pow(b1, it + 1);
            double c2 = 1 - Math.pow(b2, it + 1);
            for (int i = 0; i < v.length; i++) {
                m[i] = b1 * m[i] + (1 - b1) * grad[i];
                s2[i] = b2 * s2[i] + (1 - b2) * grad[i] * grad[i];
                v[i] -= settings.learningRate() * (m[i] / c1) / (Math.sqrt(s2[i] / c2) + 1e-8);
            }
        }
        int[] nearest = f.nearestCodes();
        int[] learned = f.hardCodes(v);
        int changed = 0;
        for (int i = 0; i < learned.length; i++) {
            changed += learned[i] != nearest[i] ? 1 : 0;
        }
        return new Rounded(learned, f.error(nearest, xf, yf), f.error(learned, xf, yf), (double) changed / learned.length);
    }

    /** {@code h(V)}, the rectified sigmoid (eq. 23). */
    static double h(double v) {
        return Math.max(0, Math.min(1, sigmoid(v) * (ZETA - GAMMA) + GAMMA));
    }

    private static double sigmoid(double v) {
        return 1 / (1 + Math.exp(-v));
    }

    /**
     * The AdaRound objective of one layer and its gradient in {@code V}: the part the tests check
     * against finite differences.
     */
    static final class Objective {
        final double[] w;
        final int out;
        final int fanIn;
        final double[] scales;
        final int qmax;
        final double[] bias;
        final boolean relu;
        final double[] floor;

        Objective(double[] w, int out, double[] scales, int qmax, double[] bias, boolean relu) {
            if (out < 1 || w.length % out != 0) {
                throw new IllegalArgumentException("AdaRound: " + w.length + " weights do not form a [K, " + out + "] matrix");
            }
            if (scales.length != 1 && scales.length != out) {
                throw new IllegalArgumentException("AdaRound: " + scales.length + " scales for " + out + " output columns (give 1 or " + out + ")");
            }
            for (double s : scales) {
                if (!(s > 0) || Double.isInfinite(s)) {
                    throw new IllegalArgumentException("AdaRound: scales must be positive and finite, got " + s);
                }
            }
            if (qmax < 1) {
                throw new IllegalArgumentException("AdaRound: qmax must be >= 1, got " + qmax);
            }
            if (bias != null && bias.length != out) {
                throw new IllegalArgumentException("AdaRound: bias of length " + bias.length + " for " + out + " outputs");
            }
            this.w = w;
            this.out = out;
            this.fanIn = w.length / out;
            this.scales = scales;
            this.qmax = qmax;
            this.bias = bias;
            this.relu = relu;
            this.floor = new double[w.length];
            for (int i = 0; i < w.length; i++) {
                floor[i] = Math.floor(w[i] / scale(i));
            }
        }

        double scale(int i) {
            return scales.length == 1 ? scales[0] : scales[i % out];
        }

        /** {@code V} with {@code h(V) = W/s - floor(W/s)}. */
        double[] initialV() {
            double[] v = new double[w.length];
            for (int i = 0; i < v.length; i++) {
                double frac = w[i] / scale(i) - floor[i];
                double p = (frac - GAMMA) / (ZETA - GAMMA);
                v[i] = Math.log(p / (1 - p));
            }
            return v;
        }

        private double code(int i, double hv) {
            return Math.max(-qmax, Math.min(qmax, floor[i] + hv));
        }

        int[] nearestCodes() {
            int[] c = new int[w.length];
            for (int i = 0; i < c.length; i++) {
                c[i] = (int) Math.max(-qmax, Math.min(qmax, Math.rint(w[i] / scale(i))));
            }
            return c;
        }

        int[] hardCodes(double[] v) {
            int[] c = new int[w.length];
            for (int i = 0; i < c.length; i++) {
                c[i] = (int) code(i, v[i] >= 0 ? 1 : 0);
            }
            return c;
        }

        /** The pre-activation {@code x W~ + b} for the weights {@code wq} ({@code [K, out]}), in {@code x}'s data type. */
        private INDArray output(double[] wq, INDArray x) {
            INDArray wm = Nd4j.create(wq, new long[] {fanIn, out}, 'c').castTo(x.dataType());
            INDArray y = x.mmul(wm);
            if (bias != null) {
                y.addiRowVector(Nd4j.create(bias, new long[] {1, out}, 'c').castTo(x.dataType()));
            }
            return y;
        }

        /** Reconstruction error of integer codes on all rows. */
        double error(int[] codes, INDArray x, INDArray y) {
            double[] wq = new double[codes.length];
            for (int i = 0; i < wq.length; i++) {
                wq[i] = codes[i] * scale(i);
            }
            INDArray pre = output(wq, x);
            INDArray o = relu ? org.nd4j.linalg.ops.transforms.Transforms.relu(pre, true) : pre;
            INDArray d = o.subi(y);
            return d.mul(d).sum().getDouble(0) / x.rows();
        }

        /**
         * The objective at {@code v} on the rows {@code x, y}, its gradient written to {@code grad}.
         *
         * @return the reconstruction error plus {@code lambda} times the regularizer
         */
        double evaluate(double[] v, INDArray x, INDArray y, double lambda, double beta, double[] grad) {
            int n = w.length;
            double[] wq = new double[n];
            for (int i = 0; i < n; i++) {
                wq[i] = scale(i) * code(i, h(v[i]));
            }
            INDArray pre = output(wq, x);
            INDArray o = relu ? org.nd4j.linalg.ops.transforms.Transforms.relu(pre, true) : pre.dup();
            INDArray d = o.subi(y);
            double rows = x.rows();
            double recon = d.mul(d).sum().getDouble(0) / rows;
            if (relu) {
                d.muli(pre.gt(0).castTo(d.dataType()));
            }
            // dL/dW~ = 2/R x^T (f(x W~ + b) - y) * f'
            double[] g = x.transpose().mmul(d).muli(2 / rows).castTo(DataType.DOUBLE).dup('c').data().asDouble();
            double reg = 0;
            for (int i = 0; i < n; i++) {
                double sg = sigmoid(v[i]);
                double hv = sg * (ZETA - GAMMA) + GAMMA;
                boolean inside = hv > 0 && hv < 1;
                double hc = Math.max(0, Math.min(1, hv));
                double dh = inside ? sg * (1 - sg) * (ZETA - GAMMA) : 0;
                double raw = floor[i] + hc;
                boolean unclamped = raw > -qmax && raw < qmax;
                double gi = unclamped ? g[i] * scale(i) * dh : 0;
                double t = 2 * hc - 1;
                reg += 1 - Math.pow(Math.abs(t), beta);
                if (lambda > 0) {
                    // d/dh (1 - |2h - 1|^beta) = -2 beta |2h - 1|^(beta - 1) sign(2h - 1)
                    gi += lambda * -2 * beta * Math.pow(Math.abs(t), beta - 1) * Math.signum(t) * dh;
                }
                grad[i] = gi;
            }
            return recon + lambda * reg;
        }
    }

    /**
     * Learns the rounding of every layer of a PTQ result that the plan quantizes with uniform weights
     * (convolutions and dense/output layers, in network order), each from the inputs of the fake-quant
     * network whose earlier layers already carry their learned rounding, against the float network's
     * outputs; the float weights of {@code net} become {@code s * code} on return, so that the plan's
     * nearest rounding reproduces the learned codes exactly. Layers kept in float, binary or ternary
     * weights, and other layer kinds keep nearest rounding (a note says so).
     *
     * @param net  the float network the plan applies to (modified)
     * @param plan its plan (weight scales, input ranges)
     * @param x    calibration samples {@code [N, ...]}
     * @return one note per layer: the reconstruction error with nearest and learned rounding
     */
    static java.util.List<String> apply(NetworkView net, QuantPlan plan, INDArray x, Settings settings) {
        java.util.List<String> notes = new java.util.ArrayList<>();
        Map<String, INDArray> floatActs = NetworkView.of(net.copy()).activations(x);
        QuantizedModel.Wrapped<? extends org.deeplearning4j.nn.api.Model> wrapped = PostTrainingQuantizer.model(net.model(), plan);
        NetworkView q = NetworkView.of(wrapped.network());
        for (QuantPlan.LayerPlan lp : plan.layers()) {
            String name = lp.name();
            if (lp.keepFloat() || lp.weightQuantizer() != QuantPlan.WeightQuantizer.UNIFORM
                    || (lp.kind() != WeightedLayer.Kind.CONV && lp.kind() != WeightedLayer.Kind.DENSE)) {
                notes.add(name + ": nearest rounding (AdaRound covers uniform convolution and dense weights)");
                continue;
            }
            org.deeplearning4j.nn.api.Layer floatLayer = net.layer(name);
            org.deeplearning4j.nn.api.Layer quantLayer = q.layer(name);
            QuantSettings qs = ((QuantizedLayerConf) quantLayer.conf().getLayer()).getQuant();
            INDArray floatIn = floatActs.get(net.vertex(name).inputs().get(0));
            INDArray quantIn = q.activations(x).get(q.vertex(name).inputs().get(0));
            if (qs.quantizesInputs()) {
                quantIn = InputQuantization.forward(qs, quantIn, false, quantLayer.paramTable(), name);
            }
            INDArray w = floatLayer.getParam(DefaultParamInitializer.WEIGHT_KEY);
            long[] wShape = w.shape();
            int out = (int) wShape[lp.kind() == WeightedLayer.Kind.CONV ? 0 : 1];
            INDArray xf;
            INDArray xq;
            double[] wm;
            if (lp.kind() == WeightedLayer.Kind.CONV) {
                ConvolutionLayer conf = (ConvolutionLayer) floatLayer.conf().getLayer();
                long[] y = floatActs.get(name).shape();
                xf = im2col(asCnn(floatIn, net, name), conf, (int) y[2], (int) y[3]);
                xq = im2col(asCnn(quantIn, net, name), conf, (int) y[2], (int) y[3]);
                wm = w.reshape('c', out, w.length() / out).transpose().castTo(DataType.DOUBLE).dup('c').data().asDouble();
            } else {
                xf = floatIn.reshape('c', floatIn.size(0), floatIn.length() / floatIn.size(0)).castTo(DataType.FLOAT);
                xq = quantIn.reshape('c', quantIn.size(0), quantIn.length() / quantIn.size(0)).castTo(DataType.FLOAT);
                wm = w.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            }
            INDArray b = floatLayer.paramTable().get(DefaultParamInitializer.BIAS_KEY);
            double[] bias = b == null ? null : b.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            boolean relu = ((org.deeplearning4j.nn.conf.layers.BaseLayer) floatLayer.conf().getLayer()).getActivationFn()
                    instanceof org.nd4j.linalg.activations.impl.ActivationReLU;
            INDArray target = xf.mmul(Nd4j.create(wm, new long[] {wm.length / out, out}, 'c').castTo(DataType.FLOAT));
            if (bias != null) {
                target.addiRowVector(Nd4j.create(bias, new long[] {1, out}, 'c').castTo(DataType.FLOAT));
            }
            if (relu) {
                org.nd4j.linalg.ops.transforms.Transforms.relu(target, false);
            }
            double[] scales = lp.weightScales();
            int qmax = (1 << (lp.weightBits() - 1)) - 1;
            Rounded r = learn(wm, out, scales, qmax, xq, target, bias, relu, settings);
            double[] rounded = new double[wm.length];
            for (int i = 0; i < rounded.length; i++) {
                rounded[i] = r.codes()[i] * (scales.length == 1 ? scales[0] : scales[i % out]);
            }
            INDArray newW = Nd4j.create(rounded, new long[] {wm.length / out, out}, 'c');
            if (lp.kind() == WeightedLayer.Kind.CONV) {
                newW = newW.transpose().reshape('c', wShape);
            }
            floatLayer.setParam(DefaultParamInitializer.WEIGHT_KEY, newW.castTo(w.dataType()).dup('c'));
            quantLayer.setParam(DefaultParamInitializer.WEIGHT_KEY, newW.castTo(quantLayer.getParam(DefaultParamInitializer.WEIGHT_KEY)
                    .dataType()).dup('c'));
            notes.add(String.format("%s: AdaRound output error %.4g -> %.4g (%.1f%% of codes changed)", name, r.nearestError(),
                    r.learnedError(), 100 * r.changed()));
        }
        return notes;
    }

    /** A convolution's input as {@code [N, C, H, W]}: itself, or a flat input reshaped as {@link NetworkView#cnnInputShape} says. */
    private static INDArray asCnn(INDArray in, NetworkView net, String layer) {
        if (in.rank() == 4) {
            return in;
        }
        long[] chw = net.cnnInputShape(layer, java.util.Arrays.copyOfRange(in.shape(), 1, in.rank()));
        return in.reshape('c', in.size(0), chw[0], chw[1], chw[2]);
    }

    /**
     * im2col of a DL4J convolution's input: {@code [N, C, H, W]} to rows {@code (n, oy, ox)} of columns
     * {@code (c, ky, kx)}, zero padding where the window leaves the input, with the layer's stride,
     * dilation, padding and convolution mode (DL4J's own Same-mode top-left padding): row {@code r} times
     * the weight {@code W[o, c, ky, kx]} reshaped to {@code [C kh kw, O]} is the convolution output at
     * {@code r} without bias.
     *
     * @return {@code [N oh ow, C kh kw]}, float
     */
    static INDArray im2col(INDArray input, ConvolutionLayer conf, int oh, int ow) {
        long[] s = input.shape();
        int n = (int) s[0];
        int c = (int) s[1];
        int h = (int) s[2];
        int wd = (int) s[3];
        int[] k = conf.getKernelSize();
        int[] stride = conf.getStride();
        int[] dil = conf.getDilation();
        int[] topLeft = ConvGeometry.topLeftPadding(conf, k, h, wd, oh, ow);
        int padTop = topLeft[0];
        int padLeft = topLeft[1];
        float[] x = input.castTo(DataType.FLOAT).dup('c').data().asFloat();
        int cols = c * k[0] * k[1];
        long total = (long) n * oh * ow * cols;
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("AdaRound: im2col of " + n + " samples would hold " + total
                    + " values; give AdaRound fewer samples");
        }
        float[] out = new float[(int) total];
        int r = 0;
        for (int i = 0; i < n; i++) {
            for (int y = 0; y < oh; y++) {
                for (int xo = 0; xo < ow; xo++, r++) {
                    int col = 0;
                    for (int ci = 0; ci < c; ci++) {
                        for (int u = 0; u < k[0]; u++) {
                            int iy = y * stride[0] - padTop + u * dil[0];
                            for (int v = 0; v < k[1]; v++, col++) {
                                int ix = xo * stride[1] - padLeft + v * dil[1];
                                if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
                                    out[r * cols + col] = x[((i * c + ci) * h + iy) * wd + ix];
                                }
                            }
                        }
                    }
                }
            }
        }
        return Nd4j.create(out, new long[] {(long) n * oh * ow, cols}, 'c');
    }
}
