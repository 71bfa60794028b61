package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.qat4j.ptq.QuantPlan;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.experiment.ExperimentResults;
import io.qat4j.training.experiment.VariantResult;

/**
 * {@code qat4j experiment} on a user's ResNet-style ComputationGraph zip (issue 16, "done when"): a
 * graph with the zoo ResNet pattern (conv -> BN -> ReLU stem and max pool, an identity block conv ->
 * BN -> ReLU -> conv -> BN -> Add(shortcut) -> ReLU, a down-sampling block whose shortcut is a
 * strided 1x1 conv -> BN, global average pooling, an output layer) is trained from its configuration
 * JSON with {@code qat4j train} on the bundled subset, then the experiment runs PTQ W8A8, mixed
 * precision (sensitivity + exact bit allocation) and QAT W4A4 with distillation from the graph. Every
 * variant must export, agree with its fake-quant network in the INT8 runtime, and give the same
 * output bytes with the reference and the optimized kernels ({@code qat4j run --check-reference}).
 */
class GraphExperimentCommandTest {

    @TempDir
    Path dir;

    /** The ResNet-style graph, 28x28x1 input, 10 classes, Same-mode convolutions. */
    static ComputationGraphConfiguration resnetStyleGraph() {
        return new NeuralNetConfiguration.Builder().seed(5).updater(new Adam(3e-3)).weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("image")
                .addLayer("stem", conv(3, 1, 8), "image")
                .addLayer("stem_bn", new BatchNormalization.Builder().build(), "stem")
                .addLayer("stem_relu", relu(), "stem_bn")
                .addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "stem_relu")
                // identity block on 14x14x8
                .addLayer("b1_conv1", conv(3, 1, 8), "pool")
                .addLayer("b1_bn1", new BatchNormalization.Builder().build(), "b1_conv1")
                .addLayer("b1_relu1", relu(), "b1_bn1")
                .addLayer("b1_conv2", conv(3, 1, 8), "b1_relu1")
                .addLayer("b1_bn2", new BatchNormalization.Builder().build(), "b1_conv2")
                .addVertex("b1_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "pool", "b1_bn2")
                .addLayer("b1_relu", relu(), "b1_add")
                // down-sampling block to 7x7x16 with a projection shortcut
                .addLayer("b2_conv1", conv(3, 2, 16), "b1_relu")
                .addLayer("b2_bn1", new BatchNormalization.Builder().build(), "b2_conv1")
                .addLayer("b2_relu1", relu(), "b2_bn1")
                .addLayer("b2_conv2", conv(3, 1, 16), "b2_relu1")
                .addLayer("b2_bn2", new BatchNormalization.Builder().build(), "b2_conv2")
                .addLayer("b2_short", conv(1, 2, 16), "b1_relu")
                .addLayer("b2_short_bn", new BatchNormalization.Builder().build(), "b2_short")
                .addVertex("b2_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "b2_bn2", "b2_short_bn")
                .addLayer("b2_relu", relu(), "b2_add")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "b2_relu")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build(),
                        "gap")
                .setOutputs("out")
                .setInputTypes(InputType.convolutional(28, 28, 1))
                .build();
    }

    private static ConvolutionLayer conv(int kernel, int stride, int channels) {
        return new ConvolutionLayer.Builder(kernel, kernel).stride(stride, stride).nOut(channels).activation(Activation.IDENTITY).build();
    }

    private static ActivationLayer relu() {
        return new ActivationLayer.Builder().activation(Activation.RELU).build();
    }

    @Test
    @SuppressWarnings("unchecked")
    void experimentOnAResNetStyleGraphZipExportsEveryVariantBitExactly() throws Exception {
        String data = "data: {source: bundled, trainLimit: 1200, testLimit: 300}\n";
        Path graphJson = Files.writeString(dir.resolve("resnet.json"), resnetStyleGraph().toJson());
        Path trainCfg = Files.writeString(dir.resolve("fp32.yaml"), "name: fp32\n" + data
                + "train: {epochs: 4, learningRate: 0.003, batchSize: 32}\n");
        Path fp32 = dir.resolve("fp32");
        String[] t = run("train", trainCfg.toString(), "--model", graphJson.toString(), "--out", fp32.toString());
        assertEquals("0", t[0], t[1] + t[2]);
        Path zip = fp32.resolve("best.zip");
        assertEquals(ModelLoader.Format.DL4J_GRAPH_ZIP, ModelLoader.detect(zip));

        Path cfg = Files.writeString(dir.resolve("graph-experiment.yaml"), "name: resnet-graph\n" + data
                + "fp32: {model: " + zip + "}\n"
                + """
                variants:
                  - name: ptq-w8a8
                    ptq: {weightBits: 8, inputBits: 8, samples: 128}
                    target: {vs: fp32, maxDropPp: 3.0}
                  - name: ptq-mixed
                    ptq: {averageBits: 4.0, candidateBits: [2, 4, 8], samples: 128, sensitivitySamples: 32, weightRange: mse}
                  - name: qat-w4a4
                    quantization: {weights: {mode: LSQ, bits: 4}, inputs: {mode: LSQ, bits: 4}}
                    train: {epochs: 1, learningRate: 0.0005, batchSize: 32}
                    distillation: {weight: 0.5, temperature: 2}
                """);
        Path out = dir.resolve("experiment");
        String[] r = run("experiment", cfg.toString(), "--out", out.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("a ComputationGraph of"), r[1]);

        ExperimentResults results = ExperimentResults.read(out.resolve("results.json"));
        double fp32Accuracy = results.fp32().accuracy();
        // a network that learned nothing predicts one class, and its agreement would prove nothing
        assertTrue(fp32Accuracy > 0.5, "the graph should learn the bundled subset: FP32 accuracy " + fp32Accuracy + "\n" + t[1]);
        assertEquals(zip.toString(), results.fp32().model(), "a model outside the output directory is named as the configuration names it");
        List<VariantResult> variants = results.variants();
        assertEquals(List.of("ptq-w8a8", "ptq-mixed", "qat-w4a4"), variants.stream().map(VariantResult::name).toList());
        Path runCfg = Files.writeString(dir.resolve("run.yaml"), "name: run\n" + data + "train: {epochs: 1, learningRate: 0.001}\n");
        StringBuilder measured = new StringBuilder(String.format("FP32 %.4f", fp32Accuracy));
        for (VariantResult v : variants) {
            measured.append(String.format("; %s %s: fake-quant %s, INT8 runtime %s, agreement %s", v.name(), v.status(),
                    v.simulatedAccuracy(), v.int8() == null ? null : v.int8().accuracy(), v.int8() == null ? null : v.int8().agreement()));
        }
        System.out.println("graph experiment: " + measured);
        for (VariantResult v : variants) {
            String name = v.name();
            assertEquals(VariantResult.Status.EXPORTED, v.status(), v.toString());
            assertEquals("variants/" + name + "/model.q4j", v.int8().model());
            Path model = out.resolve(v.int8().model());
            assertTrue(Files.isRegularFile(model), name + ": no model.q4j\n" + r[1]);
            double agreement = v.int8().agreement();
            // Measured 1.0 for all three (300 images). QAT W4A4 was at 0.947 while the integer model quantized the network input to
            // the full int8 range: its learned 4-bit input step (0.0629) clips pixels above 0.94, which the fake-quant network
            // clamps to code 15 and the runtime gave code 16 (InputClampExportTest); before that, 0.903 while weighted layers
            // reading a shared quantizer trained their bias in float.
            double least = 0.99;
            assertTrue(agreement >= least, name + ": INT8 runtime vs fake-quant argmax agreement " + agreement + "; " + measured);
            String[] check = run("run", model.toString(), "--config", runCfg.toString(), "--check-reference");
            assertEquals("0", check[0], name + ": " + check[1] + check[2]);
            assertTrue(check[1].contains("output bytes identical on 300 of 300 images"), name + ": " + check[1]);
        }

        VariantResult w8 = variants.get(0);
        assertTrue(w8.target().met(), "W8A8 PTQ within 3 pp of FP32: " + w8);
        Map<String, Object> plan = new ObjectMapper().readValue(out.resolve("variants/ptq-w8a8/plan.json").toFile(), Map.class);
        assertTrue(((Map<String, Object>) plan.get("tensors")).keySet().containsAll(List.of("pool", "b1_bn2", "b2_bn2", "b2_short_bn")),
                "the plan has ranges for the Add inputs: " + plan.get("tensors"));

        VariantResult mixed = variants.get(1);
        assertTrue(mixed.quantization().weights().startsWith("mixed"), mixed.toString());
        Map<String, QuantPlan.Sensitivity> sensitivity = mixed.quantization().sensitivity();
        assertNotNull(sensitivity, mixed.toString());
        java.util.Set<String> weighted = java.util.Set.of("stem", "b1_conv1", "b1_conv2", "b2_conv1", "b2_conv2", "b2_short", "out");
        assertEquals(weighted, sensitivity.keySet(), "sensitivity of every weighted layer by vertex name");
        for (String layer : weighted) {
            Map<Integer, Double> inputs = sensitivity.get(layer).inputs();
            assertTrue(inputs.get(2) > inputs.get(8), layer + ": input sensitivity " + inputs
                    + " (a layer reading a shared tensor measured with its own input quantizer)");
        }
        Map<String, Integer> bits = mixed.quantization().layerBits();
        assertEquals(weighted, bits.keySet());
        assertTrue(bits.values().stream().distinct().count() > 1, "bits chosen per layer: " + bits);

        VariantResult qat = variants.get(2);
        assertTrue(qat.method().contains("KD from PTQ plan"), qat.toString());
        assertTrue(qat.int8().accuracy() > 0.4, "W4A4 QAT of the graph: " + qat);
        assertTrue(Files.isRegularFile(out.resolve("variants/qat-w4a4/checkpoint.zip")), "QAT of the graph checkpoints");
        assertEquals(ModelLoader.Format.DL4J_GRAPH_ZIP, ModelLoader.detect(out.resolve("variants/qat-w4a4/checkpoint.zip")));
        String md = Files.readString(out.resolve("report.md"));
        assertTrue(md.contains("| qat-w4a4 | 4 | 4 |") && md.contains("| ptq-w8a8 | 8 | 8 |"), md);
    }
}
