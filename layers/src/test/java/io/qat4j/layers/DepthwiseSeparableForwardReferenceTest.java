package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl;
import io.qat4j.layers.params.QuantizedSeparableConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.lsq.LsqQuantizer;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.reference.QuantReference;

/**
 * With quantization on, the depthwise and separable layers' forward passes equal plain
 * {@code double[]} references written out here: the input fake-quantized by the reference
 * quantizers, the weights rearranged channels first by loops (output channel {@code c mult + m})
 * and fake-quantized per channel, the depthwise convolution as loops over the window, the bias on
 * the grid {@code s_x s_w[o]}, and for the separable layer the mid quantizer on the depthwise output
 * followed by the 1x1 convolution with the bias on {@code s_mid s_pw[o]}.
 */
class DepthwiseSeparableForwardReferenceTest {

    private static final int N = 2;
    private static final int C = 3;
    private static final int H = 7;
    private static final int K = 3;
    private static final int MULT = 2;
    private static final int SEP_OUT = 4;

    /** Window geometry; Same-mode padding as TensorFlow/libnd4j: top = max((out-1) s + (k-1) d + 1 - in, 0) / 2. */
    record Geometry(int stride, int pad, int dilation, ConvolutionMode mode) {
        int out() {
            int eff = (K - 1) * dilation + 1;
            return mode == ConvolutionMode.Same ? (H + stride - 1) / stride : (H + 2 * pad - eff) / stride + 1;
        }

        int top() {
            int eff = (K - 1) * dilation + 1;
            return mode == ConvolutionMode.Same ? Math.max((out() - 1) * stride + eff - H, 0) / 2 : pad;
        }
    }

    private static final Geometry MAIN = new Geometry(2, 1, 1, ConvolutionMode.Truncate);

    private static double[] flat(INDArray a) {
        return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    }

    private static MultiLayerNetwork net(org.deeplearning4j.nn.conf.layers.Layer layer) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).dataType(DataType.DOUBLE).list()
                .layer(layer)
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(H, H, C)).build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        return n;
    }

    private static DepthwiseNets.Variant variant(Geometry g) {
        return new DepthwiseNets.Variant(g.stride(), g.pad(), g.dilation(), g.mode(), true, MULT);
    }

    /** Reference per-group scales of a weight quantizer (null when its mode has no integer grid). */
    static double[] weightScales(QuantSettings s, INDArray w, int axis, Map<String, INDArray> params) {
        double[] x = flat(w);
        long[] shape = w.shape();
        Granularity g = s.isWeightPerChannel() ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
        int groups = QuantReference.groupCount(g, axis, 0, shape);
        return switch (s.getWeightMode()) {
            case FIXED -> {
                QuantSpec spec = io.qat4j.layers.impl.WeightQuantization.spec(s, axis);
                double[][] mm = QuantReference.minMax(x, shape, g, axis, 0);
                double[] sc = new double[groups];
                for (int k = 0; k < groups; k++) {
                    sc[k] = QuantReference.qparams(spec, mm[0][k], mm[1][k], QParams.MIN_SCALE)[0];
                }
                yield sc;
            }
            case LSQ -> flat(params.get(QuantizerParams.WEIGHT_STEP_KEY));
            case BINARY -> QuantReference.meanAbs(x, shape, g, axis);
            case TERNARY -> QuantReference.ternaryAlpha(x, shape, 0.7, g, axis);
            case LSQ_PLUS, NONE -> null;
        };
    }

    /** Reference scale of an input quantizer's codes (NaN without an integer grid). */
    static double inputScale(QuantSettings s, Map<String, INDArray> params) {
        return switch (s.getInputMode()) {
            case FIXED -> QuantReference.qparams(InputQuantization.spec(s), params.get(QuantizerParams.INPUT_MIN_KEY).getDouble(0),
                    params.get(QuantizerParams.INPUT_MAX_KEY).getDouble(0), QParams.MIN_SCALE)[0];
            case LSQ -> params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0);
            case PACT -> params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0)
                    / (s.isInputSigned() ? Math.pow(2, s.getInputBits() - 1) - 1 : Math.pow(2, s.getInputBits()) - 1);
            case LSQ_PLUS, NONE -> Double.NaN;
        };
    }

    /** {@code round(b / (s_x s_w[o])) s_x s_w[o]} (half even), or {@code b} when there is no integer grid. */
    static double[] quantizedBias(double[] b, double sx, double[] sw) {
        if (sw == null || !(sx > 0)) {
            return b.clone();
        }
        double[] out = new double[b.length];
        for (int o = 0; o < b.length; o++) {
            double scale = sw.length == 1 ? sw[0] : sw[o];
            double acc = sx * (scale > 0 ? scale : LsqQuantizer.MIN_STEP);
            out[o] = Math.rint(b[o] / acc) * acc;
        }
        return out;
    }

    /**
     * Depthwise convolution written out: {@code x} {@code [N][C][H][H]}, {@code k} {@code [C mult][K][K]}
     * (row {@code o = c mult + m} reads input channel {@code o / mult}), optional bias per output channel.
     */
    static double[] depthwise(double[] x, double[] k, double[] bias, Geometry g) {
        int out = g.out();
        int oc = C * MULT;
        double[] y = new double[N * oc * out * out];
        for (int n = 0; n < N; n++) {
            for (int o = 0; o < oc; o++) {
                int c = o / MULT;
                for (int i = 0; i < out; i++) {
                    for (int j = 0; j < out; j++) {
                        double acc = bias == null ? 0 : bias[o];
                        for (int a = 0; a < K; a++) {
                            for (int b = 0; b < K; b++) {
                                int r = i * g.stride() - g.top() + a * g.dilation();
                                int q = j * g.stride() - g.top() + b * g.dilation();
                                if (r >= 0 && r < H && q >= 0 && q < H) {
                                    acc += x[((n * C + c) * H + r) * H + q] * k[(o * K + a) * K + b];
                                }
                            }
                        }
                        y[((n * oc + o) * out + i) * out + j] = acc;
                    }
                }
            }
        }
        return y;
    }

    /** 1x1 convolution: {@code d} {@code [N][in][s][s]}, {@code pw} {@code [out][in]}, bias per output channel. */
    static double[] pointwise(double[] d, int in, int size, double[] pw, int out, double[] bias) {
        double[] y = new double[N * out * size * size];
        for (int n = 0; n < N; n++) {
            for (int p = 0; p < out; p++) {
                for (int e = 0; e < size * size; e++) {
                    double acc = bias == null ? 0 : bias[p];
                    for (int o = 0; o < in; o++) {
                        acc += d[(n * in + o) * size * size + e] * pw[p * in + o];
                    }
                    y[(n * out + p) * size * size + e] = acc;
                }
            }
        }
        return y;
    }

    /** DL4J's depthwise W {@code [K, K, C, mult]} rearranged by loops to {@code [C mult, K, K]}. */
    private static INDArray channelsFirstOfDepthwise(INDArray w) {
        double[] out = new double[C * MULT * K * K];
        for (int a = 0; a < K; a++) {
            for (int b = 0; b < K; b++) {
                for (int c = 0; c < C; c++) {
                    for (int m = 0; m < MULT; m++) {
                        out[((c * MULT + m) * K + a) * K + b] = w.getDouble(a, b, c, m);
                    }
                }
            }
        }
        return Nd4j.createFromArray(out).reshape('c', C * MULT, K, K);
    }

    /** DL4J's separable depthwise W {@code [mult, C, K, K]} rearranged by loops to {@code [C mult, K, K]}. */
    private static INDArray channelsFirstOfSeparable(INDArray w) {
        double[] out = new double[C * MULT * K * K];
        for (int m = 0; m < MULT; m++) {
            for (int c = 0; c < C; c++) {
                for (int a = 0; a < K; a++) {
                    for (int b = 0; b < K; b++) {
                        out[((c * MULT + m) * K + a) * K + b] = w.getDouble(m, c, a, b);
                    }
                }
            }
        }
        return Nd4j.createFromArray(out).reshape('c', C * MULT, K, K);
    }

    private static void assertAllClose(double[] expected, double[] got, String what) {
        assertEquals(expected.length, got.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - got[i]) < 1e-9, what + " element " + i + ": expected " + expected[i] + ", got " + got[i]);
        }
    }

    private static INDArray input(long seed) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(DataType.DOUBLE, N, C, H, H).muli(4).subi(0.5);
    }

    private static void checkDepthwise(QuantSettings settings, Geometry g, String what) {
        MultiLayerNetwork net = net(QuantizedDepthwiseConvolutionLayer.of(DepthwiseNets.depthwise(variant(g), Activation.IDENTITY), settings));
        org.deeplearning4j.nn.api.Layer layer = net.getLayer(0);
        QuantSettings s = ((QuantizedDepthwiseConvolutionLayer) layer.conf().getLayer()).getQuant();
        Map<String, INDArray> params = layer.paramTable();
        Nd4j.getRandom().setSeed(21);
        layer.setParam("b", Nd4j.randn(DataType.DOUBLE, 1, C * MULT).muli(0.2));
        InputQuantization.setRange(s, params, -0.3, 3.0, "layer0");
        INDArray x = input(11);

        INDArray k = channelsFirstOfDepthwise(layer.getParam("W"));
        double[] kq = QuantizedForwardReferenceTest.referenceWeights(s, k, 0, params);
        double[] xq = QuantizedForwardReferenceTest.referenceInput(s, x, params);
        double[] b = quantizedBias(flat(layer.getParam("b")), s.quantizesInputs() ? inputScale(s, params) : Double.NaN,
                s.quantizesWeights() ? weightScales(s, k, 0, params) : null);
        double[] expected = depthwise(xq, kq, b, g);
        assertAllClose(expected, flat(net.feedForwardToLayer(0, x, false).get(1)), what);
    }

    @Test
    void depthwiseForwardEqualsTheReferenceForEveryWeightAndInputMode() {
        int checked = 0;
        for (WeightQuantMode wm : WeightQuantMode.values()) {
            for (InputQuantMode im : InputQuantMode.values()) {
                checkDepthwise(QuantSettings.of(wm, 3, im, 4), MAIN, "depthwise " + wm + "/" + im);
                checked++;
            }
        }
        assertEquals(WeightQuantMode.values().length * InputQuantMode.values().length, checked);
    }

    @Test
    void depthwiseForwardEqualsTheReferenceForOtherGeometriesAndPerTensorWeights() {
        for (Geometry g : new Geometry[] {new Geometry(1, 0, 2, ConvolutionMode.Truncate), new Geometry(2, 0, 1, ConvolutionMode.Same),
                new Geometry(1, 1, 1, ConvolutionMode.Truncate)}) {
            checkDepthwise(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4), g, "depthwise " + g);
        }
        QuantSettings perTensor = QuantSettings.of(WeightQuantMode.FIXED, 4, InputQuantMode.FIXED, 8);
        perTensor.setWeightPerChannel(false);
        checkDepthwise(perTensor, MAIN, "depthwise per tensor");
    }

    private static Map<String, INDArray> unprefixedByHand(Map<String, INDArray> params, String... keys) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (int i = 0; i + 1 < keys.length; i += 2) {
            if (params.containsKey(keys[i])) {
                out.put(keys[i + 1], params.get(keys[i]));
            }
        }
        return out;
    }

    private static void checkSeparable(QuantSettings settings, Geometry g, String what) {
        MultiLayerNetwork net = net(QuantizedSeparableConvolutionLayer.of(DepthwiseNets.separable(variant(g), SEP_OUT, Activation.IDENTITY),
                settings));
        QuantizedSeparableConvolutionImpl layer = (QuantizedSeparableConvolutionImpl) net.getLayer(0);
        QuantizedSeparableConvolutionLayer conf = (QuantizedSeparableConvolutionLayer) layer.conf().getLayer();
        QuantSettings s = conf.getQuant();
        Map<String, INDArray> params = layer.paramTable();
        Nd4j.getRandom().setSeed(22);
        layer.setParam("b", Nd4j.randn(DataType.DOUBLE, 1, SEP_OUT).muli(0.2));
        InputQuantization.setRange(s, params, -0.3, 3.0, "layer0");
        layer.setMidRange(-1.5, 2.0);
        INDArray x = input(12);

        // the depthwise part, its output through the mid quantizer
        INDArray k = channelsFirstOfSeparable(layer.getParam("W"));
        double[] kq = QuantizedForwardReferenceTest.referenceWeights(s, k, 0, params);
        double[] xq = QuantizedForwardReferenceTest.referenceInput(s, x, params);
        double[] mid = depthwise(xq, kq, null, g);
        int size = g.out();
        QuantSettings ms = conf.midQuantizerSettings();
        assertTrue(!ms.quantizesInputs() || ms.isInputSigned(), what + ": a calibrated range below 0 makes the mid quantizer signed");
        Map<String, INDArray> midParams = unprefixedByHand(params,
                QuantizedSeparableConvolutionParamInitializer.MID_INPUT_MIN_KEY, QuantizerParams.INPUT_MIN_KEY,
                QuantizedSeparableConvolutionParamInitializer.MID_INPUT_MAX_KEY, QuantizerParams.INPUT_MAX_KEY,
                QuantizedSeparableConvolutionParamInitializer.MID_INPUT_STEP_KEY, QuantizerParams.INPUT_STEP_KEY,
                QuantizedSeparableConvolutionParamInitializer.MID_INPUT_OFFSET_KEY, QuantizerParams.INPUT_OFFSET_KEY,
                QuantizedSeparableConvolutionParamInitializer.MID_INPUT_ALPHA_KEY, QuantizerParams.INPUT_ALPHA_KEY,
                QuantizedSeparableConvolutionParamInitializer.MID_INPUT_COUNT_KEY, QuantizerParams.INPUT_COUNT_KEY);
        double[] midQ = QuantizedForwardReferenceTest.referenceInput(ms,
                Nd4j.createFromArray(mid).reshape('c', N, C * MULT, size, size), midParams);
        // the pointwise part, bias on the grid s_mid s_pw[o]
        INDArray pw = layer.getParam("pW");
        Map<String, INDArray> pwParams = unprefixedByHand(params,
                QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_STEP_KEY, QuantizerParams.WEIGHT_STEP_KEY,
                QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_OFFSET_KEY, QuantizerParams.WEIGHT_OFFSET_KEY);
        double[] pwq = QuantizedForwardReferenceTest.referenceWeights(s, pw, 0, pwParams);
        double[] b = quantizedBias(flat(layer.getParam("b")), ms.quantizesInputs() ? inputScale(ms, midParams) : Double.NaN,
                s.quantizesWeights() ? weightScales(s, pw, 0, pwParams) : null);
        double[] expected = pointwise(midQ, C * MULT, size, pwq, SEP_OUT, b);
        assertAllClose(expected, flat(net.feedForwardToLayer(0, x, false).get(1)), what);
    }

    @Test
    void separableForwardEqualsTheTwoNodeReferenceForEveryWeightAndInputMode() {
        int checked = 0;
        for (WeightQuantMode wm : WeightQuantMode.values()) {
            for (InputQuantMode im : InputQuantMode.values()) {
                checkSeparable(QuantSettings.of(wm, 3, im, 4), MAIN, "separable " + wm + "/" + im);
                checked++;
            }
        }
        assertEquals(WeightQuantMode.values().length * InputQuantMode.values().length, checked);
    }

    @Test
    void separableForwardEqualsTheReferenceForOtherGeometriesAndPerTensorWeights() {
        for (Geometry g : new Geometry[] {new Geometry(1, 0, 2, ConvolutionMode.Truncate), new Geometry(2, 0, 1, ConvolutionMode.Same)}) {
            checkSeparable(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4), g, "separable " + g);
        }
        QuantSettings perTensor = QuantSettings.of(WeightQuantMode.TERNARY, 2, InputQuantMode.PACT, 8);
        perTensor.setWeightPerChannel(false);
        checkSeparable(perTensor, MAIN, "separable per tensor");
    }
}
