package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.QuantizedModel;
import io.qat4j.ptq.calibration.ActivationStatistics;
import io.qat4j.ptq.calibration.CalibrationMethod;

/**
 * PTQ on a ComputationGraph through the same passes as on a MultiLayerNetwork (issue 16 item 3): a
 * tiny ResNet (conv-BN-ReLU stem, a residual block conv-BN-ReLU-conv-BN + shortcut -> Add -> ReLU,
 * global average pooling, dense, output) trained briefly on shape images, and the same layers
 * without the shortcut as a graph and as a MultiLayerNetwork giving the same plan.
 *
 * <p>Graph-mode preparation places quantizers on the Add's inputs ({@code relu0}, shared with
 * {@code conv1}, and {@code bn2}); the PTQ network initializes them from {@link QuantPlan#tensors()},
 * whose ranges are checked here against the captured activations, and exports.
 */
class GraphPtqTest {

    static ComputationGraph fp32;
    static DataSet cal;
    static DataSet test;
    static double floatAccuracy;

    @BeforeAll
    static void trainTheResidualGraph() {
        long start = System.nanoTime();
        DataSet train = GraphNets.shapes(400, 1);
        cal = GraphNets.shapes(256, 2);
        test = GraphNets.shapes(300, 3);
        fp32 = GraphNets.resnet(7);
        GraphNets.fit(fp32, train, 5);
        floatAccuracy = GraphNets.accuracy(fp32.outputSingle(test.getFeatures()), test.getLabels());
        System.out.printf("residual graph FP32 test accuracy %.4f (trained in %.1f s)%n", floatAccuracy, (System.nanoTime() - start) / 1e9);
        // a network that learned nothing predicts one class; its PTQ agreement would prove nothing
        assertTrue(floatAccuracy > 0.8, "the float graph should learn the shapes, accuracy " + floatAccuracy);
    }

    private static final List<String> WEIGHTED = List.of("conv0", "conv1", "conv2", "fc", "out");

    @Test
    void theViewNamesVerticesTensorsAndConsumersOfBothNetworkKinds() {
        NetworkView g = NetworkView.of(fp32);
        assertEquals(NetworkView.Kind.COMPUTATION_GRAPH, g.kind());
        assertEquals(WEIGHTED, WeightedLayer.of(fp32).stream().map(WeightedLayer::name).toList());
        assertEquals(List.of("input"), g.inputs());
        assertEquals(List.of("out"), g.outputs());
        assertEquals(List.of("relu0", "bn2"), g.vertex("add").inputs());
        assertNull(g.vertex("add").layer());
        assertEquals("ElementWiseVertex", g.vertex("add").type());
        assertEquals(List.of("conv1", "add"), g.consumers("relu0"));
        assertNull(g.soleConsumer("relu0"), "relu0 feeds conv1 and the Add");
        assertEquals("bn0", g.soleConsumer("conv0").name());
        assertNull(g.soleConsumer("out"), "a network output has no sole consumer");
        assertEquals(14, g.tensors().size());

        NetworkView m = NetworkView.of(TestNets.cnn(1));
        assertEquals(NetworkView.Kind.MULTI_LAYER_NETWORK, m.kind());
        assertEquals(List.of("input", "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "fc1", "relu3", "out"), m.tensors());
        assertEquals(List.of("conv1"), m.consumers("input"));
        assertEquals(List.of("pool1"), m.vertex("conv2").inputs());
        assertEquals(List.of("out"), m.outputs());
        String e = assertThrows(IllegalArgumentException.class, () -> m.vertex("conv9")).getMessage();
        assertTrue(e.contains("conv9") && e.contains("fc1"), e);
    }

    @Test
    void calibrationRangesAreTheMinAndMaxOfEveryCapturedTensor() {
        Calibration c = Calibration.run(fp32, TestNets.iterator(cal, 64), 256, 0, 2048);
        Map<String, double[]> byHand = new LinkedHashMap<>();   // tensor -> {min, max, count}
        for (DataSet batch : cal.batchBy(64)) {
            for (Map.Entry<String, INDArray> e : fp32.feedForward(batch.getFeatures(), false).entrySet()) {
                double[] v = e.getValue().castTo(DataType.DOUBLE).dup('c').data().asDouble();
                double[] mm = byHand.computeIfAbsent(e.getKey(), k -> new double[] {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0});
                for (double d : v) {
                    mm[0] = Math.min(mm[0], d);
                    mm[1] = Math.max(mm[1], d);
                }
                mm[2] += v.length;
            }
        }
        assertEquals(byHand.keySet(), Set.copyOf(c.tensors().keySet()), "a statistic for every vertex output and the input");
        for (Map.Entry<String, double[]> e : byHand.entrySet()) {
            ActivationStatistics s = c.tensor(e.getKey());
            assertEquals(e.getValue()[0], s.min(), 0, e.getKey());
            assertEquals(e.getValue()[1], s.max(), 0, e.getKey());
            assertEquals((long) e.getValue()[2], s.count(), e.getKey());
        }
        assertTrue(c.tensor("bn2").signed() && !c.tensor("relu2").signed(), "the Add's BN input is signed, the ReLU after it is not");
        // a layer's input statistics are its input tensor's (one object, observed once)
        assertEquals("relu0", c.layer("conv1").input());
        assertSame(c.tensor("relu0"), c.layer("conv1").statistics());
        assertSame(c.tensor("gap"), c.layer("fc").statistics());
        assertSame(c.tensor("input"), c.layer("conv0").statistics());
        // the per-feature mean of conv1's input, for bias correction
        INDArray relu0 = fp32.feedForward(cal.getFeatures(), false).get("relu0").castTo(DataType.DOUBLE);
        double[] mean = relu0.mean(0).dup('c').data().asDouble();
        double[] got = c.layer("conv1").mean();
        for (int i = 0; i < mean.length; i++) {
            assertEquals(mean[i], got[i], 1e-9 * Math.max(1, Math.abs(mean[i])));
        }

        // the plan's tensor ranges with the min-max calibrator: [min(0, min), max(0, max)] of each captured tensor
        PtqRecipe minmax = PtqRecipe.defaults().withCalibration(CalibrationMethod.MINMAX).withPasses(false, false, false)
                .withCalibrationSamples(256);
        QuantPlan plan = PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), minmax, 0)).plan();
        assertEquals(NetworkView.of(fp32).tensors(), new ArrayList<>(plan.tensors().keySet()), "every tensor, in network order");
        for (Map.Entry<String, double[]> e : byHand.entrySet()) {
            QuantPlan.TensorRange t = plan.tensor(e.getKey());
            assertEquals(Math.min(0, e.getValue()[0]), t.min(), 0, e.getKey());
            assertEquals(Math.max(0, e.getValue()[1]), t.max(), 0, e.getKey());
            assertEquals(e.getValue()[0] < 0, t.signed(), e.getKey());
            assertEquals(8, t.bits());
        }
        for (String layer : WEIGHTED) {   // a weighted layer's input range is its input tensor's
            QuantPlan.TensorRange t = plan.tensor(c.layer(layer).input());
            assertEquals(t.min(), plan.layer(layer).inputMin(), 0, layer);
            assertEquals(t.max(), plan.layer(layer).inputMax(), 0, layer);
            assertEquals(t.scale(), plan.layer(layer).inputScale(), 0, layer);
        }
    }

    @Test
    void batchNormFoldingOnTheGraphKeepsItsOutputs() {
        BatchNormFoldingPass.Result r = BatchNormFoldingPass.apply(fp32);
        assertEquals(Map.of("bn0", "conv0", "bn1", "conv1", "bn2", "conv2"), r.folded());
        ComputationGraph g = r.graph();
        for (String bn : List.of("bn0", "bn1", "bn2")) {
            assertTrue(g.getLayer(bn).conf().getLayer() instanceof ActivationLayer, bn + " became an identity placeholder");
            assertTrue(fp32.getLayer(bn).conf().getLayer() instanceof BatchNormalization, "the input graph is not modified");
        }
        String m = assertThrows(IllegalStateException.class, r::network).getMessage();
        assertTrue(m.contains("ComputationGraph") && m.contains("model()"), m);
        INDArray x = test.getFeatures();
        double diff = TestNets.maxAbsDiff(fp32.outputSingle(x), g.outputSingle(x));
        assertTrue(diff < 1e-5, "softmax outputs moved by " + diff);
        for (String t : List.of("add", "fc")) {   // the Add's sum and the pre-softmax features agree too
            INDArray a = fp32.feedForward(x, false).get(t);
            INDArray b = g.feedForward(x, false).get(t);
            assertTrue(TestNets.maxAbsDiff(a, b) < 1e-5 * Math.max(1, a.amaxNumber().doubleValue()), t + " moved by " + TestNets.maxAbsDiff(a, b));
        }
    }

    @Test
    void batchNormIsNotFoldedIntoALayerWhoseOutputAnotherVertexReads() {
        // conv -> bn, and conv also feeds the Add: folding would change what the Add sees
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).graphBuilder()
                .addInputs("input")
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).padding(1, 1).activation(Activation.IDENTITY).build(), "input")
                .addLayer("bn", new BatchNormalization.Builder().build(), "conv")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "conv", "bn")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "add")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build(), "gap")
                .setOutputs("out").setInputTypes(InputType.convolutional(GraphNets.SIZE, GraphNets.SIZE, 1)).build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        GraphNets.fit(g, GraphNets.shapes(100, 4), 1);   // running statistics away from (0, 1)
        BatchNormFoldingPass.Result r = BatchNormFoldingPass.apply(g);
        assertEquals(Map.of(), r.folded());
        assertTrue(r.graph().getLayer("bn").conf().getLayer() instanceof BatchNormalization);
        assertTrue(TestNets.maxAbsDiff(g.outputSingle(test.getFeatures()), r.graph().outputSingle(test.getFeatures())) == 0);
        assertEquals(List.of(), CrossLayerEqualization.apply(r.graph()).pairs());
    }

    @Test
    void crossLayerEqualizationOnTheGraphKeepsOutputsAndEqualizesSingleConsumerChains() {
        ComputationGraph g = BatchNormFoldingPass.apply(fp32).graph();
        INDArray w = g.getLayer("conv1").getParam("W").dup();   // very unequal channel ranges in conv1
        INDArray b = g.getLayer("conv1").getParam("b").dup();
        for (int c = 0; c < w.size(0); c++) {
            w.slice(c, 0).muli(Math.pow(4, c));
            b.putScalar(c, b.getDouble(c) * Math.pow(4, c));
        }
        g.getLayer("conv1").setParam("W", w);
        g.getLayer("conv1").setParam("b", b);
        INDArray conv0 = g.getLayer("conv0").getParam("W").dup();
        INDArray x = test.getFeatures();
        INDArray before = g.outputSingle(x);
        CrossLayerEqualization.Result r = CrossLayerEqualization.apply(g);
        // conv0 -> relu0 also feeds the Add, conv2 -> Add: neither is a pair; conv1 -> relu1 -> conv2 and fc -> out are
        assertEquals(List.of("conv1->conv2", "fc->out"), r.pairs());
        double diff = TestNets.maxAbsDiff(before, g.outputSingle(x));
        assertTrue(diff < 1e-4, "outputs changed by " + diff);
        assertEquals(conv0, g.getLayer("conv0").getParam("W"), "a layer whose output the Add reads is not rescaled");
        NetworkView view = NetworkView.of(g);
        for (String pair : r.pairs()) {
            WeightedLayer la = WeightedLayer.named(WeightedLayer.of(view), pair.split("->")[0]);
            WeightedLayer lb = WeightedLayer.named(WeightedLayer.of(view), pair.split("->")[1]);
            INDArray wa = view.layer(la.name()).getParam("W");
            INDArray wb = view.layer(lb.name()).getParam("W");
            int channels = (int) wa.size(la.outAxis());
            double[] w1 = wa.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            double[] w2 = wb.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            CrossLayerEqualization.ChannelView va = CrossLayerEqualization.ChannelView.output(wa.shape(), la.kind());
            CrossLayerEqualization.ChannelView vb = CrossLayerEqualization.ChannelView.input(wb.shape(), lb.kind(), channels);
            for (int c = 0; c < channels; c++) {
                double r1 = va.absMax(w1, c);
                double r2 = vb.absMax(w2, c);
                assertEquals(r1, r2, 1e-3 * Math.max(r1, r2), pair + " channel " + c);
            }
        }
    }

    @Test
    void biasCorrectionOnTheGraphRemovesTheMeanShiftOfEachWeightedLayer() {
        ComputationGraph g = BatchNormFoldingPass.apply(fp32).graph();
        Calibration c = Calibration.run(g, TestNets.iterator(cal, 64), 256, 0, 2048);
        Map<String, INDArray> acts = NetworkView.of(g).activations(cal.getFeatures());
        for (String name : List.of("conv0", "conv1", "conv2", "fc")) {
            WeightedLayer l = WeightedLayer.named(WeightedLayer.of(g), name);
            INDArray w = g.getLayer(name).getParam("W");
            INDArray q = PostTrainingQuantizer.uniform(w, l.outAxis(), 3, WeightRanges.scales(w, l.outAxis(), 3, true, WeightRangeMethod.MINMAX));
            ComputationGraph uncorrected = g.clone();
            uncorrected.getLayer(name).setParam("W", q);
            ComputationGraph corrected = g.clone();
            BiasCorrection.apply(corrected, l, q, c.layer(name));
            corrected.getLayer(name).setParam("W", q);

            INDArray in = acts.get(c.layer(name).input());   // the float graph's own input to the layer
            double[] fp = channelMeans(preActivation(g, name, in));
            double[] unc = channelMeans(preActivation(uncorrected, name, in));
            double[] cor = channelMeans(preActivation(corrected, name, in));
            double shift = 0;
            double residual = 0;
            for (int ch = 0; ch < fp.length; ch++) {
                shift = Math.max(shift, Math.abs(unc[ch] - fp[ch]));
                residual = Math.max(residual, Math.abs(cor[ch] - fp[ch]));
            }
            assertTrue(shift > 1e-3, name + ": 3-bit weights should shift the mean output, got " + shift);
            assertTrue(residual < 1e-5 + shift * 1e-3, name + ": residual mean shift " + residual + " (uncorrected " + shift + ")");
        }
    }

    /** The layer's pre-activation on {@code in}: the convolutions have identity activations, fc's x W + b is computed here. */
    private static INDArray preActivation(ComputationGraph g, String name, INDArray in) {
        org.deeplearning4j.nn.api.Layer layer = g.getLayer(name);
        if (in.rank() == 2) {
            INDArray x = in.castTo(DataType.DOUBLE);
            return x.mmul(layer.getParam("W").castTo(DataType.DOUBLE)).addRowVector(layer.getParam("b").castTo(DataType.DOUBLE).reshape(-1));
        }
        return layer.activate(in, false, LayerWorkspaceMgr.noWorkspaces()).dup();
    }

    private static double[] channelMeans(INDArray out) {
        INDArray d = out.castTo(DataType.DOUBLE);
        return (d.rank() == 4 ? d.mean(0, 2, 3) : d.mean(0)).toDoubleVector();
    }

    @Test
    void w8a8PtqOfTheGraphKeepsItsAccuracy(@TempDir Path dir) throws Exception {
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(256), 0);
        assertEquals("bn-fold {bn0=conv0, bn1=conv1, bn2=conv2}", p.passes().get(0));
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(p);
        assertTrue(r.plan().passes().contains("bias-correction"), r.plan().passes().toString());
        assertEquals(WEIGHTED, r.plan().layers().stream().map(QuantPlan.LayerPlan::name).toList());
        QuantizedModel.Wrapped<? extends Model> wrapped = PostTrainingQuantizer.quantizedModel(r);
        assertEquals(Set.copyOf(WEIGHTED), Set.copyOf(wrapped.quantized()));
        ComputationGraph ptq = (ComputationGraph) wrapped.network();
        INDArray reference = fp32.outputSingle(test.getFeatures());
        INDArray out = ptq.outputSingle(test.getFeatures());
        double accuracy = GraphNets.accuracy(out, test.getLabels());
        double agreement = PostTrainingQuantizerTest.agreement(reference, out);
        System.out.printf("residual graph W8A8 PTQ: accuracy %.4f (FP32 %.4f), argmax agreement %.4f, max |softmax diff| %.4f%n",
                accuracy, floatAccuracy, agreement, TestNets.maxAbsDiff(reference, out));
        assertTrue(accuracy >= floatAccuracy - 0.03, "W8A8 accuracy " + accuracy + " vs FP32 " + floatAccuracy);
        assertTrue(agreement >= 0.95, "argmax agreement " + agreement);
        // the typed overload gives the same network
        INDArray typed = PostTrainingQuantizer.model(r.graph(), r.plan()).network().outputSingle(test.getFeatures());
        assertEquals(0, TestNets.maxAbsDiff(out, typed), 0);

        Path f = dir.resolve("plan.json");
        r.plan().write(f);
        QuantPlan back = QuantPlan.read(f);
        assertEquals(r.plan().layers(), back.layers());
        assertEquals(r.plan().tensors(), back.tensors());
        assertEquals(List.copyOf(r.plan().tensors().keySet()), List.copyOf(back.tensors().keySet()));
        back.check(r.model());
    }

    @Test
    void thePtqGraphQuantizesAddInputsWithThePlansTensorRangesAndExports() {
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(256), 0);
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(p);
        QuantizedModel.Wrapped<? extends Model> wrapped = PostTrainingQuantizer.quantizedModel(r);
        ComputationGraph ptq = (ComputationGraph) wrapped.network();
        // the Add reads relu0 (shared with conv1) and bn2: both get a quantizer, FIXED at the plan's range for that tensor
        assertTrue(wrapped.insertedQuantizers().keySet().containsAll(List.of("relu0_aq", "bn2_aq")), wrapped.summary());
        for (io.qat4j.layers.InsertedQuantizer q : wrapped.insertedQuantizers().values()) {
            QuantPlan.TensorRange range = r.plan().tensor(q.tensor());
            org.deeplearning4j.nn.api.Layer layer = ptq.getLayer(q.name());
            io.qat4j.layers.QuantSettings s = io.qat4j.layers.QuantizerReadout.settings(layer);
            assertTrue(s.isEnabled(), q.name());
            assertEquals(io.qat4j.layers.InputQuantMode.FIXED, s.getInputMode(), q.name());
            assertEquals(range.bits(), s.getInputBits(), q.name());
            io.qat4j.layers.QuantizerReadout.InputGrid grid = io.qat4j.layers.QuantizerReadout.inputGrid(layer, q.name());
            assertEquals(range.scale(), grid.scale(), 1e-6 * range.scale(), q.name() + " scale (the range is stored as float parameters)");
            assertEquals(range.zeroPoint(), grid.zeroPoint(), q.name() + " zero point");
        }
        assertTrue(wrapped.insertedQuantizers().get("relu0_aq").requantizedBy().contains("conv1"), wrapped.summary());

        INDArray x = test.getFeatures();
        io.qat4j.export.Int8Exporter.Result exported = io.qat4j.export.Int8Exporter.export(ptq, cal.getFeatures());
        io.qat4j.runtime.Int8Model optimized = new io.qat4j.runtime.Int8Model(exported.graph());
        io.qat4j.runtime.Int8Model reference = new io.qat4j.runtime.Int8Model(exported.graph(), io.qat4j.runtime.Int8Model.Kernels.REFERENCE);
        int n = (int) x.size(0);
        byte[] q = optimized.quantizeInput(x.dup('c').data().asFloat(), n);
        byte[] fast = optimized.runQuantized(q, n);
        assertTrue(java.util.Arrays.equals(fast, reference.runQuantized(q, n)), "optimized and reference kernels differ");
        int[] predicted = optimized.predictions(fast, n);
        INDArray sim = ptq.outputSingle(x);
        int same = 0;
        for (int i = 0; i < n; i++) {
            same += predicted[i] == sim.getRow(i).argMax().getInt(0) ? 1 : 0;
        }
        System.out.printf("residual graph W8A8 PTQ in the INT8 runtime: argmax agreement with the fake-quant graph %d/%d%n", same, n);
        assertTrue(same >= 0.99 * n, "INT8 runtime vs PTQ fake-quant agreement " + same + "/" + n);
    }

    @Test
    void aSplitActivationHasNoPtqRangeForItsPreActivationsButStartsQat() {
        // a convolution with a fused tanh: the integer model applies the tanh as a table on int8 pre-activations, which wrap
        // quantizes after splitting the tanh off ('conv_act'); the float network never exposed them, so the plan has no range
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(4).graphBuilder()
                .addInputs("input")
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).padding(1, 1).activation(Activation.TANH).build(), "input")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "conv")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build(), "gap")
                .setOutputs("out").setInputTypes(InputType.convolutional(GraphNets.SIZE, GraphNets.SIZE, 1)).build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(g, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(128), 0));
        String message = assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.quantizedModel(r)).getMessage();
        assertTrue(message.startsWith("layer 'conv': its activation runs in the integer model on int8 pre-activations")
                && message.contains("quantizer 'conv_aq'") && message.contains("identity activation followed by an ActivationLayer"), message);

        QuantizedModel.Wrapped<? extends Model> qat = PostTrainingQuantizer.qatStart(r.model(), r.plan(), io.qat4j.layers.InputQuantMode.LSQ);
        assertEquals(Map.of("conv", "conv_act"), qat.splitActivations(), qat.summary());
        ComputationGraph q = (ComputationGraph) qat.network();
        // after the tanh: the float network's tensor 'conv' (activation included), at its calibrated range
        QuantPlan.TensorRange after = r.plan().tensor("conv");
        io.qat4j.layers.QuantizerReadout.InputGrid grid = io.qat4j.layers.QuantizerReadout.inputGrid(q.getLayer("conv_act_aq"), "conv_act_aq");
        io.qat4j.layers.QuantSettings afterSettings = io.qat4j.layers.QuantizerReadout.settings(q.getLayer("conv_act_aq"));
        assertEquals(io.qat4j.layers.InputQuantMode.LSQ, afterSettings.getInputMode());
        assertTrue(afterSettings.isInputSigned(), "tanh's output is signed");
        double step = new io.qat4j.lsq.LsqQuantizer(io.qat4j.layers.impl.InputQuantization.spec(afterSettings))
                .stepFromRange(new double[] {after.min()}, new double[] {after.max()})[0];
        assertEquals(step, grid.scale(), 1e-6 * step, "the step from the plan's range of tensor 'conv'");
        // before it: no range yet; the first training batch initializes the LSQ step
        assertFalse(io.qat4j.layers.QuantizerReadout.inputObserved(q.getLayer("conv_aq")));
        q.fit(new DataSet(cal.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 32)),
                cal.getLabels().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 32))));
        assertTrue(io.qat4j.layers.QuantizerReadout.inputObserved(q.getLayer("conv_aq")));
    }

    @Test
    void sensitivityMixedPrecisionAndPartialQuantizationOnTheGraph() {
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(256), 128);
        for (SensitivityAnalysis.Metric metric : SensitivityAnalysis.Metric.values()) {
            SensitivityAnalysis.Report report = SensitivityAnalysis.run(p, new SensitivityAnalysis.Options(new int[] {2, 4, 8},
                    new int[] {2, 8}, metric, 0));
            assertEquals(128, report.samples());
            assertEquals(WEIGHTED, new ArrayList<>(report.layers().keySet()));
            for (Map.Entry<String, QuantPlan.Sensitivity> e : report.layers().entrySet()) {
                QuantPlan.Sensitivity s = e.getValue();
                System.out.printf("graph sensitivity %s %s: weights %s inputs %s%n", metric, e.getKey(), s.weights(), s.inputs());
                assertEquals(Set.of(2, 4, 8), s.weights().keySet());
                assertEquals(Set.of(2, 8), s.inputs().keySet());
                assertTrue(s.weights().get(2) > s.weights().get(8), e.getKey() + " weights " + s.weights());
                assertTrue(s.inputs().get(2) > s.inputs().get(8), e.getKey() + " inputs " + s.inputs());
            }
            if (metric == SensitivityAnalysis.Metric.KL) {
                continue;
            }
            List<WeightedLayer> layers = WeightedLayer.of(p.model());
            SensitivityAnalysis.Allocated a = SensitivityAnalysis.allocate(report, layers, 5.0, BitAllocator.Method.EXACT);
            long n = layers.stream().mapToLong(WeightedLayer::weights).sum();
            long cost = 0;
            for (WeightedLayer l : layers) {
                cost += l.weights() * a.bits().get(l.name());
            }
            assertEquals(cost, a.info().costBits());
            assertTrue(cost <= 5.0 * n, "average bits " + (double) cost / n + " over the budget of 5");
            PostTrainingQuantizer.Result mixed = PostTrainingQuantizer.quantize(p, p.recipe().withLayerWeightBits(a.bits()));
            QuantPlan plan = SensitivityAnalysis.attach(mixed.plan(), report, a.info());
            assertEquals(a.bits(), PostTrainingQuantizer.weightBits(plan));
            assertEquals(report.layers().get("conv1"), plan.layer("conv1").sensitivity());
            ComputationGraph mixedNet = (ComputationGraph) PostTrainingQuantizer.quantizedModel(mixed).network();
            double mixedAccuracy = GraphNets.accuracy(mixedNet.outputSingle(test.getFeatures()), test.getLabels());
            System.out.printf("graph mixed precision %s: accuracy %.4f (FP32 %.4f)%n", a.bits(), mixedAccuracy, floatAccuracy);

            // partial quantization: the most sensitive layer stays float in the plan and in the wrapped graph
            String worst = report.mostSensitive(a.bits(), 8).get(0);
            PostTrainingQuantizer.Result partial = PostTrainingQuantizer.quantize(p, p.recipe().withKeepFloat(List.of(worst)));
            assertTrue(partial.plan().layer(worst).keepFloat());
            QuantizedModel.Wrapped<? extends Model> w = PostTrainingQuantizer.quantizedModel(partial);
            assertTrue(w.keptInFloat().containsKey(worst), w.summary());
            assertFalse(w.quantized().contains(worst), w.summary());
        }
    }

    @Test
    void aChainGraphAndItsMultiLayerTwinGetTheSamePlanAndSensitivity() {
        ComputationGraph g = GraphNets.chainGraph(11);
        GraphNets.fit(g, GraphNets.shapes(300, 12), 2);
        MultiLayerNetwork m = GraphNets.chainTwin(g);
        assertEquals(0, TestNets.maxAbsDiff(g.outputSingle(test.getFeatures()), m.output(test.getFeatures())), 0, "twins");
        PtqRecipe recipe = PtqRecipe.defaults().withPasses(true, true, true).withCalibrationSamples(192);
        PostTrainingQuantizer.Prepared pg = PostTrainingQuantizer.prepare(g, TestNets.iterator(cal, 64), recipe, 64);
        PostTrainingQuantizer.Prepared pm = PostTrainingQuantizer.prepare(m, TestNets.iterator(cal, 64), recipe, 64);
        assertEquals(pm.passes(), pg.passes());
        assertTrue(pg.passes().get(1).startsWith("cross-layer-equalization [conv0->conv1, conv1->conv2, fc->out]"), pg.passes().toString());
        PostTrainingQuantizer.Result rg = PostTrainingQuantizer.quantize(pg);
        PostTrainingQuantizer.Result rm = PostTrainingQuantizer.quantize(pm);
        assertEquals(rm.plan().layers(), rg.plan().layers());
        assertEquals(rm.plan().tensors(), rg.plan().tensors());
        assertEquals(rm.notes(), rg.notes());
        SensitivityAnalysis.Options options = new SensitivityAnalysis.Options(new int[] {2, 8}, new int[] {4}, SensitivityAnalysis.Metric.MSE, 0);
        assertEquals(SensitivityAnalysis.run(pm, options).layers(), SensitivityAnalysis.run(pg, options).layers());
    }

    @Test
    void tensorRangesAreOptionalInPlanFilesAndCheckedAgainstTheNetwork(@TempDir Path dir) throws Exception {
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(64), 0));
        QuantPlan plan = r.plan();
        assertTrue(plan.toJson().contains("\"tensors\""));
        // a plan as written before tensor ranges existed
        QuantPlan old = new QuantPlan(plan.format(), plan.version(), plan.calibration(), plan.passes(), plan.layers(), plan.allocation());
        assertFalse(old.toJson().contains("tensors"), old.toJson());
        Path f = dir.resolve("old.json");
        Files.writeString(f, old.toJson());
        QuantPlan back = QuantPlan.read(f);
        assertEquals(Map.of(), back.tensors());
        assertEquals(plan.layers(), back.layers());
        back.check(r.model());
        String m = assertThrows(IllegalArgumentException.class, () -> back.tensor("add")).getMessage();
        assertTrue(m.contains("'add'") && m.contains("before issue 16"), m);

        // a tensor range that contradicts its own scale names the tensor and the field
        Path bad = dir.resolve("bad.json");
        String json = plan.toJson();
        int at = json.indexOf("\"tensors\"");
        String tail = json.substring(at).replaceFirst("\"zeroPoint\" : (-?\\d+)", "\"zeroPoint\" : 77");
        Files.writeString(bad, json.substring(0, at) + tail);
        m = assertThrows(QuantPlanFormatException.class, () -> QuantPlan.read(bad)).getMessage();
        assertTrue(m.contains("zeroPoint") && m.contains("77") && m.contains("tensors.input"), m);

        // a tensor the network does not have
        Map<String, QuantPlan.TensorRange> extra = new LinkedHashMap<>(plan.tensors());
        extra.put("concat9", QuantPlan.TensorRange.of(8, false, 0, 1));
        QuantPlan withExtra = new QuantPlan(plan.format(), plan.version(), plan.calibration(), plan.passes(), plan.layers(), null, extra);
        m = assertThrows(IllegalArgumentException.class, () -> withExtra.check(r.model())).getMessage();
        assertTrue(m.contains("'concat9'") && m.contains("relu0"), m);
    }
}
