package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.export.Int8Exporter;
import io.qat4j.ptq.calibration.CalibrationMethod;
import io.qat4j.runtime.Int8Model;

/** The PTQ pipeline end to end on a small CNN: plan, PTQ model, export, sensitivity and allocation. */
class PostTrainingQuantizerTest {

    static int argmax(INDArray row) {
        return row.argMax().getInt(0);
    }

    static double agreement(INDArray a, INDArray b) {
        int same = 0;
        for (int i = 0; i < a.size(0); i++) {
            same += argmax(a.getRow(i)) == argmax(b.getRow(i)) ? 1 : 0;
        }
        return same / (double) a.size(0);
    }

    @Test
    void w8a8PlanTracksTheFloatNetworkAndExportsToTheRuntime() throws Exception {
        MultiLayerNetwork fp32 = TestNets.cnn(31);
        DataSet cal = TestNets.data(256, 32);
        DataSet test = TestNets.data(300, 33);
        INDArray reference = fp32.output(test.getFeatures());
        for (CalibrationMethod m : CalibrationMethod.values()) {
            PtqRecipe recipe = PtqRecipe.defaults().withCalibration(m).withCalibrationSamples(256);
            PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), recipe, 0);
            PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(p);
            QuantizedModel.Wrapped<MultiLayerNetwork> ptq = PostTrainingQuantizer.model(r);
            assertEquals(List.of("conv1", "conv2", "fc1", "out"), ptq.quantized());
            INDArray out = ptq.network().output(test.getFeatures());
            double maxDiff = TestNets.maxAbsDiff(reference, out);
            System.out.printf("W8A8 %s: max |softmax diff| %.4f, argmax agreement %.4f%n", m, maxDiff, agreement(reference, out));
            if (m == CalibrationMethod.MINMAX || m == CalibrationMethod.MOVING_AVERAGE) {   // nothing clipped: only rounding noise
                assertTrue(maxDiff < 0.05, m + ": W8A8 softmax differs from FP32 by " + maxDiff);
            }
            assertTrue(agreement(reference, out) >= 0.95, m + ": argmax agreement " + agreement(reference, out));
        }
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(
                PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), PtqRecipe.defaults(), 0));
        MultiLayerNetwork ptq = PostTrainingQuantizer.model(r).network();
        Int8Exporter.Result exported = Int8Exporter.export(ptq, cal.getFeatures());
        Int8Model model = new Int8Model(exported.graph());
        int n = (int) test.getFeatures().size(0);
        int[] predicted = model.predict(test.getFeatures().dup('c').data().asFloat(), n);
        INDArray sim = ptq.output(test.getFeatures());
        int same = 0;
        for (int i = 0; i < n; i++) {
            same += predicted[i] == argmax(sim.getRow(i)) ? 1 : 0;
        }
        assertTrue(same >= 0.97 * n, "INT8 runtime vs PTQ fake-quant agreement " + same + "/" + n);
    }

    @Test
    void layerOverridesKeepTheFirstAndLastLayersAtEightBitsInABinaryNetwork() throws Exception {
        MultiLayerNetwork fp32 = TestNets.cnn(61);
        DataSet cal = TestNets.data(256, 62);
        DataSet test = TestNets.data(200, 63);
        Map<String, Integer> firstLast = Map.of("conv1", 8, "out", 8);
        PtqRecipe recipe = PtqRecipe.defaults().withWeightQuantizer(QuantPlan.WeightQuantizer.BINARY).withBits(8, 4)
                .withLayerWeightBits(firstLast).withLayerInputBits(firstLast).withCalibrationSamples(256);
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), recipe, 0));
        Map<String, QuantPlan.LayerPlan> byName = new java.util.HashMap<>();
        r.plan().layers().forEach(l -> byName.put(l.name(), l));
        for (String name : List.of("conv1", "out")) {
            assertEquals(QuantPlan.WeightQuantizer.UNIFORM, byName.get(name).weightQuantizer(), name);
            assertEquals(8, byName.get(name).weightBits(), name);
            assertEquals(8, byName.get(name).inputBits(), name);
            assertTrue(byName.get(name).weightScales() != null, name + " has uniform weight scales");
        }
        for (String name : List.of("conv2", "fc1")) {
            assertEquals(QuantPlan.WeightQuantizer.BINARY, byName.get(name).weightQuantizer(), name);
            assertEquals(4, byName.get(name).inputBits(), name);
        }
        // the QAT start carries the per-layer modes: LSQ 8-bit at the ends, BINARY inside, and the mix exports and runs
        QuantizedModel.Wrapped<MultiLayerNetwork> qat = PostTrainingQuantizer.qatStart(r.network(), r.plan(), InputQuantMode.LSQ);
        INDArray sim = qat.network().output(test.getFeatures());
        Int8Exporter.Result exported = Int8Exporter.export(qat.network(), cal.getFeatures());
        List<Integer> weightBits = new java.util.ArrayList<>();
        for (io.qat4j.runtime.Int8Graph.Node node : exported.graph().nodes()) {
            Integer bits = switch (node.kind()) {
                case CONV2D -> ((io.qat4j.runtime.Int8Graph.Conv2D) node).weightBits();
                case DENSE -> ((io.qat4j.runtime.Int8Graph.Dense) node).weightBits();
                case DEPTHWISE_CONV2D -> ((io.qat4j.runtime.Int8Graph.DepthwiseConv2D) node).weightBits();
                case DENSE_LOGITS -> ((io.qat4j.runtime.Int8Graph.DenseLogits) node).weightBits();
                case MAX_POOL, AVG_POOL, FLATTEN, ADD, REQUANTIZE, AVG_POOL_REQUANT, CONCAT, LEAKY_RELU, LOOKUP_TABLE, ZERO_PAD, CROP,
                     UPSAMPLE_NEAREST -> null;
            };
            if (bits != null) {
                weightBits.add(bits);
            }
        }
        assertEquals(List.of(8, 1, 1, 8), weightBits);
        int n = (int) test.getFeatures().size(0);
        int[] predicted = new Int8Model(exported.graph()).predict(test.getFeatures().dup('c').data().asFloat(), n);
        int same = 0;
        for (int i = 0; i < n; i++) {
            same += predicted[i] == argmax(sim.getRow(i)) ? 1 : 0;
        }
        assertTrue(same >= 0.97 * n, "INT8 runtime vs fake-quant agreement " + same + "/" + n);
    }

    @Test
    void lowBitPtqWithBiasCorrectionIsCloserThanWithout() {
        MultiLayerNetwork fp32 = TestNets.cnn(41);
        DataSet cal = TestNets.data(256, 42);
        INDArray reference = fp32.output(cal.getFeatures());
        PtqRecipe recipe = PtqRecipe.defaults().withBits(3, 8).withCalibrationSamples(256);
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), recipe, 0);
        double with = TestNets.maxAbsDiff(reference, PostTrainingQuantizer.model(PostTrainingQuantizer.quantize(p, recipe)).network()
                .output(cal.getFeatures()));
        double meanWith = meanAbsDiff(reference, PostTrainingQuantizer.model(PostTrainingQuantizer.quantize(p, recipe)).network()
                .output(cal.getFeatures()));
        PtqRecipe noBc = recipe.withPasses(true, false, false);
        double meanWithout = meanAbsDiff(reference, PostTrainingQuantizer.model(PostTrainingQuantizer.quantize(p, noBc)).network()
                .output(cal.getFeatures()));
        assertTrue(meanWith < meanWithout, "bias correction: mean |diff| " + meanWith + " vs " + meanWithout + " without (max " + with + ")");
    }

    static double meanAbsDiff(INDArray a, INDArray b) {
        return a.sub(b).norm1Number().doubleValue() / a.length();
    }

    @Test
    void sensitivityFallsWithBitsAndAllocationRespectsTheBudget() {
        MultiLayerNetwork fp32 = TestNets.cnn(51);
        DataSet cal = TestNets.data(256, 52);
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults().withCalibrationSamples(256), 128);
        SensitivityAnalysis.Report report = SensitivityAnalysis.run(p, new SensitivityAnalysis.Options(new int[] {2, 3, 4, 8},
                new int[] {2, 8}, SensitivityAnalysis.Metric.KL, 2));
        assertEquals(128, report.samples());
        for (Map.Entry<String, QuantPlan.Sensitivity> e : report.layers().entrySet()) {
            QuantPlan.Sensitivity s = e.getValue();
            assertTrue(s.weights().get(2) > s.weights().get(8), e.getKey() + " weights " + s.weights());
            assertTrue(s.inputs().get(2) > s.inputs().get(8), e.getKey() + " inputs " + s.inputs());
            assertTrue(s.weights().get(8) < 1e-3, e.getKey() + " 8-bit weights " + s.weights());
            assertEquals(2, s.perChannelBits());
            assertTrue(s.perChannelWeights().length >= 3);
            for (double v : s.perChannelWeights()) {
                assertTrue(v >= 0 && v <= s.weights().get(2) * 10 + 1e-9, e.getKey() + " per-channel " + v);
            }
        }
        List<WeightedLayer> layers = WeightedLayer.of(p.network());
        SensitivityAnalysis.Allocated a = SensitivityAnalysis.allocate(report, layers, 3.0, BitAllocator.Method.EXACT);
        long n = layers.stream().mapToLong(WeightedLayer::weights).sum();
        assertTrue(a.info().costBits() <= 3 * n, "cost " + a.info().costBits() + " > budget " + 3 * n);
        SensitivityAnalysis.Allocated g = SensitivityAnalysis.allocate(report, layers, 3.0, BitAllocator.Method.GREEDY);
        assertTrue(a.info().totalSensitivity() <= g.info().totalSensitivity() + 1e-12, "exact is never worse than greedy");
        QuantPlan plan = SensitivityAnalysis.attach(PostTrainingQuantizer.quantize(p, p.recipe().withLayerWeightBits(a.bits())).plan(),
                report, a.info());
        assertEquals(a.bits(), PostTrainingQuantizer.weightBits(plan));
        assertEquals("exact", plan.allocation().method());
        // partial quantization: the most sensitive layer stays in float and is reported as such
        String worst = report.mostSensitive(a.bits(), 8).get(0);
        PostTrainingQuantizer.Result partial = PostTrainingQuantizer.quantize(p, p.recipe().withKeepFloat(List.of(worst)));
        QuantizedModel.Wrapped<MultiLayerNetwork> w = PostTrainingQuantizer.model(partial);
        assertTrue(w.keptInFloat().containsKey(worst), w.summary());
        // QAT start: LSQ steps equal the plan's scales
        QuantizedModel.Wrapped<MultiLayerNetwork> qat = PostTrainingQuantizer.qatStart(partial.network(), partial.plan(), InputQuantMode.LSQ);
        String some = layers.stream().map(WeightedLayer::name).filter(x -> !x.equals(worst)).findFirst().orElseThrow();
        double[] steps = qat.network().getLayer(some).getParam("Ws").toDoubleVector();
        double[] scales = partial.plan().layer(some).weightScales();
        for (int i = 0; i < scales.length; i++) {
            assertEquals(scales[i], steps[i], scales[i] * 1e-6);
        }
    }
}
