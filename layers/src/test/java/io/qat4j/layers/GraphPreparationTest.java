package io.qat4j.layers;

import static io.qat4j.layers.PlacementRule.ACTIVATION_INPUT;
import static io.qat4j.layers.PlacementRule.ADD_INPUT;
import static io.qat4j.layers.PlacementRule.AVERAGE_POOL_INPUT;
import static io.qat4j.layers.PlacementRule.CONCAT_INPUT;
import static io.qat4j.layers.PlacementRule.NETWORK_OUTPUT;
import static io.qat4j.layers.PlacementRule.SHARED_TENSOR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.EmbeddingLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.deeplearning4j.zoo.model.LeNet;
import org.deeplearning4j.zoo.model.SimpleCNN;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.ActivationQuantizerLayer;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedOutputLayer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * Graph-mode preparation (issue 16 item 1): {@link QuantizedModel#wrap} places activation
 * quantizers where the integer model needs them on networks users bring (a ResNet-style and an
 * Inception-style graph, a Darknet-style chain, zoo LeNet and SimpleCNN as DL4J builds them, a CNN
 * with ELU/tanh/sigmoid and global average pooling, an MLP with dropout): the exact placements,
 * the float function with quantization disabled, inference right after {@link QuantizedModel#calibrate},
 * and placements and outputs kept through save and load.
 */
class GraphPreparationTest {

    @TempDir
    Path dir;

    private static final QuantSettings W8A8 = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8);

    // ---- networks

    private static ConvolutionLayer conv(int nOut, int k, Activation act) {
        return new ConvolutionLayer.Builder(k, k).nOut(nOut).convolutionMode(ConvolutionMode.Same).activation(act).build();
    }

    private static ActivationLayer act(Activation a) {
        return new ActivationLayer.Builder().activation(a).build();
    }

    private static OutputLayer output(int classes) {
        return new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(classes).activation(Activation.SOFTMAX).build();
    }

    /** conv0-bn0-relu0, then twice: conv-bn-relu-conv-bn, Add with the shortcut, ReLU; global average pool; output. */
    static ComputationGraph resnet() {
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder().seed(7).updater(new Adam(1e-2)).graphBuilder()
                .addInputs("in")
                .addLayer("conv0", conv(4, 3, Activation.IDENTITY), "in")
                .addLayer("bn0", new BatchNormalization.Builder().build(), "conv0")
                .addLayer("relu0", act(Activation.RELU), "bn0");
        String x = "relu0";
        for (int k = 1; k <= 2; k++) {
            b.addLayer("c" + k + "a", conv(4, 3, Activation.IDENTITY), x)
                    .addLayer("bn" + k + "a", new BatchNormalization.Builder().build(), "c" + k + "a")
                    .addLayer("r" + k + "a", act(Activation.RELU), "bn" + k + "a")
                    .addLayer("c" + k + "b", conv(4, 3, Activation.IDENTITY), "r" + k + "a")
                    .addLayer("bn" + k + "b", new BatchNormalization.Builder().build(), "c" + k + "b")
                    .addVertex("add" + k, new ElementWiseVertex(ElementWiseVertex.Op.Add), x, "bn" + k + "b")
                    .addLayer("relu" + k, act(Activation.RELU), "add" + k);
            x = "relu" + k;
        }
        b.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x)
                .addLayer("out", output(3), "gap")
                .setOutputs("out").setInputTypes(InputType.convolutional(6, 6, 2));
        ComputationGraph g = new ComputationGraph(b.build());
        g.init();
        return g;
    }

    /** stem -> {1x1, 1x1-3x3, maxpool-1x1} -> concat -> 1x1 "mix"; concat(mix, b1) -> global max pool -> output. */
    static ComputationGraph inception() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(8).updater(new Adam(1e-2)).graphBuilder()
                .addInputs("in")
                .addLayer("stem", conv(4, 3, Activation.RELU), "in")
                .addLayer("b1", conv(3, 1, Activation.RELU), "stem")
                .addLayer("b2a", conv(2, 1, Activation.RELU), "stem")
                .addLayer("b2b", conv(3, 3, Activation.RELU), "b2a")
                .addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(1, 1)
                        .convolutionMode(ConvolutionMode.Same).build(), "stem")
                .addLayer("b3", conv(2, 1, Activation.RELU), "pool")
                .addVertex("cat1", new MergeVertex(), "b1", "b2b", "b3")
                .addLayer("mix", conv(4, 1, Activation.RELU), "cat1")
                .addVertex("cat2", new MergeVertex(), "mix", "b1")
                .addLayer("gmax", new GlobalPoolingLayer.Builder(PoolingType.MAX).build(), "cat2")
                .addLayer("out", output(3), "gmax")
                .setOutputs("out").setInputTypes(InputType.convolutional(6, 6, 3)).build());
        g.init();
        return g;
    }

    /** Darknet-style: (conv-BN-LeakyReLU(0.1)-maxpool) twice, a dense layer with its own LeakyReLU, output. */
    static MultiLayerNetwork darknet() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(9).updater(new Adam(1e-2)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(4).convolutionMode(ConvolutionMode.Same).hasBias(false)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().name("leaky1").activation(new ActivationLReLU(0.1)).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("pool1").kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv2").nOut(6).convolutionMode(ConvolutionMode.Same).hasBias(false)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn2").build())
                .layer(new ActivationLayer.Builder().name("leaky2").activation(new ActivationLReLU(0.1)).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("pool2").kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("fc").nOut(8).activation(new ActivationLReLU(0.1)).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(8, 8, 2)).build());
        net.init();
        return net;
    }

    /** ELU on a convolution, tanh and sigmoid activation layers, global average pooling, a tanh dense layer, output. */
    static MultiLayerNetwork activationsCnn() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(10).updater(new Adam(1e-2)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("c1").nOut(4).convolutionMode(ConvolutionMode.Same).activation(Activation.ELU).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("c2").nOut(4).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().name("t2").activation(Activation.TANH).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("c3").nOut(4).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new ActivationLayer.Builder().name("s3").activation(Activation.SIGMOID).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(new DenseLayer.Builder().name("fc").nOut(6).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(8, 8, 1)).build());
        net.init();
        return net;
    }

    /** A dense network with dropout layers between its dense layers. */
    static MultiLayerNetwork mlpWithDropout() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(11).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().name("fc1").nOut(16).activation(Activation.RELU).build())
                .layer(new DropoutLayer.Builder(0.5).name("drop1").build())
                .layer(new DenseLayer.Builder().name("fc2").nOut(8).activation(Activation.RELU).build())
                .layer(new DropoutLayer.Builder(0.8).name("drop2").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(10)).build());
        net.init();
        return net;
    }

    /** Built as deeplearning4j-zoo's LeNet builds its configuration (flat input, FeedForwardToCnnPreProcessor), average pooling first. */
    static MultiLayerNetwork leNetWithAveragedInput() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(12).activation(Activation.IDENTITY)
                .updater(new Adam(1e-2)).convolutionMode(ConvolutionMode.Same).list()
                .layer(new SubsamplingLayer.Builder(PoolingType.AVG).name("avg").kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder().name("cnn1").kernelSize(5, 5).stride(1, 1).nIn(1).nOut(4).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("maxpool1").kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("ffn1").activation(Activation.RELU).nOut(10).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("output").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(12, 12, 1)).build());
        net.init();
        return net;
    }

    // ---- helpers

    private static INDArray output(Model m, INDArray x) {
        return m instanceof MultiLayerNetwork n ? n.output(x, false) : ((ComputationGraph) m).outputSingle(false, x);
    }

    private static void fit(Model m, INDArray x, int classes, int steps) {
        DataSet d = new DataSet(x, Nets.oneHot((int) x.size(0), classes, 5));
        for (int i = 0; i < steps; i++) {
            if (m instanceof MultiLayerNetwork n) {
                n.fit(d);
            } else {
                ((ComputationGraph) m).fit(d);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Model> QuantizedModel.Wrapped<T> wrap(T m, QuantizationPlan plan) {
        return m instanceof MultiLayerNetwork n ? (QuantizedModel.Wrapped<T>) QuantizedModel.wrap(n, plan)
                : (QuantizedModel.Wrapped<T>) QuantizedModel.wrap((ComputationGraph) m, plan);
    }

    private static Layer[] layers(Model m) {
        return m instanceof MultiLayerNetwork n ? n.getLayers() : ((ComputationGraph) m).getLayers();
    }

    private static Layer layer(Model m, String name) {
        return m instanceof MultiLayerNetwork n ? n.getLayer(name) : ((ComputationGraph) m).getLayer(name);
    }

    private static QuantSettings settings(Model m, String name) {
        return ((QuantizedLayerConf) layer(m, name).conf().getLayer()).getQuant();
    }

    private static List<String> layerNames(MultiLayerNetwork n) {
        List<String> names = new ArrayList<>();
        for (Layer l : n.getLayers()) {
            names.add(l.conf().getLayer().getLayerName());
        }
        return names;
    }

    private static InsertedQuantizer q(String name, String tensor, Set<PlacementRule> rules, List<String> readers, List<String> off) {
        return new InsertedQuantizer(name, tensor, rules, readers, off);
    }

    private static Map<String, InsertedQuantizer> placements(InsertedQuantizer... qs) {
        Map<String, InsertedQuantizer> m = new LinkedHashMap<>();
        for (InsertedQuantizer iq : qs) {
            m.put(iq.name(), iq);
        }
        return m;
    }

    /** Every parameter that is not quantizer state, copied. */
    private static Map<String, INDArray> trainableState(Model m) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Layer l : layers(m)) {
            l.paramTable().forEach((k, v) -> {
                if (!QuantizerParams.isQuantizerParam(k)) {
                    out.put(l.conf().getLayer().getLayerName() + "/" + k, v.dup());
                }
            });
        }
        return out;
    }

    /**
     * What every prepared network must do: with quantization disabled the float function; at
     * W8A8 a clear error before calibration, inference right after {@link QuantizedModel#calibrate}
     * (no weight changed, every quantizer initialized, close to float), the same placements and
     * outputs after save and load, and no further insertion when the loaded network is wrapped again.
     */
    private <T extends Model> void checkPrepared(T fp, INDArray x, double tolerance, String label) throws Exception {
        INDArray expected = output(fp, x);
        QuantizedModel.Wrapped<T> off = wrap(fp, QuantizationPlan.uniform(QuantSettings.disabled()));
        double diff = Nets.maxAbsDiff(expected, output(off.network(), x));
        assertTrue(diff < 1e-5, label + ": quantization disabled computes the float function, max diff " + diff);

        QuantizedModel.Wrapped<T> w = wrap(fp, QuantizationPlan.uniform(W8A8));
        assertEquals(off.insertedQuantizers(), w.insertedQuantizers(), label + ": placements do not depend on the switch");
        T q = w.network();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> output(q, x), label);
        assertTrue(e.getMessage().contains("QuantizedModel.calibrate") && e.getMessage().contains("'"), e.getMessage());
        Map<String, INDArray> before = trainableState(q);
        long samples = QuantizedModel.calibrate(q, x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 4)),
                x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(4, x.size(0))));
        assertEquals(x.size(0), samples);
        assertEquals(before, trainableState(q), label + ": calibration changes no weight, bias or batch-norm statistic");
        for (Layer l : layers(q)) {
            if (l.conf().getLayer() instanceof QuantizedLayerConf) {
                assertTrue(QuantizerReadout.inputObserved(l), label + ": " + l.conf().getLayer().getLayerName() + " has a range");
            }
        }
        INDArray quantized = output(q, x);
        double qdiff = Nets.maxAbsDiff(expected, quantized);
        System.out.printf("%s: %d quantizers placed, W8A8 after calibration: max |p - p_float| = %.4f%n", label,
                w.insertedQuantizers().size(), qdiff);
        assertTrue(qdiff < tolerance, label + ": 8-bit output close to float: " + qdiff);
        assertNotEquals(expected, quantized, label + ": quantization is on");

        File file = dir.resolve(label + ".zip").toFile();
        ModelSerializer.writeModel(q, file, true);
        Model restored = q instanceof MultiLayerNetwork ? ModelSerializer.restoreMultiLayerNetwork(file, true)
                : ModelSerializer.restoreComputationGraph(file, true);
        if (q instanceof MultiLayerNetwork m) {
            assertEquals(m.getLayerWiseConfigurations(), ((MultiLayerNetwork) restored).getLayerWiseConfigurations());
        } else {
            assertEquals(((ComputationGraph) q).getConfiguration(), ((ComputationGraph) restored).getConfiguration());
        }
        for (String name : w.insertedQuantizers().keySet()) {
            assertInstanceOf(ActivationQuantizerLayer.class, layer(restored, name).conf().getLayer(), label + ": " + name);
        }
        assertEquals(quantized, output(restored, x), label + ": the restored network computes the same outputs");
        QuantizedModel.Wrapped<Model> again = wrap(restored, QuantizationPlan.uniform(W8A8));
        assertTrue(again.insertedQuantizers().isEmpty() && again.splitActivations().isEmpty(),
                label + ": wrapping a prepared network places nothing more: " + again.summary());
    }

    // ---- tests

    @Test
    void residualGraphGetsAddInputsSharedShortcutsAndThePoolInput() throws Exception {
        ComputationGraph fp = resnet();
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, 2, 6, 6);
        fit(fp, x, 3, 3);   // non-trivial batch-norm statistics
        QuantizedModel.Wrapped<ComputationGraph> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8));
        assertEquals(placements(
                q("relu0_aq", "relu0", Set.of(ADD_INPUT, SHARED_TENSOR), List.of("c1a", "add1"), List.of("c1a")),
                q("bn1b_aq", "bn1b", Set.of(ADD_INPUT), List.of("add1"), List.of()),
                q("relu1_aq", "relu1", Set.of(ADD_INPUT, SHARED_TENSOR), List.of("c2a", "add2"), List.of("c2a")),
                q("bn2b_aq", "bn2b", Set.of(ADD_INPUT), List.of("add2"), List.of()),
                q("relu2_aq", "relu2", Set.of(AVERAGE_POOL_INPUT), List.of("gap"), List.of())), w.insertedQuantizers(), w.summary());
        Map<String, List<String>> wiring = w.network().getConfiguration().getVertexInputs();
        assertEquals(List.of("relu0_aq", "bn1b_aq"), wiring.get("add1"));
        assertEquals(List.of("relu0_aq"), wiring.get("c1a"));
        assertEquals(List.of("relu0"), wiring.get("relu0_aq"));
        assertEquals(List.of("relu1_aq", "bn2b_aq"), wiring.get("add2"));
        assertEquals(List.of("relu2_aq"), wiring.get("gap"));
        assertEquals(Map.of("bn0", "conv0", "bn1a", "c1a", "bn1b", "c1b", "bn2a", "c2a", "bn2b", "c2b"), w.foldedBatchNorms());
        assertTrue(w.keptInFloat().isEmpty(), w.summary());
        for (String own : List.of("conv0", "c1a", "c1b", "c2a", "c2b", "out")) {
            assertEquals(InputQuantMode.LSQ, settings(w.network(), own).getInputMode(), own + " keeps its own input quantizer");
        }
        checkPrepared(fp, x, 0.05, "resnet");
    }

    @Test
    void inceptionGraphSharesTheStemAndQuantizesAConcatInputReadTwice() throws Exception {
        ComputationGraph fp = inception();
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, 3, 6, 6);
        fit(fp, x, 3, 2);
        QuantizedModel.Wrapped<ComputationGraph> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8));
        assertEquals(placements(
                q("stem_aq", "stem", Set.of(SHARED_TENSOR), List.of("b1", "b2a", "pool"), List.of("b1", "b2a", "b3")),
                q("b1_aq", "b1", Set.of(CONCAT_INPUT, SHARED_TENSOR), List.of("cat1", "cat2"), List.of())), w.insertedQuantizers(),
                w.summary());
        Map<String, List<String>> wiring = w.network().getConfiguration().getVertexInputs();
        assertEquals(List.of("b1_aq", "b2b", "b3"), wiring.get("cat1"), "inputs read by the concat alone take its output quantizer");
        assertEquals(List.of("mix", "b1_aq"), wiring.get("cat2"));
        assertEquals(List.of("stem_aq"), wiring.get("pool"));
        for (String own : List.of("stem", "b1", "b2a", "b3", "b2b", "mix", "out")) {
            assertEquals(InputQuantMode.LSQ, settings(w.network(), own).getInputMode(), own);
        }
        checkPrepared(fp, x, 0.05, "inception");
    }

    @Test
    void darknetChainQuantizesLeakyReluInputsAndSplitsALeakyDenseLayer() throws Exception {
        MultiLayerNetwork fp = darknet();
        INDArray x = Nd4j.randn(DataType.FLOAT, 8, 2, 8, 8);
        fit(fp, x, 3, 3);
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8));
        assertEquals(placements(
                q("bn1_aq", "bn1", Set.of(ACTIVATION_INPUT), List.of("leaky1"), List.of()),
                q("bn2_aq", "bn2", Set.of(ACTIVATION_INPUT), List.of("leaky2"), List.of()),
                q("fc_aq", "fc", Set.of(ACTIVATION_INPUT), List.of("fc_act"), List.of())), w.insertedQuantizers(), w.summary());
        assertEquals(Map.of("fc", "fc_act"), w.splitActivations());
        MultiLayerNetwork q = w.network();
        assertEquals(List.of("conv1", "bn1", "bn1_aq", "leaky1", "pool1", "conv2", "bn2", "bn2_aq", "leaky2", "pool2", "fc", "fc_aq",
                "fc_act", "out"), layerNames(q));
        MultiLayerConfiguration conf = q.getLayerWiseConfigurations();
        assertEquals(Set.of(10), conf.getInputPreProcessors().keySet(), "the flattening stays on the dense layer");
        assertInstanceOf(CnnToFeedForwardPreProcessor.class, conf.getInputPreProcess(10));
        assertEquals(q.getnLayers(), conf.getLayerActivationTypes(InputType.convolutional(8, 8, 2)).size(), "input types are valid");
        assertInstanceOf(QuantizedConvBatchNormLayer.class, q.getLayer("conv1").conf().getLayer());
        assertEquals(Activation.IDENTITY.getActivationFunction(), ((BaseLayer) q.getLayer("fc").conf().getLayer()).getActivationFn());
        assertEquals(new ActivationLReLU(0.1), ((ActivationLayer) q.getLayer("fc_act").conf().getLayer()).getActivationFn());
        checkPrepared(fp, x, 0.05, "darknet");
        // the inserted quantizers train: a QAT step moves their learned steps
        QuantizedModel.calibrate(q, x);
        double step = q.getLayer("bn1_aq").getParam(QuantizerParams.INPUT_STEP_KEY).getDouble(0);
        fit(q, x, 3, 2);
        assertNotEquals(step, q.getLayer("bn1_aq").getParam(QuantizerParams.INPUT_STEP_KEY).getDouble(0));
    }

    @Test
    void unwrapMatchesLayersByNameAndSkipsWhatWrapInserted() {
        MultiLayerNetwork fp = darknet();
        INDArray x = Nd4j.randn(DataType.FLOAT, 8, 2, 8, 8);
        fit(fp, x, 3, 2);
        MultiLayerNetwork trained = QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.disabled())).network();
        fit(trained, x, 3, 2);   // float training through the wrapped network, as FloatTraining does
        MultiLayerNetwork back = QuantizedModel.unwrap(trained, fp);
        assertEquals(fp.getnLayers(), back.getnLayers());
        double diff = Nets.maxAbsDiff(trained.output(x), back.output(x));
        assertTrue(diff < 1e-5, "the unwrapped float network computes the trained wrapped one: " + diff);
        assertTrue(Nets.maxAbsDiff(fp.output(x), back.output(x)) > 1e-4, "and holds the trained parameters");
    }

    @Test
    void zooLeNetWrapsWithItsPreprocessorsAndAnAveragedInputGetsTheInputQuantizer() throws Exception {
        MultiLayerNetwork lenet = new MultiLayerNetwork(LeNet.builder().numClasses(4).build().conf());
        lenet.init();
        INDArray x = Nd4j.rand(DataType.FLOAT, 6, 784);
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(lenet, QuantizationPlan.uniform(W8A8));
        assertTrue(w.insertedQuantizers().isEmpty() && w.keptInFloat().isEmpty(), w.summary());
        assertEquals(List.of("cnn1", "cnn2", "ffn1", "output"), w.quantized());
        assertInstanceOf(FeedForwardToCnnPreProcessor.class, w.network().getLayerWiseConfigurations().getInputPreProcess(0));
        assertInstanceOf(CnnToFeedForwardPreProcessor.class, w.network().getLayerWiseConfigurations().getInputPreProcess(4));
        checkPrepared(lenet, x, 0.05, "zoo-lenet");

        MultiLayerNetwork avg = leNetWithAveragedInput();
        INDArray flat = Nd4j.rand(DataType.FLOAT, 6, 144);
        QuantizedModel.Wrapped<MultiLayerNetwork> wa = QuantizedModel.wrap(avg, QuantizationPlan.uniform(W8A8));
        assertEquals(placements(q("input_aq", "input", Set.of(AVERAGE_POOL_INPUT), List.of("avg"), List.of())), wa.insertedQuantizers());
        assertEquals(List.of("input_aq", "avg", "cnn1", "maxpool1", "ffn1", "output"), layerNames(wa.network()));
        MultiLayerConfiguration conf = wa.network().getLayerWiseConfigurations();
        assertEquals(Set.of(1, 4), conf.getInputPreProcessors().keySet(), "each preprocessor stays on its layer");
        assertInstanceOf(FeedForwardToCnnPreProcessor.class, conf.getInputPreProcess(1));
        assertInstanceOf(CnnToFeedForwardPreProcessor.class, conf.getInputPreProcess(4));
        assertEquals(6, conf.getLayerActivationTypes(InputType.convolutionalFlat(12, 12, 1)).size());
        checkPrepared(avg, flat, 0.05, "lenet-avg-input");
    }

    @Test
    void cnnWithLookupActivationsAndGlobalAveragePooling() throws Exception {
        MultiLayerNetwork fp = activationsCnn();
        INDArray x = Nd4j.randn(DataType.FLOAT, 8, 1, 8, 8);
        fit(fp, x, 3, 2);
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8));
        assertEquals(placements(
                q("c1_aq", "c1", Set.of(ACTIVATION_INPUT), List.of("c1_act"), List.of()),
                q("c2_aq", "c2", Set.of(ACTIVATION_INPUT), List.of("t2"), List.of()),
                q("c3_aq", "c3", Set.of(ACTIVATION_INPUT), List.of("s3"), List.of()),
                q("s3_aq", "s3", Set.of(AVERAGE_POOL_INPUT), List.of("gap"), List.of()),
                q("fc_aq", "fc", Set.of(ACTIVATION_INPUT), List.of("fc_act"), List.of())), w.insertedQuantizers(), w.summary());
        assertEquals(Map.of("c1", "c1_act", "fc", "fc_act"), w.splitActivations());
        assertEquals(List.of("c1", "c1_aq", "c1_act", "c2", "c2_aq", "t2", "c3", "c3_aq", "s3", "s3_aq", "gap", "fc", "fc_aq", "fc_act",
                "out"), layerNames(w.network()));
        assertEquals(Activation.ELU.getActivationFunction(), ((ActivationLayer) w.network().getLayer("c1_act").conf().getLayer())
                .getActivationFn());
        checkPrepared(fp, x, 0.05, "activations-cnn");
    }

    @Test
    void zooSimpleCnnQuantizesItsLogitsBeforeTheSoftmaxLayer() throws Exception {
        MultiLayerNetwork fp = new MultiLayerNetwork(SimpleCNN.builder().numClasses(4).inputShape(new int[] {3, 16, 16}).build().conf());
        fp.init();
        INDArray x = Nd4j.rand(DataType.FLOAT, 6, 3, 16, 16);
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8));
        assertEquals(placements(
                q("layer4_aq", "layer4", Set.of(AVERAGE_POOL_INPUT), List.of("layer5"), List.of()),
                q("layer11_aq", "layer11", Set.of(AVERAGE_POOL_INPUT), List.of("layer12"), List.of()),
                q("layer18_aq", "layer18", Set.of(AVERAGE_POOL_INPUT), List.of("layer19"), List.of()),
                q("layer25_aq", "layer25", Set.of(AVERAGE_POOL_INPUT), List.of("layer26"), List.of()),
                q("layer30_aq", "layer30", Set.of(AVERAGE_POOL_INPUT), List.of("layer31"), List.of()),
                q("layer31_aq", "layer31", Set.of(NETWORK_OUTPUT), List.of("layer32"), List.of())), w.insertedQuantizers(), w.summary());
        assertTrue(w.keptInFloat().isEmpty(), w.summary());
        List<String> names = layerNames(w.network());
        assertEquals(List.of("layer30", "layer30_aq", "layer31", "layer31_aq", "layer32"), names.subList(names.size() - 5, names.size()),
                "the softmax stays last, after the quantized logits");
        checkPrepared(fp, x, 0.05, "zoo-simplecnn");
    }

    @Test
    void mlpWithDropoutLayersNeedsNoInsertion() throws Exception {
        MultiLayerNetwork fp = mlpWithDropout();
        INDArray x = Nd4j.randn(DataType.FLOAT, 8, 10);
        fit(fp, x, 3, 2);
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8));
        assertTrue(w.insertedQuantizers().isEmpty() && w.splitActivations().isEmpty() && w.keptInFloat().isEmpty(), w.summary());
        assertEquals(List.of("fc1", "fc2", "out"), w.quantized());
        assertEquals(List.of("fc1", "drop1", "fc2", "drop2", "out"), layerNames(w.network()));
        checkPrepared(fp, x, 0.05, "mlp-dropout");
        QuantizedModel.calibrate(w.network(), x);
        fit(w.network(), x, 3, 1);   // dropout layers train between quantized layers
        assertTrue(Double.isFinite(w.network().score()));
    }

    @Test
    void referenceCnnWrapsExactlyAsBeforeWithNoInsertion() {
        MultiLayerNetwork fp = ReferenceCnn.build(3, new Adam(1e-3), 0, 1, 12, 12, 4);
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8));
        assertTrue(w.insertedQuantizers().isEmpty() && w.splitActivations().isEmpty() && w.keptInFloat().isEmpty(), w.summary());
        // the configuration the wrap before graph-mode preparation produced: each layer replaced in place
        MultiLayerConfiguration expected = fp.getLayerWiseConfigurations().clone();
        for (int i : new int[] {0, 4}) {
            String conv = expected.getConf(i).getLayer().getLayerName();
            String bn = expected.getConf(i + 1).getLayer().getLayerName();
            QuantizedConvBatchNormLayer fused = QuantizedConvBatchNormLayer.of((ConvolutionLayer) expected.getConf(i).getLayer(),
                    (BatchNormalization) expected.getConf(i + 1).getLayer(), W8A8);
            fused.setLayerName(conv);
            expected.getConf(i).setLayer(fused);
            expected.getConf(i + 1).setLayer(BatchNormFolding.placeholder(bn));
        }
        expected.getConf(8).setLayer(QuantizedDenseLayer.of((DenseLayer) expected.getConf(8).getLayer(), W8A8));
        expected.getConf(9).setLayer(QuantizedOutputLayer.of((OutputLayer) expected.getConf(9).getLayer(), W8A8));
        MultiLayerNetwork reference = new MultiLayerNetwork(expected);
        reference.init();
        assertEquals(reference.getLayerWiseConfigurations(), w.network().getLayerWiseConfigurations());
        assertEquals(List.of("conv1", "conv2", "fc1", "out"), w.quantized());
    }

    @Test
    void unsupportedLayersAndVerticesStayInFloatWithTheReasonAndWhatIsSupported() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(13).list()
                .layer(new EmbeddingLayer.Builder().name("embed").nIn(10).nOut(6).build())
                .layer(new ActivationLayer.Builder().name("gelu").activation(Activation.GELU).build())
                .layer(new DenseLayer.Builder().name("fc").nOut(5).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(1)).build());
        net.init();
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(net, QuantizationPlan.uniform(W8A8));
        assertEquals(Set.of("embed", "gelu"), w.keptInFloat().keySet(), w.summary());
        assertTrue(w.keptInFloat().get("embed").startsWith("EmbeddingLayer has no quantized implementation; it stays in float (supported:"),
                w.keptInFloat().get("embed"));
        assertTrue(w.keptInFloat().get("gelu").startsWith("activation gelu") && w.keptInFloat().get("gelu")
                .contains("supported:"), w.keptInFloat().get("gelu"));
        assertTrue(w.insertedQuantizers().isEmpty(), "a float layer's single reader quantizes its output itself");
        assertEquals(List.of("fc", "out"), w.quantized());

        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(14).graphBuilder().addInputs("in")
                .addLayer("a", new DenseLayer.Builder().nOut(4).activation(Activation.RELU).build(), "in")
                .addLayer("b", new DenseLayer.Builder().nOut(4).activation(Activation.RELU).build(), "in")
                .addVertex("prod", new ElementWiseVertex(ElementWiseVertex.Op.Product), "a", "b")
                .addLayer("out", output(2), "prod")
                .setOutputs("out").setInputTypes(InputType.feedForward(3)).build());
        g.init();
        QuantizedModel.Wrapped<ComputationGraph> wg = QuantizedModel.wrap(g, QuantizationPlan.uniform(W8A8));
        assertTrue(wg.keptInFloat().get("prod").startsWith("elementwise Product has no integer form; it stays in float (supported:"),
                wg.summary());
        assertEquals(placements(q("in_aq", "in", Set.of(SHARED_TENSOR), List.of("a", "b"), List.of("a", "b"))), wg.insertedQuantizers(),
                "the input both dense layers read is quantized once");
    }

    @Test
    void aWeightOnlyPlanPlacesNoActivationQuantizer() {
        QuantizedModel.Wrapped<ComputationGraph> w = QuantizedModel.wrap(resnet(), QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.NONE, 8)));
        assertTrue(w.insertedQuantizers().isEmpty() && w.splitActivations().isEmpty(), w.summary());
        QuantizedModel.Wrapped<MultiLayerNetwork> d = QuantizedModel.wrap(darknet(), QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.NONE, 8)));
        assertTrue(d.insertedQuantizers().isEmpty() && d.splitActivations().isEmpty(), d.summary());
    }

    @Test
    void insertedQuantizersTakePlanSettingsAndRangesByName() {
        QuantSettings fourBit = QuantSettings.of(WeightQuantMode.NONE, 8, InputQuantMode.FIXED, 4);
        QuantizationPlan plan = QuantizationPlan.builder(W8A8).layer("bn1b_aq", fourBit).inputRange("bn1b_aq", -2, 3)
                .inputRange("c1a", 0, 5).build();
        ComputationGraph q = QuantizedModel.wrap(resnet(), plan).network();
        QuantSettings s = settings(q, "bn1b_aq");
        assertEquals(InputQuantMode.FIXED, s.getInputMode());
        assertEquals(4, s.getInputBits());
        assertEquals(-2.0, q.getLayer("bn1b_aq").getParam(QuantizerParams.INPUT_MIN_KEY).getDouble(0));
        assertEquals(3.0, q.getLayer("bn1b_aq").getParam(QuantizerParams.INPUT_MAX_KEY).getDouble(0));
        assertTrue(s.isInputSigned(), "signed from the calibrated range");
        // relu0_aq has no range of its own: c1a reads it directly and its calibrated input range is the same tensor's
        QuantSettings shared = settings(q, "relu0_aq");
        assertEquals(InputQuantMode.LSQ, shared.getInputMode());
        double expectedStep = new io.qat4j.lsq.LsqQuantizer(io.qat4j.layers.impl.InputQuantization.spec(shared))
                .stepFromRange(new double[] {0}, new double[] {5})[0];
        assertEquals(expectedStep, q.getLayer("relu0_aq").getParam(QuantizerParams.INPUT_STEP_KEY).getDouble(0), 1e-7 * expectedStep,
                "stored as float");
        assertTrue(QuantizerReadout.inputObserved(q.getLayer("relu0_aq")));
    }

    @Test
    void calibrationSetsFixedRangesAndLsqStepsFromTheDataWithoutTraining() {
        MultiLayerNetwork fp = darknet();
        INDArray x = Nd4j.randn(DataType.FLOAT, 8, 2, 8, 8);
        fit(fp, x, 3, 2);
        // FIXED: the first layer's range is the batch's min-max; the quantizer before leaky1 saw conv1+bn1's float output
        MultiLayerNetwork fixed = QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 8,
                InputQuantMode.FIXED, 8))).network();
        QuantizedModel.setObserversEnabled(fixed, false);   // observers off for training; calibration observes anyway
        QuantizedModel.calibrate(fixed, x);
        assertEquals(x.minNumber().doubleValue(), fixed.getLayer("conv1").getParam(QuantizerParams.INPUT_MIN_KEY).getDouble(0), 1e-6);
        assertEquals(x.maxNumber().doubleValue(), fixed.getLayer("conv1").getParam(QuantizerParams.INPUT_MAX_KEY).getDouble(0), 1e-6);
        assertTrue(settings(fixed, "conv1").isInputSigned(), "signedness from the calibration data");
        // LSQ: 2 mean|x| / sqrt(Qp) of the first batch (signed 8 bit: Qp = 127)
        MultiLayerNetwork lsq = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8)).network();
        DataSetIterator it = new org.nd4j.linalg.dataset.ViewIterator(new DataSet(x, Nets.oneHot(8, 3, 1)), 4);
        assertEquals(8, QuantizedModel.calibrate(lsq, it));
        double expected = 2 * org.nd4j.linalg.ops.transforms.Transforms.abs(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 4)))
                .meanNumber().doubleValue() / Math.sqrt(127);
        assertEquals(expected, lsq.getLayer("conv1").getParam(QuantizerParams.INPUT_STEP_KEY).getDouble(0), 1e-6 * expected);
        // a second calibration keeps initialized LSQ steps
        QuantizedModel.calibrate(lsq, x.mul(10));
        assertEquals(expected, lsq.getLayer("conv1").getParam(QuantizerParams.INPUT_STEP_KEY).getDouble(0), 1e-6 * expected);
        // calibrated with quantization off, inference works once it is switched on
        MultiLayerNetwork offThenOn = QuantizedModel.wrap(fp, QuantizationPlan.uniform(W8A8)).network();
        QuantizedModel.setQuantizationEnabled(offThenOn, false);
        QuantizedModel.calibrate(offThenOn, x);
        QuantizedModel.setQuantizationEnabled(offThenOn, true);
        assertTrue(Nets.maxAbsDiff(fp.output(x), offThenOn.output(x)) < 0.05);
        assertThrows(IllegalArgumentException.class, () -> QuantizedModel.calibrate(lsq));
    }

    @Test
    void inferenceBeforeCalibrationNamesTheLayerAndTheMethodToCall() {
        ComputationGraph q = QuantizedModel.wrap(resnet(), QuantizationPlan.uniform(W8A8)).network();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> q.outputSingle(Nd4j.rand(DataType.FLOAT, 2, 2, 6, 6)));
        assertTrue(e.getMessage().startsWith("layer 'conv0': its LSQ input quantizer has no range yet (inference before calibration): "
                + "call QuantizedModel.calibrate(network, batches)"), e.getMessage());
        assertTrue(e.getMessage().contains("QuantizationPlan.Builder.inputRange(\"conv0\", min, max)"), e.getMessage());
    }
}
