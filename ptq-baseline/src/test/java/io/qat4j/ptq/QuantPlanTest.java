package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

/** QuantPlan JSON round trip and every way a plan can be wrong. */
class QuantPlanTest {

    static MultiLayerNetwork net;
    static QuantPlan plan;

    @BeforeAll
    static void makePlan() {
        DataSet ds = TestNets.data(128, 21);
        PostTrainingQuantizer.Prepared p = PostTrainingQuantizer.prepare(TestNets.cnn(20), TestNets.iterator(ds, 32),
                PtqRecipe.defaults().withCalibrationSamples(128), 0);
        PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(p);
        net = r.network();
        plan = r.plan();
    }

    @Test
    void roundTripsThroughJsonAndFitsItsNetwork(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("plan.json");
        plan.write(f);
        QuantPlan back = QuantPlan.read(f);
        assertEquals(plan.layers(), back.layers());
        assertEquals(plan.passes(), back.passes());
        back.check(net);
        String json = Files.readString(f);
        assertTrue(json.contains("\"format\" : \"qat4j-quant-plan\"") && json.contains("\"weightScales\""), json);
        assertEquals(List.of("conv1", "conv2", "fc1", "out"), back.layers().stream().map(QuantPlan.LayerPlan::name).toList());
        QuantPlan.LayerPlan conv1 = back.layer("conv1");
        assertEquals(4, conv1.weightScales().length);
        assertEquals(0, conv1.inputMin(), 0);
        assertArrayEquals(plan.layer("fc1").weightScales(), back.layer("fc1").weightScales(), 0);
    }

    private static String error(Path dir, String from, String to) throws Exception {
        Path f = dir.resolve("bad.json");
        String json = plan.toJson();
        assertTrue(json.contains(from), "fixture: " + from);
        Files.writeString(f, json.replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to)));
        return assertThrows(IllegalArgumentException.class, () -> QuantPlan.read(f).check(net)).getMessage();
    }

    @Test
    void rejectsBadPlansNamingLayerAndField(@TempDir Path dir) throws Exception {
        String m = error(dir, "\"weightBits\" : 8", "\"weightBits\" : 17");
        assertTrue(m.contains("bad.json") && m.contains("layer 'conv1'") && m.contains("weightBits") && m.contains("17"), m);

        m = error(dir, "\"inputBits\" : 8", "\"inputBits\" : 0");
        assertTrue(m.contains("layer 'conv1'") && m.contains("inputBits"), m);

        String scale = "\"weightScales\" : [ ";
        m = error(dir, scale, scale + "-0.5, ");
        assertTrue(m.contains("layer 'conv1'") && m.contains("weightScales[0]") && m.contains("-0.5"), m);

        m = error(dir, "\"name\" : \"fc1\"", "\"name\" : \"fc9\"");
        assertTrue(m.contains("fc1") && m.contains("no entry"), m);

        m = error(dir, "\"inputScale\" : ", "\"inputScale\" : -");
        assertTrue(m.contains("layer 'conv1'") && m.contains("inputScale"), m);

        m = error(dir, "\"version\" : 1", "\"version\" : 7");
        assertTrue(m.contains("version") && m.contains("7"), m);

        m = error(dir, "\"kind\" : \"CONV\"", "\"kind\" : \"LSTM\"");
        assertTrue(m.contains("LSTM") && m.contains("layers[0].kind"), m);

        m = error(dir, "\"keepFloat\" : false", "\"keepFloat\" : false, \"colour\" : 1");
        assertTrue(m.contains("colour"), m);
    }

    @Test
    void rejectsPlansThatDoNotFitTheNetwork() {
        List<QuantPlan.LayerPlan> layers = new java.util.ArrayList<>(plan.layers());
        layers.add(plan.layer("fc1").withKeepFloat(false));
        String dup = assertThrows(IllegalArgumentException.class, () -> plan.with(layers, null)).getMessage();
        assertTrue(dup.contains("'fc1' appears twice"), dup);

        List<QuantPlan.LayerPlan> missing = plan.layers().subList(0, 3);
        String m = assertThrows(IllegalArgumentException.class, () -> plan.with(missing, null).check(net)).getMessage();
        assertTrue(m.contains("[out]"), m);

        QuantPlan.LayerPlan fc1 = plan.layer("fc1");
        List<QuantPlan.LayerPlan> wrongScales = plan.layers().stream()
                .map(l -> l.name().equals("fc1") ? l.withWeights(QuantPlan.WeightQuantizer.UNIFORM, 8, new double[] {0.1, 0.2}) : l).toList();
        m = assertThrows(IllegalArgumentException.class, () -> plan.with(wrongScales, null).check(net)).getMessage();
        assertTrue(m.contains("layer 'fc1'") && m.contains("weightScales") && m.contains("16"), m);

        assertEquals(16, fc1.weightScales().length);
    }

    @Test
    void planRecipeAndSensitivityWidthsFollowTheOneBitWidthRule() {
        QuantPlan.LayerPlan fc1 = plan.layer("fc1");
        double[] scales = fc1.weightScales();
        assertEquals(16, fc1.withWeights(QuantPlan.WeightQuantizer.UNIFORM, 16, scales).weightBits(), "16-bit weights simulate");
        assertEquals(2, fc1.withWeights(QuantPlan.WeightQuantizer.UNIFORM, 2, scales).weightBits());
        for (int bits : new int[] {1, 17}) {
            String m = assertThrows(IllegalArgumentException.class, () -> fc1.withWeights(QuantPlan.WeightQuantizer.UNIFORM, bits, scales))
                    .getMessage();
            assertTrue(m.contains("layer 'fc1'") && m.contains("'weightBits' must be 2..16") && m.contains("INT8 runtime takes at most 8")
                    && m.contains("got " + bits), m);
        }
        for (int bits : new int[] {0, 17}) {
            String m = assertThrows(IllegalArgumentException.class, () -> new QuantPlan.TensorRange(bits, false, 0, 1, 1, 0)).getMessage();
            assertTrue(m.contains("'bits' must be 1..16") && m.contains("got " + bits), m);
        }
        assertEquals(16, PtqRecipe.defaults().withBits(16, 16).weightBits());
        assertEquals(1, PtqRecipe.defaults().withBits(2, 1).inputBits());
        String w = assertThrows(IllegalArgumentException.class, () -> PtqRecipe.defaults().withBits(17, 8)).getMessage();
        assertTrue(w.contains("PtqRecipe: weightBits must be 2..16"), w);
        String i = assertThrows(IllegalArgumentException.class, () -> PtqRecipe.defaults().withBits(8, 0)).getMessage();
        assertTrue(i.contains("PtqRecipe: inputBits must be 1..16"), i);
        String l = assertThrows(IllegalArgumentException.class, () -> PtqRecipe.defaults().withLayerWeightBits(Map.of("fc1", 1))).getMessage();
        assertTrue(l.contains("layerWeightBits.fc1 must be 2..16"), l);
        String s = assertThrows(IllegalArgumentException.class, () -> new SensitivityAnalysis.Options(new int[] {2, 17}, new int[] {8},
                SensitivityAnalysis.Metric.KL, 0)).getMessage();
        assertTrue(s.contains("candidate weight bits must be 2..16"), s);
    }

    @Test
    void binaryAndTernaryEntriesCarryNoScales() {
        QuantPlan.LayerPlan l = plan.layer("conv2");
        QuantPlan.LayerPlan bin = l.withWeights(QuantPlan.WeightQuantizer.BINARY, 1, null);
        assertEquals(1, bin.weightBits());
        String m = assertThrows(IllegalArgumentException.class, () -> l.withWeights(QuantPlan.WeightQuantizer.TERNARY, 2,
                new double[] {1})).getMessage();
        assertTrue(m.contains("weightScales") && m.contains("TERNARY"), m);
        m = assertThrows(IllegalArgumentException.class, () -> l.withWeights(QuantPlan.WeightQuantizer.BINARY, 3, null)).getMessage();
        assertTrue(m.contains("'weightBits' must be 1"), m);
    }
}
