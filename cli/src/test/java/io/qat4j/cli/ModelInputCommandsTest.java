package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import javax.imageio.ImageIO;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.qat4j.training.BadInputException;
import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelInput;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.RunData;

/**
 * The CLI's model and data input (issue 16, item 5): networks from a DL4J configuration JSON of
 * either kind, a zoo name or a Keras file; ComputationGraph zips through train, eval, PTQ and
 * sensitivity; image folders; data checked against the model's input; and
 * {@code qat4j ptq}'s exit code when layers stay in float.
 */
class ModelInputCommandsTest {

    @TempDir
    static Path dir;

    /** A CSV run config on separable 8x8 data (class 1: bright upper half), and the MultiLayerNetwork trained from a JSON on it. */
    static Path csv;
    static Path mlpZip;

    /** A Keras fixture of training's test-jar, copied out (under its own name) because the jar's entries are no files. */
    static Path fixture(String name) throws IOException {
        Path copy = dir.resolve("keras").resolve(name);
        if (!Files.isRegularFile(copy)) {
            Files.createDirectories(copy.getParent());
            try (java.io.InputStream in = ModelInputCommandsTest.class.getResourceAsStream("/keras/" + name)) {
                if (in == null) {
                    throw new IllegalStateException("/keras/" + name + " is not on the test classpath (training's test-jar)");
                }
                Files.copy(in, copy);
            }
        }
        return copy;
    }

    static Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    static void csvData(String prefix, int channels, int h, int w, int classes, int train, int test, long seed) throws IOException {
        Random r = new Random(seed);
        for (String name : new String[] {"train", "test"}) {
            StringBuilder sb = new StringBuilder("label");
            int features = channels * h * w;
            for (int i = 0; i < features; i++) {
                sb.append(",p").append(i);
            }
            sb.append('\n');
            for (int n = 0; n < (name.equals("train") ? train : test); n++) {
                int y = n % classes;
                sb.append(y);
                for (int i = 0; i < features; i++) {
                    sb.append(',').append(y == 1 && i % (h * w) < h * w / 2 ? 200 + r.nextInt(56) : r.nextInt(60));
                }
                sb.append('\n');
            }
            Files.writeString(dir.resolve(prefix + "-" + name + ".csv"), sb.toString());
        }
    }

    static String csvSection(String prefix, int classes, String shape) {
        return "data:\n  csv: {train: " + dir.resolve(prefix + "-train.csv") + ", test: " + dir.resolve(prefix + "-test.csv") + ", classes: "
                + classes + ", shape: " + shape + "}\n";
    }

    @BeforeAll
    static void trainAnMlpFromAConfigurationJson() throws IOException {
        csvData("c8", 1, 8, 8, 2, 120, 40, 3);
        csv = write("csv.yaml", "name: csv\n" + csvSection("c8", 2, "[1, 8, 8]") + "train: {epochs: 2, learningRate: 0.03, batchSize: 10}\n");
        write("mlp.json", new NeuralNetConfiguration.Builder().updater(new Adam(1e-3)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv").nOut(4).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(2, 2).stride(2, 2).name("pool").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(8, 8, 1)).build().toJson());
        String[] t = run("train", csv.toString(), "--model", dir.resolve("mlp.json").toString(), "--out", dir.resolve("runs/mlp").toString());
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("model: model.file " + dir.resolve("mlp.json") + " (DL4J MultiLayerConfiguration JSON")
                && t[1].contains("a MultiLayerNetwork of 3 layers"), t[1]);
        assertTrue(t[1].contains("best test accuracy 1.0000") || t[1].contains("best test accuracy 0.9"), "separable data is learned: " + t[1]);
        mlpZip = dir.resolve("runs/mlp/best.zip");
        String resolved = Files.readString(dir.resolve("runs/mlp/resolved-config.yaml"));
        assertTrue(resolved.contains("file: \"" + dir.resolve("mlp.json")), "the resolved configuration records the network it trained: "
                + resolved + t[1]);
    }

    @Test
    void aComputationGraphFromJsonTrainsResumesEvaluatesAndQuantizes() throws IOException {
        Path json = write("graph.json", new NeuralNetConfiguration.Builder().updater(new Adam(1e-3)).graphBuilder().addInputs("in")
                .addLayer("a", new ConvolutionLayer.Builder(3, 3).nOut(2).convolutionMode(ConvolutionMode.Same).activation(Activation.RELU)
                        .build(), "in")
                .addLayer("b", new ConvolutionLayer.Builder(1, 1).nOut(2).activation(Activation.IDENTITY).build(), "in")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b")
                .addLayer("gap", new GlobalPoolingLayer.Builder().build(), "add")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build(),
                        "gap")
                .setOutputs("out").setInputTypes(InputType.convolutional(8, 8, 1)).build().toJson());
        Path out = dir.resolve("runs/graph");
        String[] t = run("train", csv.toString(), "--model", json.toString(), "--out", out.toString());
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("a ComputationGraph of 6 vertices") && t[1].contains("epoch 2/2"), t[1]);
        String[] again = run("train", csv.toString(), "--model", json.toString(), "--out", out.toString(), "--resume");
        assertEquals("0", again[0], again[1] + again[2]);   // restores the graph's checkpoint, nothing left to train
        assertFalse(again[1].contains("epoch 1/2"), again[1]);
        LoadedModel best = ModelLoader.load(out.resolve("best.zip"));
        assertEquals(ModelLoader.Format.DL4J_GRAPH_ZIP, best.format());
        String[] ev = run("eval", out.resolve("best.zip").toString(), "--config", csv.toString());
        assertEquals("0", ev[0], ev[1] + ev[2]);
        assertTrue(ev[1].contains("on 40 test images (CSV): accuracy"), ev[1]);

        Path ptq = write("graph-ptq.yaml", "name: gptq\n" + csvSection("c8", 2, "[1, 8, 8]") + "fp32: " + out.resolve("best.zip")
                + "\nptq: {samples: 64}\n");
        // PTQ of the graph: both Add inputs get quantizers with the plan's tensor ranges, so it exports and runs in the runtime
        Path ptqOut = dir.resolve("runs/gptq-ptq");
        String[] p = run("ptq", ptq.toString(), "--out", ptqOut.toString());
        assertEquals("0", p[0], p[1] + p[2]);
        assertTrue(p[1].contains("a_aq") && p[1].contains("b_aq") && p[1].contains("ADD_INPUT"), "the Add's inputs are quantized: " + p[1]);
        assertTrue(Files.isRegularFile(ptqOut.resolve("model.q4j")) && Files.isRegularFile(ptqOut.resolve("ptq-float.zip")), p[1]);
        assertEquals(ModelLoader.Format.DL4J_GRAPH_ZIP, ModelLoader.detect(ptqOut.resolve("ptq-float.zip")));
        @SuppressWarnings("unchecked")
        Map<String, Object> summary = new ObjectMapper().readValue(ptqOut.resolve("summary.json").toFile(), Map.class);
        assertEquals("ok", summary.get("status"), summary.toString());
        assertTrue(((Number) summary.get("argmaxAgreement")).doubleValue() >= 0.95, summary.toString());
        @SuppressWarnings("unchecked")
        Map<String, Object> plan = new ObjectMapper().readValue(ptqOut.resolve("plan.json").toFile(), Map.class);
        assertTrue(((Map<?, ?>) plan.get("tensors")).keySet().containsAll(java.util.List.of("a", "b", "add")), plan.toString());
        String[] check = run("run", ptqOut.resolve("model.q4j").toString(), "--config", csv.toString(), "--check-reference");
        assertEquals("0", check[0], check[1] + check[2]);
        assertTrue(check[1].contains("output bytes identical on 40 of 40 images"), check[1]);

        // sensitivity of the graph's layers, by vertex name
        Path sensOut = dir.resolve("runs/gptq-sensitivity");
        String[] s = run("sensitivity", ptq.toString(), "--out", sensOut.toString());
        assertEquals("0", s[0], s[1] + s[2]);
        String table = Files.readString(sensOut.resolve("sensitivity.csv"));
        for (String layer : new String[] {"a", "b", "out"}) {
            assertTrue(table.lines().anyMatch(l -> l.startsWith(layer + ",")), layer + " in\n" + table);
        }
    }

    @Test
    void ptqWithLayersKeptInFloatFailsUnlessAllowPartialAsksForIt() throws IOException {
        Path cfg = write("partial.yaml", "name: partial\n" + csvSection("c8", 2, "[1, 8, 8]") + "fp32: " + mlpZip
                + "\nptq: {samples: 64, keepMostSensitive: 1, sensitivitySamples: 16, candidateBits: [4, 8]}\n");
        Path out = dir.resolve("runs/partial");
        String[] p = run("ptq", cfg.toString(), "--out", out.toString());
        assertEquals("1", p[0], p[1] + p[2]);
        assertTrue(p[2].contains("kept in float") && p[2].contains("no model.q4j was written") && p[2].contains("--allow-partial")
                && p[2].contains("ptq.keepMostSensitive: 1"), p[2]);
        assertFalse(Files.exists(out.resolve("model.q4j")));
        @SuppressWarnings("unchecked")
        Map<String, Object> failed = new ObjectMapper().readValue(out.resolve("summary.json").toFile(), Map.class);
        assertEquals("failed", failed.get("status"));
        @SuppressWarnings("unchecked")
        Map<String, Object> kept = (Map<String, Object>) failed.get("keptInFloat");
        assertEquals(1, kept.size(), failed.toString());
        assertTrue(p[2].contains(kept.keySet().iterator().next()), "the message names the layer kept in float: " + p[2]);

        String[] allowed = run("ptq", cfg.toString(), "--out", out.toString(), "--force", "--allow-partial");
        assertEquals("0", allowed[0], allowed[1] + allowed[2]);
        @SuppressWarnings("unchecked")
        Map<String, Object> partial = new ObjectMapper().readValue(out.resolve("summary.json").toFile(), Map.class);
        assertEquals("partial", partial.get("status"));
        assertEquals(kept, partial.get("keptInFloat"));
        assertTrue(((String) partial.get("int8Export")).contains("--allow-partial accepted the float-kept result"), partial.toString());
        assertFalse(Files.exists(out.resolve("model.q4j")));
    }

    @Test
    void lenetFromTheZooTrainsAtASmallInputShape() throws IOException {
        Path cfg = write("lenet.yaml", "name: lenet\ndata: {source: bundled, trainLimit: 256, testLimit: 64}\n"
                + "train: {epochs: 1, learningRate: 0.001, batchSize: 64}\n");
        Path out = dir.resolve("runs/lenet");
        String[] t = run("train", cfg.toString(), "--model", "lenet", "--input-shape", "1,28,28", "--out", out.toString());
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("model: zoo lenet [1, 28, 28], a MultiLayerNetwork"), t[1]);
        LoadedModel best = ModelLoader.load(out.resolve("best.zip"));
        assertEquals(ModelInput.Kind.FLAT_IMAGE, best.input().kind());
        assertTrue(Files.readString(out.resolve("resolved-config.yaml")).contains("architecture: \"lenet\""));
        String[] bad = run("train", cfg.toString(), "--model", "lenet", "--input-shape", "1,28", "--out", dir.resolve("runs/x").toString());
        assertEquals("2", bad[0]);
        assertTrue(bad[2].contains("model.inputShape must be [channels, height, width]"), bad[2]);
        String[] unknown = run("train", cfg.toString(), "--model", "no-such-net", "--out", dir.resolve("runs/y").toString());
        assertEquals("2", unknown[0]);
        assertTrue(unknown[2].contains("model.file: model no-such-net does not exist"), unknown[2]);
    }

    /** PNGs of one class per folder: class "bright" has a bright upper half, class "dark" does not. */
    static Path imageFolder(String name, int perClass, int size, long seed) throws IOException {
        Random r = new Random(seed);
        Path root = dir.resolve(name);
        for (String cls : new String[] {"bright", "dark"}) {
            Files.createDirectories(root.resolve(cls));
            for (int i = 0; i < perClass; i++) {
                BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_BYTE_GRAY);
                for (int y = 0; y < size; y++) {
                    for (int x = 0; x < size; x++) {
                        img.getRaster().setSample(x, y, 0, cls.equals("bright") && y < size / 2 ? 190 + r.nextInt(60) : r.nextInt(60));
                    }
                }
                ImageIO.write(img, "png", root.resolve(cls).resolve(i + ".png").toFile());
            }
        }
        return root;
    }

    @Test
    void imageFoldersTrainTheReferenceCnnAndAreCheckedAgainstTheModel() throws IOException {
        Path train = imageFolder("img-train", 30, 12, 1);
        Path test = imageFolder("img-test", 10, 12, 2);
        String images = "data:\n  images: {train: " + train + ", test: " + test;
        Path cfg = write("img.yaml", "name: img\n" + images + ", shape: [1, 12, 12]}\ntrain: {epochs: 2, learningRate: 0.01, batchSize: 10}\n");
        Path out = dir.resolve("runs/img");
        String[] t = run("train", cfg.toString(), "--out", out.toString());
        assertEquals("0", t[0], t[1] + t[2]);
        assertTrue(t[1].contains("data: IMAGES (image folders " + train + ", " + test + "), 60 train") && t[1].contains("20 test"), t[1]);
        assertTrue(t[1].contains("best test accuracy 1.0000") || t[1].contains("best test accuracy 0.9"), "the classes are separable: " + t[1]);

        Path rgb = write("img-rgb.yaml", "name: rgb\n" + images + ", shape: [3, 12, 12]}\ntrain: {epochs: 1, learningRate: 0.005}\n");
        String[] e = run("eval", out.resolve("best.zip").toString(), "--config", rgb.toString());
        assertEquals("2", e[0], e[1] + e[2]);
        assertTrue(e[2].contains("examples of shape [3, 12, 12]") && e[2].contains("takes [1, ?, ?] images (NCHW)"), e[2]);
        Path noShape = write("img-noshape.yaml", "name: ns\n" + images + "}\ntrain: {epochs: 1, learningRate: 0.005}\n");
        String[] n = run("train", noShape.toString(), "--out", dir.resolve("runs/ns").toString());
        assertEquals("2", n[0], n[1] + n[2]);
        assertTrue(n[2].contains("data.images: give shape: [channels, height, width]"), n[2]);
        // a zoo network fixes the size: the images are read at its input shape
        String[] z = run("train", noShape.toString(), "--model", "lenet", "--input-shape", "1,28,28", "--out", dir.resolve("runs/zimg").toString());
        assertEquals("0", z[0], z[1] + z[2]);
        assertTrue(z[1].contains("60 train"), z[1]);
    }

    @Test
    void kerasFilesAreEvaluatedOnDataOfTheirInputShape() throws IOException {
        csvData("c244", 2, 4, 4, 3, 6, 30, 5);
        Path cfg = write("k.yaml", "name: k\n" + csvSection("c244", 3, "[2, 4, 4]") + "train: {epochs: 1, learningRate: 0.001}\n");
        String[] f = run("eval", fixture("functional-add.h5").toString(), "--config", cfg.toString());
        assertEquals("0", f[0], f[1] + f[2]);
        assertTrue(f[1].contains("functional-add.h5 on 30 test images (CSV): accuracy"), f[1]);
        String[] s = run("eval", fixture("sequential-cnn.h5").toString(), "--config", cfg.toString());
        assertEquals("2", s[0], s[1] + s[2]);
        assertTrue(s[2].contains("examples of shape [2, 4, 4]") && s[2].contains("takes [2, 5, 5] images (NHWC)")
                && s[2].contains("sequential-cnn.h5 (Keras HDF5, Sequential)"), s[2]);
        String[] r = run("run", mlpZip.toString(), "--config", csv.toString());
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("is a DL4J zip, MultiLayerNetwork, not a qat4j integer model: export it first"), r[2]);
    }

    @Test
    void theDataMustHaveOneClassPerModelOutputNamingBothCounts() throws IOException {
        LoadedModel m = ModelLoader.load(mlpZip);   // 2 outputs
        DataSet features = new DataSet(Nd4j.rand(DataType.FLOAT, 4, 1, 8, 8), Nd4j.zeros(DataType.FLOAT, 4, 2));
        DataSet two = new DataSet(features.getFeatures(), Nd4j.eye(4).getColumns(0, 1).castTo(DataType.FLOAT));
        RunData ok = new RunData("X", "x", two, two, two, true);
        assertEquals(2, ok.fit(m.network(), m.input(), "model m", "c.yaml").test().getLabels().size(1));
        DataSet three = new DataSet(features.getFeatures(), Nd4j.eye(4).getColumns(0, 1, 2).castTo(DataType.FLOAT));
        String fromLabels = org.junit.jupiter.api.Assertions.assertThrows(BadInputException.class,
                () -> new RunData("X", "x", three, three, three, true).fit(m.network(), m.input(), "model m", "c.yaml")).getMessage();
        assertTrue(fromLabels.contains("model m has 2 outputs but the data of c.yaml") && fromLabels.contains("has 3 classes (its largest label is 2)"),
                fromLabels);
        DataSet one = new DataSet(features.getFeatures(), Nd4j.ones(DataType.FLOAT, 4, 1));
        String declared = org.junit.jupiter.api.Assertions.assertThrows(BadInputException.class,
                () -> new RunData("CSV", "x", one, one, one, false).fit(m.network(), m.input(), "model m", "c.yaml")).getMessage();
        assertTrue(declared.contains("has 2 outputs") && declared.contains("has 1 classes;"), declared);
    }
}
