package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.ReferenceCnn;

/**
 * The PTQ policy without the training module: mixed precision chooses among measured allocations
 * (issue 18 #6), first/last-layer widths, partial quantization, and the policy's validation.
 */
class PtqPlannerTest {

    @TempDir
    Path dir;

    /** Two classes told apart by a brighter top half, [n, 1, 8, 8]. */
    static DataSet separable(int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, n, 1, 8, 8).muli(0.3);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, 2);
        for (int i = 0; i < n; i++) {
            int c = i % 2;
            y.putScalar(i, c, 1);
            if (c == 1) {
                x.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.interval(0, 4), NDArrayIndex.all()).addi(0.7);
            }
        }
        return new DataSet(x, y);
    }

    @Test
    void theAllocationKeptIsTheMostAccurateCandidateOnTheValidationSet() throws Exception {
        DataSet train = separable(600, 1);
        MultiLayerNetwork net = ReferenceCnn.build(3, new Adam(0.005), 0, 1, 8, 8, 2);
        for (int step = 0; step < 60; step++) {   // full-batch steps: a network that learned the task, so that bits matter
            net.fit(train);
        }
        assertTrue(PtqPlanner.accuracy(net, separable(200, 2)) > 0.9, "the float network learns the task");
        PtqPolicy policy = PtqPolicy.builder(PtqRecipe.defaults().withCalibrationSamples(128)).averageBits(3.0)
                .candidateBits(List.of(2, 4, 8)).sensitivitySamples(64).build();
        DataSet validation = separable(120, 3);
        List<String> log = new ArrayList<>();
        PtqPlanner.Planned run = PtqPlanner.run(net, TestNets.iterator(train, 64), validation, policy, log::add);
        QuantPlan.AllocationInfo a = run.result().plan().allocation();
        log.forEach(System.out::println);
        assertNotNull(a.candidates(), "the candidates are recorded: " + a);
        List<String> methods = a.candidates().stream().map(QuantPlan.Candidate::method).toList();
        assertEquals("exact#1", methods.get(0), methods.toString());
        assertTrue(methods.contains("uniform"), "the uniform allocation is measured too: " + methods);
        assertTrue(methods.size() <= PtqPolicy.DEFAULT_ALLOCATION_CANDIDATES + 1, methods.toString());
        // each measurement is the accuracy of that allocation's PTQ network on the validation set
        for (QuantPlan.Candidate c : a.candidates()) {
            PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(run.prepared(), policy.recipe().withLayerWeightBits(c.bits()));
            assertEquals(PtqPlanner.accuracy(PostTrainingQuantizer.quantizedModel(r).network(), validation), c.validationAccuracy(), 0,
                    c.method());
        }
        double best = a.candidates().stream().mapToDouble(QuantPlan.Candidate::validationAccuracy).max().orElseThrow();
        QuantPlan.Candidate kept = a.candidates().stream().filter(x -> x.method().equals(a.method())).findFirst().orElseThrow();
        assertEquals(best, kept.validationAccuracy(), 0, "the kept allocation is the most accurate on the validation set");
        assertEquals(a.candidates().stream().filter(x -> x.validationAccuracy() == best).findFirst().orElseThrow().method(), kept.method(),
                "ties keep the earlier, better predicted candidate");
        Map<String, Integer> planBits = run.result().plan().layers().stream()
                .collect(Collectors.toMap(QuantPlan.LayerPlan::name, QuantPlan.LayerPlan::weightBits));
        assertEquals(kept.bits(), planBits, "the plan has the kept allocation's bits");
        for (QuantPlan.Candidate x : a.candidates()) {
            assertTrue(x.costBits() <= a.budgetBits(), x + " within the budget " + a.budgetBits());
        }
        assertTrue(log.stream().anyMatch(l -> l.startsWith("allocation (exact, 3.00 average weight bits, best of " + methods.size())),
                log.toString());
        // the plan's JSON carries them (and reads back)
        Path plan = dir.resolve("plan.json");
        run.result().plan().write(plan);
        assertEquals(a.candidates(), QuantPlan.read(plan).allocation().candidates());
    }

    @Test
    void withoutAValidationSetOrWithGreedyThePredictedAllocationIsTaken() {
        MultiLayerNetwork fp32 = TestNets.cnn(61);
        DataSet cal = TestNets.data(128, 62);
        PtqPolicy.Builder b = PtqPolicy.builder(PtqRecipe.defaults().withCalibrationSamples(128)).averageBits(4.0).sensitivitySamples(64);
        for (BitAllocator.Method m : BitAllocator.Method.values()) {
            PtqPolicy policy = b.allocation(m).build();
            PostTrainingQuantizer.Prepared p = PtqPlanner.prepare(fp32, TestNets.iterator(cal, 32), policy);
            List<String> log = new ArrayList<>();
            DataSet validation = m == BitAllocator.Method.GREEDY ? TestNets.data(30, 63) : null;   // greedy never measures
            PtqPlanner.Planned run = PtqPlanner.plan(p, policy, validation, log::add);
            QuantPlan.AllocationInfo a = run.result().plan().allocation();
            assertEquals(m.id(), a.method());
            assertNull(a.candidates(), "nothing measured");
            SensitivityAnalysis.Allocated expected = SensitivityAnalysis.allocate(run.sensitivity(), WeightedLayer.of(p.model()), 4.0, m);
            assertEquals(expected.bits(), PostTrainingQuantizer.weightBits(run.result().plan()));
            assertTrue(log.contains("allocation (" + m.id() + ", 4.00 average weight bits): " + expected.bits()), log.toString());
        }
    }

    @Test
    void firstAndLastLayersGetTheirWidthAndTheMostSensitiveStayInFloat() {
        MultiLayerNetwork fp32 = TestNets.cnn(71);
        DataSet cal = TestNets.data(128, 72);
        PtqRecipe recipe = PtqRecipe.defaults().withCalibrationSamples(128).withBits(4, 4).withKeepFloat(List.of("conv2"));
        PtqPolicy policy = PtqPolicy.builder(recipe).firstLastBits(8).keepMostSensitive(1).sensitivitySamples(64).build();
        List<String> log = new ArrayList<>();
        PtqPlanner.Planned run = PtqPlanner.run(fp32, TestNets.iterator(cal, 32), null, policy, log::add);
        QuantPlan plan = run.result().plan();
        Map<String, Integer> weightBits = new LinkedHashMap<>();
        Map<String, Integer> inputBits = new LinkedHashMap<>();
        plan.layers().forEach(l -> {
            weightBits.put(l.name(), l.weightBits());
            inputBits.put(l.name(), l.inputBits());
        });
        assertEquals(Map.of("conv1", 8, "conv2", 4, "fc1", 4, "out", 8), weightBits);
        assertEquals(Map.of("conv1", 8, "conv2", 4, "fc1", 4, "out", 8), inputBits);
        // the recipe's conv2 stays in float, and the most sensitive of the others joins it
        List<String> ranked = new ArrayList<>(run.sensitivity().mostSensitive(weightBits, 4));
        ranked.remove("conv2");
        List<String> kept = plan.layers().stream().filter(QuantPlan.LayerPlan::keepFloat).map(QuantPlan.LayerPlan::name).toList();
        assertEquals(2, kept.size(), kept.toString());
        assertTrue(kept.contains("conv2") && kept.contains(ranked.get(0)), kept + " vs ranking " + ranked);
        assertTrue(log.contains("first and last layers at 8-bit weights and inputs: [conv1, out]"), log.toString());
        assertTrue(log.contains("partial quantization: keeping [" + ranked.get(0) + "] in float"), log.toString());
        // an explicit width that contradicts firstLastBits is refused, naming the layer
        PtqPolicy clash = PtqPolicy.builder(recipe.withLayerWeightBits(Map.of("out", 3))).firstLastBits(8).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PtqPlanner.plan(run.prepared(), clash, null, line -> { }));
        assertTrue(e.getMessage().contains("'out'") && e.getMessage().contains("layerWeightBits") && e.getMessage().contains("3"),
                e.getMessage());
    }

    @Test
    void thePolicyDefaultsAndRefusesWhatCannotWork() {
        PtqPolicy d = PtqPolicy.of(PtqRecipe.defaults());
        assertNull(d.averageBits());
        assertEquals(List.of(2, 3, 4, 8), d.candidateBits());
        assertEquals(BitAllocator.Method.EXACT, d.allocation());
        assertEquals(SensitivityAnalysis.Metric.KL, d.metric());
        assertEquals(256, d.sensitivitySamples());
        assertEquals(4, d.allocationCandidates());
        assertEquals(0, d.keepMostSensitive());
        assertNull(d.firstLastBits());
        assertEquals(0, d.keptSamples(), "uniform PTQ keeps no samples");
        assertEquals(256, PtqPolicy.builder(PtqRecipe.defaults()).keepMostSensitive(1).build().keptSamples());
        assertArrayEquals(new int[] {2, 4, 8}, d.sensitivityOptions().inputBits(), "inputs at 2, 4 and 8 bits (the recipe's 8 among them)");
        assertArrayEquals(new int[] {2, 3, 4, 8}, PtqPolicy.of(PtqRecipe.defaults().withBits(8, 3)).sensitivityOptions().inputBits(),
                "and at the recipe's input width");

        Object[][] bad = {
            {PtqPolicy.builder(PtqRecipe.defaults()).averageBits(1.5), "averageBits 1.5 is below the smallest candidate width"},
            {PtqPolicy.builder(PtqRecipe.defaults()).averageBits(Double.NaN), "averageBits must be finite"},
            {PtqPolicy.builder(PtqRecipe.defaults()).candidateBits(List.of(2, 17)), "candidateBits (each) must be 2..16"},
            {PtqPolicy.builder(PtqRecipe.defaults()).candidateBits(List.of()), "candidateBits must list at least one"},
            {PtqPolicy.builder(PtqRecipe.defaults()).firstLastBits(1), "firstLastBits (weights and inputs of the first and last layers) must be 2..16"},
            {PtqPolicy.builder(PtqRecipe.defaults()).firstLastBits(8).averageBits(3.0), "exclude each other"},
            {PtqPolicy.builder(PtqRecipe.defaults().withLayerWeightBits(Map.of("a", 4))).averageBits(3.0), "remove averageBits or the recipe's layerWeightBits"},
            {PtqPolicy.builder(PtqRecipe.defaults()).allocation(null), "allocation (EXACT or GREEDY)"},
            {PtqPolicy.builder(PtqRecipe.defaults()).sensitivitySamples(0), "sensitivitySamples must be >= 1"},
            {PtqPolicy.builder(PtqRecipe.defaults()).keepMostSensitive(-1), "keepMostSensitive must be >= 0"},
            {PtqPolicy.builder(PtqRecipe.defaults()).allocationCandidates(0), "allocationCandidates must be >= 1"},
            {PtqPolicy.builder(PtqRecipe.defaults()).perChannelSensitivityBits(1), "perChannelSensitivityBits (0 = skip) must be 2..16"},
            {PtqPolicy.builder(null), "recipe must be set"},
        };
        for (Object[] c : bad) {
            PtqPolicy.Builder builder = (PtqPolicy.Builder) c[0];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build, (String) c[1]);
            assertTrue(e.getMessage().startsWith("PtqPolicy: ") && e.getMessage().contains((String) c[1]), e.getMessage());
        }
    }
}
