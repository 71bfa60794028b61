package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.impl.WeightQuantization;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.reference.QuantReference;

/** With quantization on, a layer's forward equals the ste/lsq references applied to its weights and inputs. */
class QuantizedForwardReferenceTest {

    private static double[] flat(INDArray a) {
        return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    }

    /** Reference fake-quant weights ({@code [in, out]} or {@code [out, in, kh, kw]}) for every weight mode. */
    static double[] referenceWeights(QuantSettings s, INDArray w, int axis, Map<String, INDArray> params) {
        double[] x = flat(w);
        long[] shape = w.shape();
        Granularity g = s.isWeightPerChannel() ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
        int groups = QuantReference.groupCount(g, axis, 0, shape);
        boolean uniform = s.getWeightMode() == WeightQuantMode.FIXED || s.getWeightMode() == WeightQuantMode.LSQ
                || s.getWeightMode() == WeightQuantMode.LSQ_PLUS;
        QuantSpec spec = uniform ? WeightQuantization.spec(s, axis) : null;   // binary/ternary have no b-bit spec
        switch (s.getWeightMode()) {
            case NONE:
                return x;
            case FIXED: {
                double[][] mm = QuantReference.minMax(x, shape, spec.granularity(), spec.axis(), 0);
                double[] sc = new double[groups];
                for (int k = 0; k < groups; k++) {
                    sc[k] = QuantReference.qparams(spec, mm[0][k], mm[1][k], QParams.MIN_SCALE)[0];
                }
                return QuantReference.fakeQuant(x, shape, spec, sc, new int[groups], null);
            }
            case LSQ:
                return QuantReference.fakeQuant(x, shape, spec, flat(params.get(QuantizerParams.WEIGHT_STEP_KEY)), new int[groups], null);
            case LSQ_PLUS: {
                double[] step = flat(params.get(QuantizerParams.WEIGHT_STEP_KEY));
                double[] beta = flat(params.get(QuantizerParams.WEIGHT_OFFSET_KEY));
                double[] shifted = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    shifted[i] = x[i] - beta[QuantReference.groupOf(i, spec, shape)];
                }
                double[] out = QuantReference.fakeQuant(shifted, shape, spec, step, new int[groups], null);
                for (int i = 0; i < x.length; i++) {
                    out[i] += beta[QuantReference.groupOf(i, spec, shape)];
                }
                return out;
            }
            case BINARY:
                return QuantReference.binary(x, shape, true, g, axis);
            case TERNARY: {
                int[] codes = QuantReference.ternaryCodes(x, shape, 0.7, g, axis);
                double[] alpha = QuantReference.ternaryAlpha(x, shape, 0.7, g, axis);
                double[] out = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    out[i] = codes[i] * alpha[QuantReference.groupOf(i, g, axis, 0, shape)];
                }
                return out;
            }
            default:
                throw new AssertionError();
        }
    }

    /** Reference fake-quant input for every input mode (per tensor). */
    static double[] referenceInput(QuantSettings s, INDArray xa, Map<String, INDArray> params) {
        double[] x = flat(xa);
        long[] shape = {x.length};
        QuantSpec spec = InputQuantization.spec(s);
        switch (s.getInputMode()) {
            case NONE:
                return x;
            case FIXED: {
                double[] p = QuantReference.qparams(spec, params.get(QuantizerParams.INPUT_MIN_KEY).getDouble(0),
                        params.get(QuantizerParams.INPUT_MAX_KEY).getDouble(0), QParams.MIN_SCALE);
                return QuantReference.fakeQuant(x, shape, spec, new double[] {p[0]}, new int[] {(int) p[1]}, null);
            }
            case LSQ:
                return QuantReference.fakeQuant(x, shape, spec, new double[] {params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0)},
                        new int[1], null);
            case LSQ_PLUS: {
                double beta = params.get(QuantizerParams.INPUT_OFFSET_KEY).getDouble(0);
                double[] shifted = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    shifted[i] = x[i] - beta;
                }
                double[] out = QuantReference.fakeQuant(shifted, shape, spec,
                        new double[] {params.get(QuantizerParams.INPUT_STEP_KEY).getDouble(0)}, new int[1], null);
                for (int i = 0; i < x.length; i++) {
                    out[i] += beta;
                }
                return out;
            }
            case PACT: {
                // unsigned: [0, alpha] with 2^b - 1 levels; signed: [-alpha, alpha] with 2^(b-1) - 1 levels per side; ties up
                double alpha = params.get(QuantizerParams.INPUT_ALPHA_KEY).getDouble(0);
                double lo = s.isInputSigned() ? -alpha : 0;
                double levels = s.isInputSigned() ? Math.pow(2, s.getInputBits() - 1) - 1 : Math.pow(2, s.getInputBits()) - 1;
                double k = levels / alpha;
                double[] out = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    out[i] = QuantReference.roundHalfUp(Math.max(lo, Math.min(alpha, x[i])) * k) / k;
                }
                return out;
            }
            default:
                throw new AssertionError();
        }
    }

    private static MultiLayerNetwork denseNet(QuantSettings s) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.DOUBLE).list()
                .layer(QuantizedDenseLayer.of(new DenseLayer.Builder().nOut(4).activation(Activation.IDENTITY).build(), s))
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(6)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    @Test
    void denseForwardEqualsReferencesForEveryWeightAndInputMode() {
        Nd4j.getRandom().setSeed(11);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 5, 6).muli(4).subi(0.5);
        int checked = 0;
        for (WeightQuantMode wm : WeightQuantMode.values()) {
            for (InputQuantMode im : InputQuantMode.values()) {
                MultiLayerNetwork net = denseNet(QuantSettings.of(wm, 3, im, 4));
                // the layer's own settings: a calibrated range with min < 0 makes its input quantizer signed
                QuantSettings s = ((io.qat4j.layers.conf.QuantizedLayerConf) net.getLayer(0).conf().getLayer()).getQuant();
                Map<String, INDArray> params = net.getLayer(0).paramTable();
                InputQuantization.setRange(s, params, -0.3, 3.0, "layer0");
                INDArray w = net.getLayer(0).getParam("W");
                double[] wq = referenceWeights(s, w, 1, params);
                double[] xq = referenceInput(s, x, params);
                double[] b = flat(net.getLayer(0).getParam("b"));
                double[] expected = new double[5 * 4];
                for (int n = 0; n < 5; n++) {
                    for (int o = 0; o < 4; o++) {
                        double acc = b[o];
                        for (int i = 0; i < 6; i++) {
                            acc += xq[n * 6 + i] * wq[i * 4 + o];
                        }
                        expected[n * 4 + o] = acc;
                    }
                }
                double[] got = flat(net.feedForwardToLayer(0, x, false).get(1));
                for (int i = 0; i < expected.length; i++) {
                    assertTrue(Math.abs(expected[i] - got[i]) < 1e-9, wm + "/" + im + " element " + i + ": " + expected[i] + " vs " + got[i]);
                }
                checked++;
            }
        }
        assertTrue(checked == WeightQuantMode.values().length * InputQuantMode.values().length);
    }

    @Test
    void binaryAndTernaryWeightsIgnoreTheUniformBitWidth() {
        // weightBits = 1 (what a binary config naturally says) must not build a 1-bit uniform spec
        Nd4j.getRandom().setSeed(12);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 3, 6);
        for (WeightQuantMode wm : new WeightQuantMode[] {WeightQuantMode.BINARY, WeightQuantMode.TERNARY}) {
            QuantSettings s = QuantSettings.of(wm, 1, InputQuantMode.NONE, 8);
            MultiLayerNetwork net = denseNet(s);
            INDArray w = net.getLayer(0).getParam("W");
            double[] wq = referenceWeights(s, w, 1, net.getLayer(0).paramTable());
            double[] got = flat(net.feedForwardToLayer(0, x, false).get(1));
            double[] xs = flat(x);
            double[] b = flat(net.getLayer(0).getParam("b"));
            for (int n = 0; n < 3; n++) {
                for (int o = 0; o < 4; o++) {
                    double acc = b[o];
                    for (int i = 0; i < 6; i++) {
                        acc += xs[n * 6 + i] * wq[i * 4 + o];
                    }
                    assertTrue(Math.abs(acc - got[n * 4 + o]) < 1e-9, wm + ": " + acc + " vs " + got[n * 4 + o]);
                }
            }
            net.setInput(x);
            net.setLabels(Nd4j.createFromArray(new double[][] {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}));
            net.computeGradientAndScore();
            assertTrue(Double.isFinite(net.score()), wm + " backward runs");
        }
    }

    @Test
    void convolutionForwardEqualsTheDl4jConvolutionOfReferenceQuantizedTensors() {
        for (WeightQuantMode wm : new WeightQuantMode[] {WeightQuantMode.LSQ, WeightQuantMode.FIXED, WeightQuantMode.TERNARY}) {
            QuantSettings s = QuantSettings.of(wm, 4, InputQuantMode.LSQ, 4);
            ConvolutionLayer base = new ConvolutionLayer.Builder(3, 3).nOut(5).stride(2, 2).padding(1, 1).activation(Activation.RELU).build();
            MultiLayerNetwork q = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(5).dataType(DataType.DOUBLE).list()
                    .layer(QuantizedConvolutionLayer.of(base, s))
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                    .setInputType(InputType.convolutional(7, 7, 3)).build());
            q.init();
            MultiLayerNetwork twin = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(5).dataType(DataType.DOUBLE).list()
                    .layer(base.clone())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                    .setInputType(InputType.convolutional(7, 7, 3)).build());
            twin.init();
            Map<String, INDArray> params = q.getLayer(0).paramTable();
            InputQuantization.setRange(s, params, 0, 2.5, "layer0");
            INDArray w = q.getLayer(0).getParam("W");
            twin.getLayer(0).setParam("W", Nd4j.createFromArray(referenceWeights(s, w, 0, params)).reshape('c', w.shape()));
            twin.getLayer(0).setParam("b", q.getLayer(0).getParam("b").dup());
            Nd4j.getRandom().setSeed(9);
            INDArray x = Nd4j.rand(DataType.DOUBLE, 2, 3, 7, 7).muli(3);
            INDArray xq = Nd4j.createFromArray(referenceInput(s, x, params)).reshape('c', x.shape());
            INDArray expected = twin.feedForwardToLayer(0, xq, false).get(1);
            INDArray got = q.feedForwardToLayer(0, x, false).get(1);
            assertTrue(Nets.maxAbsDiff(expected, got) < 1e-9, wm + ": " + Nets.maxAbsDiff(expected, got));
        }
    }
}
