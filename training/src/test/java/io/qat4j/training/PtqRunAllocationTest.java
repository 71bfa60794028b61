package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.ReferenceCnn;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.training.config.ConfigLoader;
import io.qat4j.training.config.RunConfig;

/**
 * Mixed precision chooses among measured allocations (issue 18 #6): the allocations of least
 * predicted sensitivity and the uniform one are quantized and measured on a validation split of the
 * training data; the plan keeps the most accurate and records every candidate's prediction and
 * measurement.
 */
class PtqRunAllocationTest {

    @TempDir
    Path dir;

    @Test
    void theAllocationKeptIsTheMostAccurateCandidateOnTheValidationSplit() throws Exception {
        DataSet train = FloatTrainingTest.separable(600, 1);
        MultiLayerNetwork net = ReferenceCnn.build(3, new Adam(0.005), 0, 1, 8, 8, 2);
        for (int step = 0; step < 60; step++) {   // full-batch steps: a network that learned the task, so that bits matter
            net.fit(train);
        }
        assertTrue(Trainer.accuracy(net, FloatTrainingTest.separable(200, 2)) > 0.9, "the float network learns the task");
        Path cfg = Files.writeString(dir.resolve("c.yaml"), "name: x\nfp32: a.zip\n"
                + "ptq: {averageBits: 3.0, candidateBits: [2, 4, 8], samples: 128, sensitivitySamples: 64}\n");
        RunConfig c = ConfigLoader.load(cfg);
        StringWriter log = new StringWriter();
        PtqRun run = PtqRun.run(net, train, c.ptq(), new PrintWriter(log, true));
        QuantPlan.AllocationInfo a = run.result().plan().allocation();
        System.out.print(log);
        assertNotNull(a.candidates(), "the candidates are recorded: " + a);
        List<String> methods = a.candidates().stream().map(QuantPlan.Candidate::method).toList();
        assertEquals("exact#1", methods.get(0), methods.toString());
        assertTrue(methods.contains("uniform"), "the uniform allocation is measured too: " + methods);
        double best = a.candidates().stream().mapToDouble(QuantPlan.Candidate::validationAccuracy).max().orElseThrow();
        QuantPlan.Candidate kept = a.candidates().stream().filter(x -> x.method().equals(a.method())).findFirst().orElseThrow();
        assertEquals(best, kept.validationAccuracy(), 0, "the kept allocation is the most accurate on the validation split");
        Map<String, Integer> planBits = run.result().plan().layers().stream()
                .collect(Collectors.toMap(QuantPlan.LayerPlan::name, QuantPlan.LayerPlan::weightBits));
        assertEquals(kept.bits(), planBits, "the plan has the kept allocation's bits");
        for (QuantPlan.Candidate x : a.candidates()) {
            assertTrue(x.costBits() <= a.budgetBits(), x + " within the budget " + a.budgetBits());
        }
        // the plan's JSON carries them (and reads back)
        Path plan = dir.resolve("plan.json");
        run.result().plan().write(plan);
        assertEquals(a.candidates(), QuantPlan.read(plan).allocation().candidates());
    }
}
