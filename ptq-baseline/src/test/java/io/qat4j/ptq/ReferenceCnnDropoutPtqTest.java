package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.ReferenceCnn;
import io.qat4j.ptq.calibration.CalibrationMethod;

/**
 * The widened reference CNN (three blocks, dropout on the dense and output inputs) goes through every
 * PTQ pass (BN folding, cross-layer equalization, bias correction, each weight range, calibration,
 * AdaRound, sensitivity and bit allocation) exactly as its twin without dropout: dropout is the
 * identity at inference, so the plans and the quantized networks are the same.
 */
class ReferenceCnnDropoutPtqTest {

    private static final ReferenceCnn.Options DROPOUT = new ReferenceCnn.Options(List.of(4, 6, 8), 12, 0.3);

    /** The network with dropout, trained a little (so BN statistics and weights are not the initial ones), and its twin. */
    private static MultiLayerNetwork[] pair(DataSet train) {
        MultiLayerNetwork drop = ReferenceCnn.build(5, new Adam(5e-3), 0, 1, 9, 9, 3, DROPOUT);
        for (int step = 0; step < 5; step++) {
            drop.fit(train);
        }
        MultiLayerNetwork twin = ReferenceCnn.build(5, new Adam(5e-3), 0, 1, 9, 9, 3,
                new ReferenceCnn.Options(DROPOUT.channels(), DROPOUT.dense(), 0));
        twin.setParams(drop.params().dup());
        return new MultiLayerNetwork[] {drop, twin};
    }

    @Test
    void everyPassPlansTheNetworkWithDropoutAsItsTwinWithout() {
        DataSet train = TestNets.data(96, 81);
        MultiLayerNetwork[] nets = pair(train);
        DataSet probe = TestNets.data(20, 82);
        List<PtqRecipe> recipes = List.of(
                PtqRecipe.defaults().withCalibrationSamples(64),
                PtqRecipe.defaults().withCalibrationSamples(64).withPasses(true, true, true).withWeightRange(WeightRangeMethod.MSE)
                        .withCalibration(CalibrationMethod.ENTROPY).withBits(4, 8),
                PtqRecipe.defaults().withCalibrationSamples(64).withCalibration(CalibrationMethod.MSE)
                        .withAdaRound(new AdaRound.Settings(20, 0.01, 256, 0.01, 0.2, 32, 0)).withBits(4, 8));
        for (PtqRecipe recipe : recipes) {
            PostTrainingQuantizer.Result[] r = new PostTrainingQuantizer.Result[2];
            for (int k = 0; k < 2; k++) {
                r[k] = PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(nets[k], TestNets.iterator(train, 32), recipe, 0));
            }
            assertEquals(r[1].plan().toJson(), r[0].plan().toJson(), "plan of " + recipe);
            assertEquals(List.of("conv1", "conv2", "conv3", "fc1", "out"), r[0].plan().layers().stream().map(QuantPlan.LayerPlan::name).toList());
            MultiLayerNetwork q = PostTrainingQuantizer.model(r[0]).network();
            MultiLayerNetwork qTwin = PostTrainingQuantizer.model(r[1]).network();
            assertEquals(qTwin.output(probe.getFeatures(), false), q.output(probe.getFeatures(), false), "quantized network of " + recipe);
        }
        // sensitivity analysis and the bit allocation
        PtqPolicy mixed = PtqPolicy.builder(PtqRecipe.defaults().withCalibrationSamples(64)).averageBits(4.0).candidateBits(List.of(2, 4, 8))
                .sensitivitySamples(32).build();
        List<String> log = new ArrayList<>();
        PtqPlanner.Planned a = PtqPlanner.run(nets[0], TestNets.iterator(train, 32), null, mixed, log::add);
        PtqPlanner.Planned b = PtqPlanner.run(nets[1], TestNets.iterator(train, 32), null, mixed, s -> { });
        assertEquals(b.result().plan().toJson(), a.result().plan().toJson(), "mixed-precision plan");
        assertTrue(a.result().plan().allocation() != null, log.toString());
    }
}
