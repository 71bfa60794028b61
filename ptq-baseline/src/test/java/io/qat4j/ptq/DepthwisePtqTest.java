package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.export.Int8Exporter;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.QuantizerReadout;
import io.qat4j.layers.params.QuantizedSeparableConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;

/**
 * PTQ of depthwise and separable convolutions (issue 16): a MobileNet-style network
 * conv-BN-ReLU, depthwise (multiplier 2)-BN-ReLU, separable (multiplier 2, stride 2)-BN-ReLU, global
 * average pooling, output, trained briefly on shape images. Every PTQ pass is checked against a
 * reference that does not share its code: DL4J's own forward pass for batch-norm folding, bias
 * correction and equalization, plain loops over DL4J's weight layout for the per-channel scales,
 * and the integer runtime against the fake-quant network for the plan's W8A8 model; the same layers
 * as a ComputationGraph give the same plan.
 */
class DepthwisePtqTest {

    static MultiLayerNetwork fp32;
    static DataSet cal;
    static DataSet test;
    static double floatAccuracy;

    static MultiLayerNetwork mobileNet(long seed) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(seed).weightInit(WeightInit.XAVIER).updater(new Adam(1e-2))
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv0").nOut(4).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn0").build())
                .layer(new ActivationLayer.Builder().name("relu0").activation(Activation.RELU).build())
                .layer(new DepthwiseConvolution2D.Builder(3, 3).name("dw1").depthMultiplier(2).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().name("relu1").activation(Activation.RELU).build())
                .layer(new SeparableConvolution2D.Builder(3, 3).name("sep2").nOut(8).depthMultiplier(2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn2").build())
                .layer(new ActivationLayer.Builder().name("relu2").activation(Activation.RELU).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(GraphNets.CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(GraphNets.SIZE, GraphNets.SIZE, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** {@link #mobileNet}'s layers as a ComputationGraph chain holding {@code net}'s parameters. */
    static ComputationGraph graphTwin(MultiLayerNetwork net) {
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder().seed(0).graphBuilder().addInputs("input");
        String previous = "input";
        for (org.deeplearning4j.nn.api.Layer l : net.getLayers()) {
            org.deeplearning4j.nn.conf.layers.Layer conf = l.conf().getLayer().clone();
            b.addLayer(conf.getLayerName(), conf, previous);
            previous = conf.getLayerName();
        }
        ComputationGraph g = new ComputationGraph(b.setOutputs(previous)
                .setInputTypes(InputType.convolutional(GraphNets.SIZE, GraphNets.SIZE, 1)).build());
        g.init();
        for (org.deeplearning4j.nn.api.Layer l : net.getLayers()) {
            for (Map.Entry<String, INDArray> e : l.paramTable().entrySet()) {
                g.getLayer(l.conf().getLayer().getLayerName()).setParam(e.getKey(), e.getValue().dup());
            }
        }
        return g;
    }

    @BeforeAll
    static void trainTheMobileNet() {
        long start = System.nanoTime();
        cal = GraphNets.shapes(256, 22);
        test = GraphNets.shapes(300, 23);
        fp32 = mobileNet(21);
        GraphNets.fit(fp32, GraphNets.shapes(400, 24), 4);
        floatAccuracy = GraphNets.accuracy(fp32.output(test.getFeatures()), test.getLabels());
        System.out.printf("depthwise/separable net FP32 test accuracy %.4f (trained in %.1f s)%n", floatAccuracy,
                (System.nanoTime() - start) / 1e9);
        // a network that learned nothing predicts one class; its PTQ agreement would prove nothing
        assertTrue(floatAccuracy > 0.8, "the float network should learn the shapes, accuracy " + floatAccuracy);
    }

    @Test
    void weightedLayersCountEveryWeightTensorAndScalesFollowTheDepthwiseOutputChannels() {
        List<WeightedLayer> layers = WeightedLayer.of(fp32);
        assertEquals(List.of("conv0", "dw1", "sep2", "out"), layers.stream().map(WeightedLayer::name).toList());
        assertEquals(List.of(WeightedLayer.Kind.CONV, WeightedLayer.Kind.DEPTHWISE, WeightedLayer.Kind.SEPARABLE, WeightedLayer.Kind.DENSE),
                layers.stream().map(WeightedLayer::kind).toList());
        WeightedLayer dw = layers.get(1);
        WeightedLayer sep = layers.get(2);
        INDArray dwW = fp32.getLayer("dw1").getParam("W");   // [kh, kw, nIn, mult] = [3, 3, 4, 2]
        INDArray sepW = fp32.getLayer("sep2").getParam("W");   // [mult, nIn, kh, kw] = [2, 8, 3, 3]
        INDArray sepPw = fp32.getLayer("sep2").getParam("pW");   // [nOut, nIn mult, 1, 1] = [8, 16, 1, 1]
        assertEquals(dwW.length(), dw.weights());
        assertEquals(sepW.length() + sepPw.length(), sep.weights(), "bit allocation counts both kernels of a separable layer");
        assertEquals(List.of(WeightedLayer.Tensor.WEIGHTS, WeightedLayer.Tensor.POINTWISE), sep.tensors());
        assertEquals("sep2/mid", sep.midTensor());
        assertEquals("sep2/pointwise", sep.scalesName(WeightedLayer.Tensor.POINTWISE));
        assertThrows(IllegalArgumentException.class, () -> dw.paramKey(WeightedLayer.Tensor.POINTWISE));

        // per-channel 8-bit scales of the depthwise kernel: channel o = c mult + m is W[:, :, c, m], read here from DL4J's layout
        double[] dwScales = WeightRanges.scales(dw.read(fp32.getLayer("dw1"), WeightedLayer.Tensor.WEIGHTS), dw.outAxis(), 8, true,
                WeightRangeMethod.MINMAX);
        double[] sepScales = WeightRanges.scales(sep.read(fp32.getLayer("sep2"), WeightedLayer.Tensor.WEIGHTS), sep.outAxis(), 8, true,
                WeightRangeMethod.MINMAX);
        for (int c = 0; c < 4; c++) {
            for (int m = 0; m < 2; m++) {
                double max = 0;
                for (int u = 0; u < 3; u++) {
                    for (int v = 0; v < 3; v++) {
                        max = Math.max(max, Math.abs(dwW.getDouble(u, v, c, m)));
                    }
                }
                assertEquals(max / 127, dwScales[c * 2 + m], 1e-12, "depthwise channel " + (c * 2 + m));
            }
        }
        for (int c = 0; c < 8; c++) {
            for (int m = 0; m < 2; m++) {
                double max = 0;
                for (int u = 0; u < 3; u++) {
                    for (int v = 0; v < 3; v++) {
                        max = Math.max(max, Math.abs(sepW.getDouble(m, c, u, v)));
                    }
                }
                assertEquals(max / 127, sepScales[c * 2 + m], 1e-12, "separable depthwise channel " + (c * 2 + m));
            }
        }
        // the layout round trip is exact
        INDArray back = dw.toParamLayout(WeightedLayer.Tensor.WEIGHTS, dw.read(fp32.getLayer("dw1"), WeightedLayer.Tensor.WEIGHTS),
                dwW.shape());
        assertEquals(dwW, back);
    }

    @Test
    void batchNormFoldsIntoDepthwiseAndSeparableConvolutionsKeepingTheOutputs() {
        BatchNormFoldingPass.Result r = BatchNormFoldingPass.apply(fp32);
        assertEquals(Map.of("bn0", "conv0", "bn1", "dw1", "bn2", "sep2"), r.folded());
        MultiLayerNetwork folded = r.network();
        for (String bn : List.of("bn1", "bn2")) {
            assertTrue(folded.getLayer(bn).conf().getLayer() instanceof ActivationLayer, bn + " became an identity placeholder");
            assertTrue(fp32.getLayer(bn).conf().getLayer() instanceof BatchNormalization, "the input network is not modified");
        }
        assertEquals(fp32.getLayer("sep2").getParam("W"), folded.getLayer("sep2").getParam("W"),
                "a separable layer's batch norm goes into its pointwise kernel only");
        INDArray x = test.getFeatures();
        double diff = TestNets.maxAbsDiff(fp32.output(x), folded.output(x));
        System.out.printf("depthwise/separable BN folding: max |softmax diff| %.3g%n", diff);
        assertTrue(diff < 1e-5, "softmax outputs moved by " + diff);
        for (int i : new int[] {5, 8}) {   // relu1 and relu2: the outputs of the folded depthwise and separable layers (after ReLU)
            INDArray a = fp32.feedForward(x, false).get(i + 1);
            INDArray b = folded.feedForward(x, false).get(i + 1);
            double d = TestNets.maxAbsDiff(a, b);
            assertTrue(d < 1e-5 * Math.max(1, a.amaxNumber().doubleValue()), "layer " + i + " moved by " + d);
        }
    }

    @Test
    void biasCorrectionRemovesTheMeanShiftOfDepthwiseAndSeparableLayers() {
        MultiLayerNetwork net = BatchNormFoldingPass.apply(fp32).network();
        Calibration c = Calibration.run(net, TestNets.iterator(cal, 64), 256, 0, 2048);
        List<INDArray> acts = net.feedForward(cal.getFeatures(), false);
        for (String name : List.of("dw1", "sep2")) {
            WeightedLayer l = WeightedLayer.named(WeightedLayer.of(net), name);
            Map<WeightedLayer.Tensor, INDArray> q = new java.util.EnumMap<>(WeightedLayer.Tensor.class);
            for (WeightedLayer.Tensor t : l.tensors()) {   // 3-bit per-channel weights, both kernels of the separable layer
                INDArray w = l.read(net.getLayer(name), t);
                q.put(t, PostTrainingQuantizer.uniform(w, l.outAxis(t), 3, WeightRanges.scales(w, l.outAxis(t), 3, true, WeightRangeMethod.MINMAX)));
            }
            MultiLayerNetwork uncorrected = net.clone();
            MultiLayerNetwork corrected = net.clone();
            double[] shifted = BiasCorrection.apply(corrected, l, q, c.layer(name));
            for (WeightedLayer.Tensor t : l.tensors()) {
                l.write(uncorrected.getLayer(name), t, q.get(t));
                l.write(corrected.getLayer(name), t, q.get(t));
            }
            // DL4J's own forward pass of the layer (identity activation) on the float network's input to it
            INDArray in = acts.get(l.index());
            double[] fp = channelMeans(layerOut(net, name, in));
            double[] unc = channelMeans(layerOut(uncorrected, name, in));
            double[] cor = channelMeans(layerOut(corrected, name, in));
            assertEquals(fp.length, shifted.length);
            double shift = 0;
            double residual = 0;
            for (int ch = 0; ch < fp.length; ch++) {
                shift = Math.max(shift, Math.abs(unc[ch] - fp[ch]));
                residual = Math.max(residual, Math.abs(cor[ch] - fp[ch]));
            }
            System.out.printf("bias correction %s: max mean shift %.4g uncorrected, %.3g corrected%n", name, shift, residual);
            assertTrue(shift > 1e-3, name + ": 3-bit weights should shift the mean output, got " + shift);
            assertTrue(residual < 1e-5 + shift * 1e-3, name + ": residual mean shift " + residual + " (uncorrected " + shift + ")");
        }
        WeightedLayer sep = WeightedLayer.named(WeightedLayer.of(net), "sep2");
        String m = assertThrows(IllegalArgumentException.class, () -> BiasCorrection.apply(net, sep,
                sep.read(net.getLayer("sep2"), WeightedLayer.Tensor.WEIGHTS), c.layer("sep2"))).getMessage();
        assertTrue(m.contains("'sep2'") && m.contains("POINTWISE"), m);
    }

    private static INDArray layerOut(MultiLayerNetwork net, String name, INDArray in) {
        return net.getLayer(name).activate(in, false, LayerWorkspaceMgr.noWorkspaces()).dup();
    }

    private static double[] channelMeans(INDArray out) {
        return out.castTo(DataType.DOUBLE).mean(0, 2, 3).toDoubleVector();
    }

    @Test
    void crossLayerEqualizationPairsAcrossAndInsideDepthwiseLayers() {
        MultiLayerNetwork net = BatchNormFoldingPass.apply(fp32).network();
        // very unequal ranges in the depthwise filters and in the separable layer's depthwise filters
        for (String name : List.of("dw1", "sep2")) {
            WeightedLayer l = WeightedLayer.named(WeightedLayer.of(net), name);
            INDArray k = l.read(net.getLayer(name), WeightedLayer.Tensor.WEIGHTS);
            for (int o = 0; o < k.size(0); o++) {
                k.slice(o, 0).muli(Math.pow(2, o % 5));
            }
            l.write(net.getLayer(name), WeightedLayer.Tensor.WEIGHTS, k);
            if (name.equals("dw1")) {
                INDArray b = net.getLayer(name).getParam("b").dup();
                for (int o = 0; o < b.length(); o++) {
                    b.putScalar(o, b.getDouble(o) * Math.pow(2, o % 5));
                }
                net.getLayer(name).setParam("b", b);
            }
        }
        INDArray x = test.getFeatures();
        INDArray before = net.output(x);
        CrossLayerEqualization.Result r = CrossLayerEqualization.apply(net);
        assertEquals(List.of("conv0->dw1", "dw1->sep2", "sep2:depthwise->pointwise"), r.pairs());
        double diff = TestNets.maxAbsDiff(before, net.output(x));
        assertTrue(diff < 1e-4, "outputs changed by " + diff);
        List<WeightedLayer> layers = WeightedLayer.of(net);
        record Side(String layer, WeightedLayer.Tensor tensor) {
        }
        List<Side[]> sides = List.of(new Side[] {new Side("conv0", WeightedLayer.Tensor.WEIGHTS), new Side("dw1", WeightedLayer.Tensor.WEIGHTS)},
                new Side[] {new Side("dw1", WeightedLayer.Tensor.WEIGHTS), new Side("sep2", WeightedLayer.Tensor.WEIGHTS)},
                new Side[] {new Side("sep2", WeightedLayer.Tensor.WEIGHTS), new Side("sep2", WeightedLayer.Tensor.POINTWISE)});
        for (Side[] pair : sides) {
            WeightedLayer la = WeightedLayer.named(layers, pair[0].layer());
            WeightedLayer lb = WeightedLayer.named(layers, pair[1].layer());
            INDArray wa = la.read(net.getLayer(la.name()), pair[0].tensor());
            INDArray wb = lb.read(net.getLayer(lb.name()), pair[1].tensor());
            int channels = (int) wa.size(0);
            for (int ch = 0; ch < channels; ch++) {
                double r1 = wa.slice(ch, 0).amaxNumber().doubleValue();
                // input channel ch of B: a depthwise kernel's mult filters ch*mult.., a pointwise kernel's column ch
                double r2 = lb.kind() != WeightedLayer.Kind.CONV && pair[1].tensor() == WeightedLayer.Tensor.WEIGHTS
                        ? wb.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(ch * 2L, ch * 2L + 2)).amaxNumber().doubleValue()
                        : wb.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(ch))
                        .amaxNumber().doubleValue();
                assertEquals(r1, r2, 1e-3 * Math.max(r1, r2), la.name() + "->" + lb.name() + " channel " + ch);
            }
        }
    }

    @Test
    void w8a8PtqExportsAndTheIntegerModelAgreesWithTheFakeQuantNetwork() {
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withPasses(true, true, true).withCalibrationSamples(256), 0);
        assertEquals("bn-fold {bn0=conv0, bn1=dw1, bn2=sep2}", p.passes().get(0));
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(p);
        QuantPlan plan = r.plan();
        assertTrue(plan.passes().contains("bias-correction"), plan.passes().toString());
        assertTrue(r.notes().stream().anyMatch(n -> n.startsWith("sep2: bias corrected")), r.notes().toString());
        QuantPlan.LayerPlan sep = plan.layer("sep2");
        assertEquals(WeightedLayer.Kind.SEPARABLE, sep.kind());
        assertEquals(16, sep.weightScales().length, "one scale per depthwise output channel (8 inputs x multiplier 2)");
        assertEquals(8, sep.pointwiseWeightScales().length);
        assertEquals(8, plan.layer("dw1").weightScales().length);
        assertNull(plan.layer("dw1").pointwiseWeightScales());
        // the mid tensor: calibrated from DL4J's depthwise part, placed right before the layer's own tensor
        List<String> names = new ArrayList<>(plan.tensors().keySet());
        assertEquals(names.indexOf("sep2") - 1, names.indexOf("sep2/mid"), names.toString());
        QuantPlan.TensorRange mid = plan.tensor("sep2/mid");
        assertTrue(mid.signed(), "the depthwise output before the pointwise kernel has both signs");

        QuantizedModel.Wrapped<? extends Model> wrapped = PostTrainingQuantizer.quantizedModel(r);
        assertTrue(wrapped.quantized().containsAll(List.of("conv0", "dw1", "sep2", "out")), wrapped.summary());
        MultiLayerNetwork ptq = (MultiLayerNetwork) wrapped.network();
        org.deeplearning4j.nn.api.Layer sepLayer = ptq.getLayer("sep2");
        QuantizerReadout.InputGrid grid = QuantizerReadout.midInputGrid(sepLayer, "sep2");
        // the layer stores the range as float parameters: the grid is the plan's range rounded to float
        QuantPlan.TensorRange stored = QuantPlan.TensorRange.of(mid.bits(), mid.signed(), (float) mid.min(), (float) mid.max());
        assertEquals(mid.scale(), grid.scale(), 1e-6 * mid.scale(), "mid quantizer at the plan's range");
        assertEquals(stored.scale(), grid.scale(), 1e-12 * stored.scale());
        assertEquals(stored.zeroPoint(), grid.zeroPoint());
        assertArrayEquals(sep.pointwiseWeightScales(), sepLayer.getParam(QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_STEP_KEY)
                .castTo(DataType.DOUBLE).toDoubleVector(), 1e-6 * sep.pointwiseWeightScales()[0], "pointwise steps = the plan's scales");
        assertArrayEquals(sep.weightScales(), sepLayer.getParam(QuantizerParams.WEIGHT_STEP_KEY).castTo(DataType.DOUBLE).toDoubleVector(),
                1e-6 * sep.weightScales()[0], "depthwise steps = the plan's scales");
        assertArrayEquals(plan.layer("dw1").weightScales(), ptq.getLayer("dw1").getParam(QuantizerParams.WEIGHT_STEP_KEY)
                .castTo(DataType.DOUBLE).toDoubleVector(), 1e-6 * plan.layer("dw1").weightScales()[0]);

        INDArray x = test.getFeatures();
        INDArray out = ptq.output(x);
        double accuracy = GraphNets.accuracy(out, test.getLabels());
        double agreement = PostTrainingQuantizerTest.agreement(fp32.output(x), out);
        Int8Exporter.Result exported = Int8Exporter.export(ptq, cal.getFeatures());
        int n = (int) x.size(0);
        float[] xs = x.castTo(DataType.FLOAT).dup('c').data().asFloat();
        Int8Model optimized = new Int8Model(exported.graph());
        Int8Model reference = new Int8Model(exported.graph(), Int8Model.Kernels.REFERENCE);
        byte[] in = optimized.quantizeInput(xs, n);
        assertArrayEquals(reference.runQuantized(in, n), optimized.runQuantized(in, n), "optimized and reference kernels differ");
        float[] logits = optimized.run(xs, n);
        INDArray fq = Int8Exporter.fakeQuantLogits(ptq, x);
        int k = (int) fq.size(1);
        Int8Graph.DenseLogits last = exported.graph().logitsNode();
        int same = 0;
        int within = 0;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            boolean ok = true;
            for (int c = 0; c < k; c++) {
                best = logits[i * k + c] > logits[i * k + best] ? c : best;
                double steps = Math.abs(fq.getDouble(i, c) - logits[i * k + c]) / last.scale()[c];
                worst = Math.max(worst, steps);
                ok &= steps <= 1 + 1e-6;
            }
            same += best == fq.getRow(i).argMax().getInt(0) ? 1 : 0;
            within += ok ? 1 : 0;
        }
        System.out.printf("depthwise/separable W8A8 PTQ: accuracy %.4f (FP32 %.4f), argmax agreement with FP32 %.4f; INT8 runtime vs "
                + "fake quant: argmax %d/%d, logits within one step %d/%d (worst %.3f steps)%n", accuracy, floatAccuracy, agreement, same, n,
                within, n, worst);
        assertTrue(accuracy >= floatAccuracy - 0.03, "W8A8 accuracy " + accuracy + " vs FP32 " + floatAccuracy);
        assertEquals(n, same, "INT8 runtime vs PTQ fake-quant argmax");
        assertEquals(n, within, "INT8 logits within one output step of the fake-quant logits (worst " + worst + " steps)");
    }

    @Test
    void thePlanJsonCarriesPointwiseScalesAndTheMidRangeAndIsChecked(@TempDir Path dir) throws Exception {
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(128), 0));
        QuantPlan plan = r.plan();
        Path f = dir.resolve("plan.json");
        plan.write(f);
        String json = java.nio.file.Files.readString(f);
        assertTrue(json.contains("\"SEPARABLE\"") && json.contains("\"DEPTHWISE\"") && json.contains("\"pointwiseWeightScales\"")
                && json.contains("\"sep2/mid\""), json);
        QuantPlan back = QuantPlan.read(f);
        assertEquals(plan.layers(), back.layers());
        assertEquals(plan.tensors(), back.tensors());
        back.check(r.model());
        // the PTQ network of the plan read back is the same network
        INDArray x = test.getFeatures();
        assertEquals(0, TestNets.maxAbsDiff(PostTrainingQuantizer.model(r).network().output(x),
                PostTrainingQuantizer.model(r.network(), back).network().output(x)), 0);

        QuantPlan.LayerPlan sep = plan.layer("sep2");
        String m = assertThrows(IllegalArgumentException.class, () -> sep.withWeights(QuantPlan.WeightQuantizer.UNIFORM, 8,
                sep.weightScales())).getMessage();
        assertTrue(m.contains("'sep2'") && m.contains("pointwiseWeightScales"), m);
        QuantPlan.LayerPlan dw = plan.layer("dw1");
        m = assertThrows(IllegalArgumentException.class, () -> dw.withWeights(QuantPlan.WeightQuantizer.UNIFORM, 8, dw.weightScales(),
                new double[] {0.1})).getMessage();
        assertTrue(m.contains("'dw1'") && m.contains("pointwiseWeightScales") && m.contains("DEPTHWISE"), m);
        m = assertThrows(IllegalArgumentException.class, () -> sep.withWeights(QuantPlan.WeightQuantizer.BINARY, 1, null,
                sep.pointwiseWeightScales())).getMessage();
        assertTrue(m.contains("pointwiseWeightScales") && m.contains("BINARY"), m);
        // scale counts are checked against the network, per kernel
        List<QuantPlan.LayerPlan> wrong = plan.layers().stream().map(l -> l.name().equals("sep2")
                ? l.withWeights(QuantPlan.WeightQuantizer.UNIFORM, 8, l.weightScales(), new double[] {0.1, 0.2}) : l).toList();
        m = assertThrows(IllegalArgumentException.class, () -> plan.with(wrong, null).check(r.model())).getMessage();
        assertTrue(m.contains("'sep2'") && m.contains("pointwiseWeightScales") && m.contains("8"), m);
        // a plan without the mid range cannot make the PTQ network
        Map<String, QuantPlan.TensorRange> noMid = new java.util.LinkedHashMap<>(plan.tensors());
        noMid.remove("sep2/mid");
        QuantPlan withoutMid = new QuantPlan(plan.format(), plan.version(), plan.calibration(), plan.passes(), plan.layers(), null, noMid);
        m = assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.model(r.network(), withoutMid)).getMessage();
        assertTrue(m.contains("'sep2/mid'"), m);
    }

    @Test
    void sensitivityAndBitAllocationCoverBothSeparableKernelsAndTheMidQuantizer() {
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(256), 96);
        SensitivityAnalysis.Report report = SensitivityAnalysis.run(p, new SensitivityAnalysis.Options(new int[] {2, 8}, new int[] {2, 8},
                SensitivityAnalysis.Metric.MSE, 3));
        for (String name : List.of("dw1", "sep2")) {
            QuantPlan.Sensitivity s = report.layers().get(name);
            System.out.printf("sensitivity %s: weights %s inputs %s%n", name, s.weights(), s.inputs());
            assertTrue(s.weights().get(2) > s.weights().get(8), name + " weights " + s.weights());
            assertTrue(s.inputs().get(2) > s.inputs().get(8), name + " inputs " + s.inputs());
        }
        assertEquals(8, report.layers().get("dw1").perChannelWeights().length, "one figure per depthwise output channel");
        assertEquals(8, report.layers().get("sep2").perChannelWeights().length, "one figure per output channel of the layer");

        List<WeightedLayer> layers = WeightedLayer.of(p.model());
        SensitivityAnalysis.Allocated a = SensitivityAnalysis.allocate(report, layers, 5.0, BitAllocator.Method.EXACT);
        long cost = 0;
        long n = 0;
        for (WeightedLayer l : layers) {
            cost += l.weights() * a.bits().get(l.name());
            n += l.weights();
        }
        assertEquals(cost, a.info().costBits(), "the allocator charges every weight tensor");
        assertTrue(cost <= 5.0 * n, "average bits " + (double) cost / n);
        PostTrainingQuantizer.Result mixed = PostTrainingQuantizer.quantize(p, p.recipe().withLayerWeightBits(a.bits()));
        assertEquals(a.bits(), PostTrainingQuantizer.weightBits(mixed.plan()));
        MultiLayerNetwork net = (MultiLayerNetwork) PostTrainingQuantizer.quantizedModel(mixed).network();
        System.out.printf("depthwise/separable mixed precision %s: accuracy %.4f (FP32 %.4f)%n", a.bits(),
                GraphNets.accuracy(net.output(test.getFeatures()), test.getLabels()), floatAccuracy);

        // partial quantization keeps a separable layer in float, and its mid tensor needs no range then
        PostTrainingQuantizer.Result partial = PostTrainingQuantizer.quantize(p, p.recipe().withKeepFloat(List.of("sep2")));
        QuantizedModel.Wrapped<? extends Model> w = PostTrainingQuantizer.quantizedModel(partial);
        assertTrue(w.keptInFloat().containsKey("sep2"), w.summary());
    }

    @Test
    void theGraphTwinGetsTheSamePlanAndItsIntegerModelAgreesWithItsFakeQuantGraph() {
        ComputationGraph g = graphTwin(fp32);
        INDArray x = test.getFeatures();
        assertEquals(0, TestNets.maxAbsDiff(fp32.output(x), g.outputSingle(x)), 1e-6, "twins");
        PtqRecipe recipe = PtqRecipe.defaults().withPasses(true, true, true).withCalibrationSamples(192);
        PostTrainingQuantizer.Prepared pm = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), recipe, 0);
        PostTrainingQuantizer.Prepared pg = PostTrainingQuantizer.prepare(g, TestNets.iterator(cal, 64), recipe, 0);
        assertEquals(pm.passes(), pg.passes());
        PostTrainingQuantizer.Result rm = PostTrainingQuantizer.quantize(pm);
        PostTrainingQuantizer.Result rg = PostTrainingQuantizer.quantize(pg);
        assertEquals(rm.plan().layers(), rg.plan().layers());
        assertEquals(rm.plan().tensors(), rg.plan().tensors());
        ComputationGraph ptq = (ComputationGraph) PostTrainingQuantizer.quantizedModel(rg).network();
        Int8Exporter.Result exported = Int8Exporter.export(ptq, cal.getFeatures());
        int n = (int) x.size(0);
        Int8Model model = new Int8Model(exported.graph());
        float[] logits = model.run(x.castTo(DataType.FLOAT).dup('c').data().asFloat(), n);
        INDArray fq = Int8Exporter.fakeQuantLogits(ptq, x);
        int k = (int) fq.size(1);
        int same = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int c = 1; c < k; c++) {
                best = logits[i * k + c] > logits[i * k + best] ? c : best;
            }
            same += best == fq.getRow(i).argMax().getInt(0) ? 1 : 0;
        }
        System.out.printf("depthwise/separable graph W8A8 PTQ: INT8 runtime vs fake quant argmax %d/%d%n", same, n);
        assertEquals(n, same, "INT8 runtime vs the PTQ fake-quant graph");
    }
}
