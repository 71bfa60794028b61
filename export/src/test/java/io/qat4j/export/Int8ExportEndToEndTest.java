package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.ModelFile;

/**
 * Train a small CNN (conv-BN-ReLU-maxpool-conv-ReLU-dense-output) on synthetic images, QAT it,
 * export it, and run it in the integer runtime: the runtime's predictions must agree with the QAT
 * network's fake-quant predictions.
 */
class Int8ExportEndToEndTest {

    private static final int SIZE = SyntheticImages.SIZE;
    private static final int CLASSES = SyntheticImages.CLASSES;

    @TempDir
    Path dir;

    static MultiLayerNetwork floatCnn() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(11).updater(new Adam(1e-2)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(6).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().name("relu1").activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).name("pool1").kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv2").nOut(8).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name("fc1").nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(SIZE, SIZE, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static void fit(MultiLayerNetwork net, DataSet data, int epochs) {
        for (int e = 0; e < epochs; e++) {
            for (DataSet b : data.batchBy(50)) {
                net.fit(b);
            }
        }
    }

    private static double agreement(int[] a, INDArray b) {
        int same = 0;
        for (int i = 0; i < a.length; i++) {
            same += a[i] == b.getInt(i) ? 1 : 0;
        }
        return (double) same / a.length;
    }

    static MultiLayerNetwork qat(QuantSettings settings, DataSet train) {
        MultiLayerNetwork fp = floatCnn();
        fit(fp, train, 4);
        MultiLayerNetwork q = QuantizedModel.wrap(fp, QuantizationPlan.uniform(settings)).network();
        q.setLearningRate(2e-3);
        fit(q, train, 2);
        ((QuantizedConvBatchNormLayer) q.getLayer(0).conf().getLayer()).setFreezeBatchNorm(true);
        fit(q, train, 1);
        return q;
    }

    @Test
    void exportedModelAgreesWithTheQatNetwork() throws Exception {
        DataSet train = SyntheticImages.blobs(600, 1);
        DataSet test = SyntheticImages.blobs(300, 2);
        for (int bits : new int[] {8, 4}) {
            QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, bits, InputQuantMode.LSQ, bits);
            MultiLayerNetwork q = qat(s, train);
            Int8Exporter.Result r = Int8Exporter.export(q, train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 64)));
            Path file = dir.resolve("cnn-w" + bits + ".q4j");
            ModelFile.write(r.graph(), file);
            Int8Model model = Int8Model.load(file);
            int n = (int) test.numExamples();
            float[] x = test.getFeatures().dup('c').data().asFloat();
            int[] runtime = model.predict(x, n);
            INDArray qatPred = q.output(test.getFeatures()).argMax(1);
            INDArray truth = test.getLabels().argMax(1);
            double agree = agreement(runtime, qatPred);
            double runtimeAcc = agreement(runtime, truth);
            double qatAcc = qatPred.eq(truth).castTo(DataType.DOUBLE).meanNumber().doubleValue();
            // dequantized runtime logits vs the QAT network's fake-quant logits, where the runtime did not saturate
            float[] logits = model.run(x, n);
            byte[] codes = model.runQuantized(model.quantizeInput(x, n), n);
            // the runtime's bytes equal the integer simulation's (the reference kernels) on every test input
            org.junit.jupiter.api.Assertions.assertArrayEquals(codes,
                    new Int8Model(r.graph(), Int8Model.Kernels.REFERENCE).runQuantized(model.quantizeInput(x, n), n));
            INDArray qatLogits = Int8Exporter.fakeQuantLogits(q, test.getFeatures());
            double lsb = model.graph().tensors().get(model.graph().output()).scale();
            double maxLsb = 0;
            int saturated = 0;
            for (int i = 0; i < logits.length; i++) {
                if (codes[i] == 127 || codes[i] == -128) {
                    saturated++;
                    continue;
                }
                maxLsb = Math.max(maxLsb, Math.abs(logits[i] - qatLogits.getDouble(i / CLASSES, i % CLASSES)) / lsb);
            }
            double meanLsb = 0;
            for (int i = 0; i < logits.length; i++) {
                meanLsb += Math.abs(logits[i] - qatLogits.getDouble(i / CLASSES, i % CLASSES)) / lsb / logits.length;
            }
            // the tensor entering the last layer: runtime int8 codes vs the QAT network's quantized codes
            io.qat4j.runtime.Int8Graph g = model.graph();
            int last = g.nodes().size() - 1;
            int feed = g.nodes().get(last).input();
            Int8Model upToFeed = new Int8Model(new io.qat4j.runtime.Int8Graph(g.tensors(), g.nodes().subList(0, last), g.input(), feed,
                    g.rounding()));
            byte[] rtCodes = upToFeed.runQuantized(upToFeed.quantizeInput(x, n), n);
            INDArray act = q.feedForwardToLayer(q.getnLayers() - 2, test.getFeatures(), false).get(q.getnLayers() - 1);
            io.qat4j.runtime.Int8Graph.Tensor ft = g.tensors().get(feed);
            int differ = 0;
            int maxCodeDiff = 0;
            for (int i = 0; i < rtCodes.length; i++) {
                double real = act.getDouble(i);
                int qatCode = (int) Math.max(-128, Math.min(127, Math.rint(real / ft.scale()) + ft.zeroPoint()));
                int d = Math.abs(qatCode - rtCodes[i]);
                differ += d == 0 ? 0 : 1;
                maxCodeDiff = Math.max(maxCodeDiff, d);
            }
            System.out.printf("W%dA%d: QAT accuracy %.4f, INT8 runtime accuracy %.4f, argmax agreement %.4f; logits: mean %.3f, max %.2f "
                    + "output LSB from the fake-quant logits (%d of %d saturated); last hidden tensor: %d of %d codes differ, by at most %d; "
                    + "file %d bytes%n", bits, bits, qatAcc, runtimeAcc, agree, meanLsb, maxLsb, saturated, logits.length, differ,
                    rtCodes.length, maxCodeDiff, java.nio.file.Files.size(file));
            // first layer exactly: with single rounding and the bias fake-quantized on the int32 grid, the runtime code is
            // the QAT network's real-valued code rounded once, up to the Q31 multiplier's relative error 2^-31
            // (with TFLite's double rounding it could be 0.5 M + 0.5 / 2^right further: see the DOUBLE check below)
            // the first convolution (below 8 input bits an identity requantization clamps the network input first)
            int firstConv = 0;
            while (!(g.nodes().get(firstConv) instanceof io.qat4j.runtime.Int8Graph.Conv2D)) {
                firstConv++;
            }
            io.qat4j.runtime.Int8Graph.Conv2D conv1 = (io.qat4j.runtime.Int8Graph.Conv2D) g.nodes().get(firstConv);
            assertEquals(io.qat4j.runtime.FixedPoint.Rounding.SINGLE, g.rounding(), "exports default to single rounding");
            double bound = 0.5 + 1e-6;
            Int8Model first = new Int8Model(new io.qat4j.runtime.Int8Graph(g.tensors(), g.nodes().subList(0, firstConv + 1), g.input(), conv1.output(),
                    g.rounding()));
            byte[] c1 = first.runQuantized(first.quantizeInput(x, n), n);
            // the QAT network in float64, so that its own float32 rounding does not blur the comparison
            MultiLayerNetwork q64 = q.convertDataType(DataType.DOUBLE);
            double[] a1 = q64.feedForward(test.getFeatures().castTo(DataType.DOUBLE), false).get(3).dup('c').data().asDouble();
            io.qat4j.runtime.Int8Graph.Tensor t1 = g.tensors().get(conv1.output());
            double worst = 0;
            for (int i = 0; i < c1.length; i++) {
                double real = Math.max(conv1.requant().activationMin(), Math.min(conv1.requant().activationMax(),
                        a1[i] / t1.scale() + t1.zeroPoint()));
                worst = Math.max(worst, Math.abs(real - c1[i]));
            }
            System.out.printf("W%dA%d: first layer: max |real code - runtime code| %.4f, bound %.4f%n", bits, bits, worst, bound);
            assertTrue(worst <= bound, "first layer within one rounding of the QAT network's code");
            assertTrue(differ <= rtCodes.length / 200 && maxCodeDiff <= 1, "hidden codes equal the QAT network's (but for float32 ties)");
            assertTrue(maxLsb <= 1.0, "runtime logits within 1 output LSB of the fake-quant logits: " + maxLsb);
            assertTrue(qatAcc > 0.9, "QAT network learned the task: " + qatAcc);
            assertTrue(agree >= 0.97, "runtime vs QAT agreement " + agree);
        }
    }

    @Test
    void exportRefusesWhatTheIntegerModelCannotRepresent() {
        DataSet train = SyntheticImages.blobs(100, 3);
        MultiLayerNetwork q = QuantizedModel.wrap(floatCnn(), QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))).network();
        fit(q, train, 1);
        IllegalArgumentException bn = assertThrows(IllegalArgumentException.class, () -> Int8Exporter.export(q, train.getFeatures()));
        assertTrue(bn.getMessage().contains("'conv1'") && bn.getMessage().contains("setFreezeBatchNorm"), bn.getMessage());
        MultiLayerNetwork plus = QuantizedModel.wrap(floatCnn(), QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ_PLUS, 8))).network();
        fit(plus, train, 1);
        IllegalArgumentException offset = assertThrows(IllegalArgumentException.class, () -> Int8Exporter.export(plus, train.getFeatures()));
        assertTrue(offset.getMessage().contains("LSQ_PLUS"), offset.getMessage());
    }
}
