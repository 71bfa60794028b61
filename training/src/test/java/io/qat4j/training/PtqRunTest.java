package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.datasets.DataSplits;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.ptq.BitAllocator;
import io.qat4j.ptq.PtqPlanner;
import io.qat4j.ptq.PtqPolicy;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.ptq.SensitivityAnalysis;
import io.qat4j.ptq.WeightRangeMethod;
import io.qat4j.ptq.calibration.CalibrationMethod;
import io.qat4j.training.config.ConfigLoader;
import io.qat4j.training.config.RunConfig;

/**
 * PtqRun is a thin adapter: the {@code ptq} section becomes ptq-baseline's {@link PtqPolicy} key by
 * key, and a configured run plans exactly what {@link PtqPlanner} plans on the same examples
 * (the policy itself is tested in ptq-baseline's PtqPlannerTest).
 */
class PtqRunTest {

    @TempDir
    Path dir;

    private RunConfig.Ptq ptq(String section) throws Exception {
        return ConfigLoader.load(Files.writeString(dir.resolve("c.yaml"), "name: x\nfp32: a.zip\nptq: " + section + "\n")).ptq();
    }

    @Test
    void theSectionBecomesThePolicyKeyByKey() throws Exception {
        PtqPolicy p = ptq("{averageBits: 3.5, candidateBits: [2, 4, 8], allocation: Greedy, metric: MSE, sensitivitySamples: 64, "
                + "perChannelSensitivityBits: 4, keepMostSensitive: 1, weightBits: 4, inputBits: 6, calibration: Moving-Average, "
                + "weightRange: mse, samples: 100, percentile: 99.9, perChannel: false, crossLayerEqualization: true, "
                + "biasCorrection: false, foldBatchNorm: false, adaRound: {iterations: 5}}").policy();
        assertEquals(3.5, p.averageBits());
        assertEquals(List.of(2, 4, 8), p.candidateBits());
        assertEquals(BitAllocator.Method.GREEDY, p.allocation());
        assertEquals(SensitivityAnalysis.Metric.MSE, p.metric());
        assertEquals(64, p.sensitivitySamples());
        assertEquals(4, p.perChannelSensitivityBits());
        assertEquals(1, p.keepMostSensitive());
        assertEquals(PtqPolicy.DEFAULT_ALLOCATION_CANDIDATES, p.allocationCandidates());
        assertEquals(4, p.recipe().weightBits());
        assertEquals(6, p.recipe().inputBits());
        assertEquals(CalibrationMethod.MOVING_AVERAGE, p.recipe().calibration());
        assertEquals(WeightRangeMethod.MSE, p.recipe().weightRange());
        assertEquals(100, p.recipe().calibrationSamples());
        assertEquals(99.9, p.recipe().percentile());
        assertEquals(List.of(false, true, false, false), List.of(p.recipe().perChannel(), p.recipe().crossLayerEqualization(),
                p.recipe().biasCorrection(), p.recipe().foldBatchNorm()));
        assertEquals(5, p.recipe().adaRound().iterations());
        assertEquals(Map.of(), p.recipe().layerWeightBits());
        PtqPolicy defaults = ptq("{}").policy();
        assertEquals(PtqPolicy.of(io.qat4j.ptq.PtqRecipe.defaults()), defaults, "the section's defaults are the library's");
        assertEquals(8, ptq("{firstLastBits: 8}").policy().firstLastBits());
    }

    @Test
    void aConfiguredRunPlansWhatThePlannerPlansOnTheSameExamples() throws Exception {
        DataSet train = FloatTrainingTest.separable(300, 1);
        MultiLayerNetwork net = ReferenceCnn.build(3, new Adam(0.005), 0, 1, 8, 8, 2);
        for (int step = 0; step < 10; step++) {
            net.fit(train);
        }
        RunConfig.Ptq p = ptq("{averageBits: 3.0, candidateBits: [2, 4, 8], samples: 96, sensitivitySamples: 32}");
        StringWriter log = new StringWriter();
        PtqPlanner.Planned viaConfig = PtqRun.run(net, train, p, new PrintWriter(log, true));
        DataSet head = DataSplits.head(train, 96);
        List<String> lines = new ArrayList<>();
        PtqPlanner.Planned direct = PtqPlanner.run(net, new ListDataSetIterator<>(head.batchBy(64), 64), DataSplits.validationTail(train),
                p.policy(), lines::add);
        QuantPlan a = viaConfig.result().plan();
        assertNotNull(a.allocation().candidates(), "measured on the validation tail: " + log);
        assertEquals(direct.result().plan().toJson(), a.toJson());
        assertTrue(log.toString().contains("(60 samples)"), "the last 300 / 5 training examples: " + log);
        assertEquals(lines.size(), log.toString().lines().count(), "the same progress lines: " + log);
    }

    @Test
    void theChoiceSplitIsTheValidationSetOrTheTrainingTailNeverTheTestSet() {
        DataSet train = FloatTrainingTest.separable(50, 1);
        DataSet validation = FloatTrainingTest.separable(10, 2);
        DataSet test = FloatTrainingTest.separable(20, 3);
        RunConfig.Ptq mixed = RunConfig.Ptq.builder().averageBits(3.0).build();
        StringWriter log = new StringWriter();
        assertSame(validation, PtqRun.choiceSplit(new RunData("X", "x", train, validation, test, false), mixed,
                new PrintWriter(log, true)));
        assertEquals("", log.toString());
        DataSet tail = PtqRun.choiceSplit(new RunData("X", "x", train, test, test, false), mixed, new PrintWriter(log, true));
        assertEquals(10, tail.numExamples());
        assertEquals(train.getFeatures().getDouble(49, 0, 3, 3), tail.getFeatures().getDouble(9, 0, 3, 3), 0, "the last training example");
        assertTrue(log.toString().startsWith("note: data.validationFraction is 0"), log.toString());
    }
}
