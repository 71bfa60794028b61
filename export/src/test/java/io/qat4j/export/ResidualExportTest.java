package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.ActivationQuantizerLayer;
import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedOutputLayer;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.ModelFile;
import io.qat4j.runtime.NodeKind;

/**
 * A residual QAT ComputationGraph (conv -> quantizer -> two convs -> quantizer -> Add with the
 * shortcut -> ReLU -> max pool -> dense -> output) is trained on synthetic images, exported and run:
 * the integer model's logits stay within one output step of the fake-quant network's.
 */
class ResidualExportTest {

    private static final int SIZE = SyntheticImages.SIZE;
    private static final int CLASSES = SyntheticImages.CLASSES;

    @TempDir
    Path dir;

    private static QuantSettings signed(QuantSettings s) {
        QuantSettings c = s.clone();
        c.setInputSigned(true);
        return c;
    }

    /** @param quantizeBranch false leaves the residual branch unquantized before the Add (not exportable) */
    static ComputationGraph residual(QuantSettings s, boolean quantizeBranch) {
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(3e-3)).graphBuilder()
                .addInputs("in")
                .addLayer("conv0", QuantizedConvolutionLayer.of(new ConvolutionLayer.Builder(3, 3).nOut(6).padding(1, 1)
                        .activation(Activation.RELU).build(), s), "in")
                .addLayer("aq0", ActivationQuantizerLayer.of("aq0", s), "conv0")
                .addLayer("conv1", QuantizedConvolutionLayer.of(new ConvolutionLayer.Builder(3, 3).nOut(6).padding(1, 1)
                        .activation(Activation.RELU).build(), s), "aq0")
                .addLayer("conv2", QuantizedConvolutionLayer.of(new ConvolutionLayer.Builder(3, 3).nOut(6).padding(1, 1)
                        .activation(Activation.IDENTITY).build(), s), "conv1");
        String branch = "conv2";
        if (quantizeBranch) {
            b.addLayer("aq1", ActivationQuantizerLayer.of("aq1", signed(s)), "conv2");
            branch = "aq1";
        }
        b.addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "aq0", branch)
                .addLayer("relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addLayer("pool", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "relu")
                .addLayer("fc", QuantizedDenseLayer.of(new DenseLayer.Builder().nOut(12).activation(Activation.RELU).build(), s), "pool")
                .addLayer("out", QuantizedOutputLayer.of(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build(), s), "fc")
                .setOutputs("out")
                .setInputTypes(InputType.convolutional(SIZE, SIZE, 1));
        ComputationGraph g = new ComputationGraph(b.build());
        g.init();
        return g;
    }

    static void fit(ComputationGraph g, DataSet data, int epochs) {
        for (int e = 0; e < epochs; e++) {
            for (DataSet batch : data.batchBy(50)) {
                g.fit(batch);
            }
        }
    }

    @Test
    void residualGraphExportsAndAgreesWithTheFakeQuantNetwork() throws Exception {
        DataSet train = SyntheticImages.blobs(600, 1);
        DataSet test = SyntheticImages.blobs(300, 2);
        for (int bits : new int[] {8, 4}) {
            ComputationGraph g = residual(QuantSettings.of(WeightQuantMode.LSQ, bits, InputQuantMode.LSQ, bits), true);
            fit(g, train, 4);
            Int8Exporter.Result r = Int8Exporter.export(g, train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 64)));
            long adds = r.graph().nodes().stream().filter(n -> n.kind() == NodeKind.ADD).count();
            // not counting the input clamp (an identity requantization of the network input, below 8 bits)
            long requants = r.graph().nodes().stream().filter(n -> n.kind() == NodeKind.REQUANTIZE && n.inputs()[0] != r.graph().input())
                    .count();
            assertEquals(1, adds, "the residual add");
            assertEquals(1, requants, "conv1's own input quantizer re-quantizes aq0's tensor");
            Path file = dir.resolve("residual-w" + bits + ".q4j");
            ModelFile.write(r.graph(), file);
            Int8Model model = Int8Model.load(file);
            assertEquals(r.graph(), model.graph());
            int n = (int) test.numExamples();
            float[] x = test.getFeatures().dup('c').data().asFloat();
            byte[] codes = model.runQuantized(model.quantizeInput(x, n), n);
            assertArrayEquals(codes, new Int8Model(r.graph(), Int8Model.Kernels.REFERENCE).runQuantized(model.quantizeInput(x, n), n),
                    "optimized kernels equal the reference ones");
            float[] logits = model.run(x, n);
            Map<String, INDArray> acts = g.feedForward(test.getFeatures(), false);
            INDArray fq = Int8Exporter.preActivations(g.getLayer("out"), acts.get("fc"), null, "'out'");
            Int8Graph.Tensor out = model.graph().tensors().get(model.graph().output());
            double maxLsb = 0;
            int agree = 0;
            int correct = 0;
            for (int i = 0; i < n; i++) {
                int a = 0;
                int b = 0;
                for (int c = 0; c < CLASSES; c++) {
                    byte q = codes[i * CLASSES + c];
                    if (q > -128 && q < 127) {
                        maxLsb = Math.max(maxLsb, Math.abs(logits[i * CLASSES + c] - fq.getDouble(i, c)) / out.scale());
                    }
                    a = logits[i * CLASSES + c] > logits[i * CLASSES + a] ? c : a;
                    b = fq.getDouble(i, c) > fq.getDouble(i, b) ? c : b;
                }
                agree += a == b ? 1 : 0;
                correct += test.getLabels().getDouble(i, a) == 1 ? 1 : 0;
            }
            System.out.printf("residual W%dA%d: INT8 accuracy %.4f, argmax agreement %.4f, max %.3f output LSB from the fake-quant "
                    + "logits, %d nodes%n", bits, bits, (double) correct / n, (double) agree / n, maxLsb, r.graph().nodes().size());
            assertTrue(maxLsb <= 1.0, "runtime logits within one output LSB of the fake-quant logits: " + maxLsb);
            assertTrue(agree >= n * 0.98, "argmax agreement " + agree + "/" + n);
            assertTrue(correct >= n * 0.9, "the residual network learned the task: " + correct + "/" + n);
        }
    }

    @Test
    void anUnquantizedAddInputIsAnErrorNamingTheVertex() {
        ComputationGraph g = residual(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8), false);
        DataSet train = SyntheticImages.blobs(100, 3);
        fit(g, train, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Int8Exporter.export(g, train.getFeatures()));
        assertTrue(e.getMessage().contains("'add'") && e.getMessage().contains("'conv2'") && e.getMessage().contains("ActivationQuantizerLayer"),
                e.getMessage());
    }
}
