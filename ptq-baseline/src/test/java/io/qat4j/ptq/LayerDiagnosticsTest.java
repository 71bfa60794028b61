package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.export.Int8Exporter;

/**
 * {@link LayerDiagnostics} against plain references: weight SQNR recomputed in double math from the
 * plan's scales, the 6 dB-per-bit rule between W8 and W4, input SQNR of the first layer from the
 * input quantizer's grid, histograms that count every element, switches restored, and the integer
 * model equal to fake quant per layer at W8A8 (0 steps apart, single rounding).
 */
class LayerDiagnosticsTest {

    private static Map<String, LayerDiagnostics.Layer> byName(LayerDiagnostics.Report r) {
        return r.layers().stream().collect(Collectors.toMap(LayerDiagnostics.Layer::name, Function.identity()));
    }

    @Test
    void multiLayerNetworkWeightAndInputSqnrIntegerDifferenceAndSwitches() {
        MultiLayerNetwork fp32 = TestNets.cnn(5);
        DataSet calib = TestNets.data(256, 6);
        DataSet test = TestNets.data(200, 7);
        INDArray x = test.getFeatures();
        PostTrainingQuantizer.Prepared prepared = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(calib, 64), PtqRecipe.defaults(), 0);
        PostTrainingQuantizer.Result r8 = PostTrainingQuantizer.quantize(prepared, PtqRecipe.defaults());
        PostTrainingQuantizer.Result r4 = PostTrainingQuantizer.quantize(prepared, PtqRecipe.defaults().withBits(4, 8));
        Model q8 = PostTrainingQuantizer.quantizedModel(r8).network();
        Model q4 = PostTrainingQuantizer.quantizedModel(r4).network();
        INDArray before = ((MultiLayerNetwork) q8).output(x, false).dup();
        Int8Exporter.Result e8 = Int8Exporter.export(q8, calib.getFeatures());
        LayerDiagnostics.Report d8 = LayerDiagnostics.run(fp32, q8, e8.graph(), e8.nodeVertices(), x, test.getLabels(), 32);
        LayerDiagnostics.Report d4 = LayerDiagnostics.run(fp32, q4, null, null, x, test.getLabels(), 32);
        for (LayerDiagnostics.Layer l : d8.layers()) {
            System.out.printf("%-6s W SQNR %s dB, input SQNR %.1f dB, only this %.3f, all but this %.3f, int8 %s%n", l.name(), l.weightSqnrDb(),
                    l.inputSqnrDb(), l.accuracyOnlyThis(), l.accuracyAllButThis(), l.int8());
        }
        assertEquals(List.of("conv1", "conv2", "fc1", "out"), d8.layers().stream().map(LayerDiagnostics.Layer::name).toList());
        assertEquals(before, ((MultiLayerNetwork) q8).output(x, false), "the quantizer switches are restored");

        Map<String, LayerDiagnostics.Layer> l8 = byName(d8);
        Map<String, LayerDiagnostics.Layer> l4 = byName(d4);
        NetworkView floatNet = NetworkView.of(r8.model());
        for (QuantPlan.LayerPlan lp : r8.plan().layers()) {
            // weight SQNR in plain double math from the plan's per-channel scales
            INDArray w = floatNet.layer(lp.name()).getParam("W").castTo(DataType.DOUBLE);
            double[] v = w.dup('c').data().asDouble();
            boolean conv = lp.kind() == WeightedLayer.Kind.CONV;
            long inner = conv ? w.length() / w.size(0) : 1;
            double signal = 0;
            double noise = 0;
            for (int i = 0; i < v.length; i++) {
                double s = lp.weightScales()[(int) (conv ? i / inner : i % w.size(1))];
                double deq = s * Math.max(-127, Math.min(127, Math.rint(v[i] / s)));
                signal += v[i] * v[i];
                noise += (v[i] - deq) * (v[i] - deq);
            }
            double expected = 10 * Math.log10(signal / noise);
            assertEquals(expected, l8.get(lp.name()).weightSqnrDb(), 1e-4, lp.name() + ": weight SQNR (float32 parameters)");
            // about 6 dB per bit: W8 is far above W4
            assertTrue(l8.get(lp.name()).weightSqnrDb() > l4.get(lp.name()).weightSqnrDb() + 15, lp.name() + ": W8 "
                    + l8.get(lp.name()).weightSqnrDb() + " dB vs W4 " + l4.get(lp.name()).weightSqnrDb() + " dB");
            LayerDiagnostics.Layer l = l8.get(lp.name());
            long elements = 0;
            for (long c : l.inputHistogram().counts()) {
                elements += c;
            }
            assertEquals(floatNet.activations(x).get(floatNet.vertex(lp.name()).inputs().get(0)).length(), elements,
                    lp.name() + ": the histogram counts every input element");
            assertTrue(l.inputHistogram().clipMax() > l.inputHistogram().clipMin(), lp.name() + ": clipping range");
            assertTrue(l.accuracyOnlyThis() >= 0 && l.accuracyOnlyThis() <= 1 && l.accuracyAllButThis() >= 0 && l.accuracyAllButThis() <= 1);
        }
        // the first layer's input error is only its own rounding onto an 8-bit grid: finite, and far above 30 dB for inputs in [0, 1)
        assertTrue(l8.get("conv1").inputSqnrDb() > 30 && Double.isFinite(l8.get("conv1").inputSqnrDb()), l8.get("conv1").toString());
        // W8A8 with single rounding: the integer model gives the fake-quant network's codes on every hidden layer
        for (String name : List.of("conv1", "conv2", "fc1")) {
            LayerDiagnostics.Int8Difference d = l8.get(name).int8();
            assertNotNull(d, name);
            assertTrue(d.maxSteps() <= 1 && d.differing() < 0.001, name + ": " + d);
        }
    }

    @Test
    void aGraphWithInsertedQuantizersMapsTheirTensorsToTheFloatNetwork() {
        ComputationGraph fp32 = GraphNets.resnet(7);
        GraphNets.fit(fp32, GraphNets.shapes(300, 1), 2);
        DataSet cal = GraphNets.shapes(128, 2);
        DataSet test = GraphNets.shapes(100, 3);
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64),
                PtqRecipe.defaults(), 0));
        Model q = PostTrainingQuantizer.quantizedModel(r).network();
        Int8Exporter.Result e = Int8Exporter.export(q, cal.getFeatures());
        LayerDiagnostics.Report d = LayerDiagnostics.run(fp32, q, e.graph(), e.nodeVertices(), test.getFeatures(), test.getLabels(), 16);
        List<String> names = d.layers().stream().map(LayerDiagnostics.Layer::name).toList();
        assertTrue(names.stream().anyMatch(n -> n.endsWith("_aq")), "inserted quantizers are diagnosed too: " + names);
        for (LayerDiagnostics.Layer l : d.layers()) {
            assertTrue(l.inputSqnrDb() > 20, l.toString());
            if (l.int8() != null) {
                assertTrue(l.int8().maxSteps() <= 1, l.toString());
            }
        }
    }
}
