package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedOutputLayer;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;

/**
 * Issue 14 #7: with power-of-two scales (input step 2^-4, weight step 2^-5, next step 2^-2) the
 * hidden values fall exactly between two codes; the fake-quant network and the integer model must
 * round those ties the same way (toward +infinity, TFLite single rounding), so every hidden code
 * agrees, ties included. Before the fix the fake-quant side rounded ties to even: 66 of 32,768
 * hidden codes differed.
 */
class RoundingTiesTest {

    private static final int IN = 6;
    private static final int HIDDEN = 8;
    private static final int N = 4096;   // 32,768 hidden codes, as in the issue

    private static MultiLayerNetwork net(int weightBits) {
        QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, weightBits, InputQuantMode.LSQ, 8);
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1).dataType(DataType.DOUBLE).list()
                .layer(QuantizedDenseLayer.of(new DenseLayer.Builder().nOut(HIDDEN).activation(Activation.IDENTITY).build(), s))
                .layer(QuantizedOutputLayer.of(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), s.clone()))
                .setInputType(InputType.feedForward(IN)).build());
        net.init();
        return net;
    }

    /** Sets a layer's input quantizer to signed LSQ with the exact step {@code 2^exp}. */
    private static void signedInputStep(MultiLayerNetwork net, int layer, int exp) {
        QuantSettings s = ((QuantizedLayerConf) net.getLayer(layer).conf().getLayer()).getQuant();
        Map<String, INDArray> p = net.getLayer(layer).paramTable();
        InputQuantization.setRange(s, p, -1, 1, "layer" + layer);   // negative min: the quantizer becomes signed
        p.get(QuantizerParams.INPUT_STEP_KEY).putScalar(0, Math.scalb(1.0, exp));
    }

    /** Weights {@code m 2^exp} with random integer codes |m| <= qmax, and the same step on every channel. */
    private static void weightsOnGrid(MultiLayerNetwork net, int layer, int exp, int qmax, Random rnd) {
        INDArray w = net.getLayer(layer).getParam("W");
        for (long i = 0; i < w.length(); i++) {
            w.putScalar(i, Math.scalb((double) (rnd.nextInt(2 * qmax + 1) - qmax), exp));
        }
        net.getLayer(layer).getParam("b").assign(0);
        net.getLayer(layer).getParam(QuantizerParams.WEIGHT_STEP_KEY).assign(Math.scalb(1.0, exp));
    }

    @Test
    void hiddenCodesAgreeWithTheIntegerModelOnExactTies() {
        for (int weightBits : new int[] {4, 8}) {
            Random rnd = new Random(7 + weightBits);
            MultiLayerNetwork net = net(weightBits);
            signedInputStep(net, 0, -4);
            signedInputStep(net, 1, -2);
            weightsOnGrid(net, 0, -5, (1 << (weightBits - 1)) - 1, rnd);
            weightsOnGrid(net, 1, -5, (1 << (weightBits - 1)) - 1, rnd);
            // inputs on the 2^-4 grid, a quarter of them exactly between two input codes (ties of the first quantizer)
            double[] xs = new double[N * IN];
            for (int i = 0; i < xs.length; i++) {
                double k = rnd.nextInt(64) - 32;
                xs[i] = Math.scalb(i % 4 == 0 ? k + 0.5 : k, -4);
            }
            INDArray x = Nd4j.createFromArray(xs).reshape(N, IN);

            // the fake-quant network's hidden codes: layer 1's input quantizer applied to layer 0's output, over its step
            INDArray hidden = net.feedForwardToLayer(0, x, false).get(1);
            QuantSettings s1 = ((QuantizedLayerConf) net.getLayer(1).conf().getLayer()).getQuant();
            INDArray hq = InputQuantization.forward(s1, hidden, false, net.getLayer(1).paramTable(), "layer1");
            double[] hv = hidden.dup('c').data().asDouble();
            double[] fq = hq.dup('c').data().asDouble();
            byte[] simulated = new byte[fq.length];
            int ties = 0;
            for (int i = 0; i < fq.length; i++) {
                simulated[i] = (byte) Math.round(Math.scalb(fq[i], 2));
                double v = Math.scalb(hv[i], 2);
                ties += v - Math.floor(v) == 0.5 && Math.abs(v) < 127 ? 1 : 0;
            }

            Int8Graph g = Int8Exporter.export(net, x).graph();
            int hiddenTensor = g.nodes().get(0).output();
            Int8Model first = new Int8Model(new Int8Graph(g.tensors(), g.nodes().subList(0, 1), g.input(), hiddenTensor, g.rounding()));
            float[] xf = x.castTo(DataType.FLOAT).dup('c').data().asFloat();
            byte[] runtime = first.runQuantized(first.quantizeInput(xf, N), N);
            int differ = 0;
            for (int i = 0; i < runtime.length; i++) {
                differ += runtime[i] == simulated[i] ? 0 : 1;
            }
            System.out.printf("W%d: %d exact ties among %d hidden codes; %d codes differ between fake quant and the integer model%n",
                    weightBits, ties, runtime.length, differ);
            assertTrue(ties >= 100, "the construction must produce exact ties: " + ties);
            assertArrayEquals(simulated, runtime, "hidden codes agree exactly, ties included");
        }
    }
}
