package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** {@link ModelLoader}: the kind of a model file from its content, and errors that name the file and what was found. */
class ModelLoaderTest {

    @TempDir
    Path dir;

    static MultiLayerConfiguration mlpConf(long seed) {
        return new NeuralNetConfiguration.Builder().seed(seed).list()
                .layer(new DenseLayer.Builder().nIn(6).nOut(5).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(6)).build();
    }

    /** in -> a, b (dense) -> add -> out: a graph with an elementwise Add. */
    static ComputationGraphConfiguration graphConf(long seed) {
        return new NeuralNetConfiguration.Builder().seed(seed).graphBuilder().addInputs("in")
                .addLayer("a", new DenseLayer.Builder().nIn(6).nOut(4).activation(Activation.RELU).build(), "in")
                .addLayer("b", new DenseLayer.Builder().nIn(6).nOut(4).activation(Activation.TANH).build(), "in")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(4).nOut(3).activation(Activation.SOFTMAX)
                        .build(), "add")
                .setOutputs("out").build();
    }

    private Path zip(String name, String entry, String content) throws IOException {
        Path f = dir.resolve(name);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            z.putNextEntry(new ZipEntry(entry));
            z.write(content.getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
        }
        return f;
    }

    @Test
    void dl4jZipsOfBothKindsAreDetectedFromTheirConfigurationAndRestored() throws IOException {
        MultiLayerNetwork mlp = new MultiLayerNetwork(mlpConf(3));
        mlp.init();
        ComputationGraph graph = new ComputationGraph(graphConf(3));
        graph.init();
        Path mlpZip = dir.resolve("mlp.zip");
        Path graphZip = dir.resolve("graph.bin");   // the name does not matter, the content does
        ModelSerializer.writeModel(mlp, mlpZip.toFile(), true);
        ModelSerializer.writeModel(graph, graphZip.toFile(), true);
        assertEquals(ModelLoader.Format.DL4J_MULTI_LAYER_ZIP, ModelLoader.detect(mlpZip));
        assertEquals(ModelLoader.Format.DL4J_GRAPH_ZIP, ModelLoader.detect(graphZip));
        LoadedModel m = ModelLoader.load(mlpZip);
        LoadedModel g = ModelLoader.load(graphZip);
        assertTrue(m.network() instanceof MultiLayerNetwork);
        assertTrue(g.network() instanceof ComputationGraph);
        assertEquals(mlp.params(), m.network().params());
        assertEquals(graph.params(), g.network().params());
        assertEquals(ModelInput.Kind.VECTOR, g.input().kind());
        assertEquals(6, g.input().shape()[0]);
        assertTrue(g.describe().contains("graph.bin") && g.describe().contains("ComputationGraph"), g.describe());
    }

    @Test
    void configurationJsonIsInitializedFromTheSeedButNotLoadedAsATrainedModel() throws IOException {
        Path mlpJson = Files.writeString(dir.resolve("mlp.json"), mlpConf(99).toJson());
        Path graphJson = Files.writeString(dir.resolve("graph.json"), "\n  " + graphConf(99).toJson());
        assertEquals(ModelLoader.Format.MULTI_LAYER_CONFIGURATION, ModelLoader.detect(mlpJson));
        assertEquals(ModelLoader.Format.GRAPH_CONFIGURATION, ModelLoader.detect(graphJson));
        String m = assertThrows(ModelFileException.class, () -> ModelLoader.load(mlpJson)).getMessage();
        assertTrue(m.contains("mlp.json") && m.contains("without its trained parameters"), m);
        for (Path json : new Path[] {mlpJson, graphJson}) {
            LoadedModel a = ModelLoader.initialize(json, 5);
            LoadedModel b = ModelLoader.initialize(json, 5);
            LoadedModel c = ModelLoader.initialize(json, 6);
            assertEquals(a.network().params(), b.network().params(), "same seed, same network: " + json);
            assertNotEquals(a.network().params(), c.network().params(), "another seed, another initialization: " + json);
            assertEquals(ModelLoader.detect(json).kind(), a.kind());
        }
    }

    @Test
    void filesThatAreNoModelAreErrorsNamingTheFileAndWhatItHolds() throws IOException {
        String missing = assertThrows(ModelFileException.class, () -> ModelLoader.load(dir.resolve("none.zip"))).getMessage();
        assertTrue(missing.contains("none.zip") && missing.contains("does not exist"), missing);
        assertTrue(assertThrows(ModelFileException.class, () -> ModelLoader.load(dir)).getMessage().contains("is a directory"));
        Path text = Files.writeString(dir.resolve("notes.zip"), "hello, not a model");
        String t = assertThrows(ModelFileException.class, () -> ModelLoader.detect(text)).getMessage();
        assertTrue(t.contains("notes.zip") && t.contains("'hello, not a mod'") && t.contains("neither"), t);
        Path empty = Files.createFile(dir.resolve("empty.h5"));
        assertTrue(assertThrows(ModelFileException.class, () -> ModelLoader.detect(empty)).getMessage().contains("the file is empty"));
        Path plainZip = zip("data.zip", "a.txt", "x");
        String z = assertThrows(ModelFileException.class, () -> ModelLoader.load(plainZip)).getMessage();
        assertTrue(z.contains("data.zip") && z.contains("no configuration.json") && z.contains("entries: a.txt"), z);
        Path otherJson = zip("other.zip", "configuration.json", "{\"layers\": [], \"name\": \"x\"}");
        String o = assertThrows(ModelFileException.class, () -> ModelLoader.load(otherJson)).getMessage();
        assertTrue(o.contains("other.zip") && o.contains("[layers, name]") && o.contains("'confs'") && o.contains("'vertices'"), o);
        Path truncated = dir.resolve("truncated.zip");
        try (OutputStream out = Files.newOutputStream(truncated)) {
            out.write(new byte[] {'P', 'K', 3, 4, 1, 2, 3});
        }
        String tr = assertThrows(ModelFileException.class, () -> ModelLoader.load(truncated)).getMessage();
        assertTrue(tr.contains("truncated.zip") && tr.contains("cannot be read as one"), tr);
        Path weightsOnly = KerasImportTest.fixture("weights-only.h5");
        String w = assertThrows(ModelFileException.class, () -> ModelLoader.load(weightsOnly)).getMessage();
        assertTrue(w.contains("weights-only.h5") && w.contains("without a 'model_config' attribute") && w.contains("model.save"), w);
    }
}
