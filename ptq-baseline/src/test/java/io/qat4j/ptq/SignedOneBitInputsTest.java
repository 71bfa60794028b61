package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Issue 14 #5: `ptq: {inputBits: 1}` on signed inputs. A symmetric range on a 1-bit grid holds only
 * {0, 2t}, so every input became 0 (PTQ 45% vs 100%, export agreeing on 34%); now it is an error
 * naming the layer, whatever the calibrator, and a per-layer width of 1 on a signed hidden input too.
 */
class SignedOneBitInputsTest {

    /** The test images shifted to [-0.5, 0.5): the network input is signed. */
    private static DataSet signed(int n, long seed) {
        DataSet d = TestNets.data(n, seed);
        d.getFeatures().subi(0.5);
        return d;
    }

    @Test
    void oneBitInputsOnSignedDataAreRefusedNamingTheLayer() {
        MultiLayerNetwork fp32 = TestNets.cnn(1);
        DataSet cal = signed(128, 2);
        for (io.qat4j.ptq.calibration.CalibrationMethod m : io.qat4j.ptq.calibration.CalibrationMethod.values()) {
            PtqRecipe recipe = PtqRecipe.defaults().withBits(8, 1).withCalibration(m).withCalibrationSamples(128);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), recipe, 0)),
                    m.toString());
            assertTrue(e.getMessage().contains("'conv1'") && e.getMessage().contains("inputBits >= 2")
                    && e.getMessage().contains("minimum -"), e.getMessage());
        }
    }

    @Test
    void aOneBitWidthOnOneLayerIsCheckedAgainstThatLayersData() {
        // unsigned data after ReLU may take 1 bit ({0, t}); the signed network input may not
        MultiLayerNetwork fp32 = TestNets.cnn(1);
        DataSet cal = signed(128, 3);
        PtqRecipe hiddenOneBit = PtqRecipe.defaults().withBits(8, 8).withLayerInputBits(Map.of("fc1", 1)).withCalibrationSamples(128);
        PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), hiddenOneBit, 0));
        PtqRecipe firstOneBit = PtqRecipe.defaults().withBits(8, 8).withLayerInputBits(Map.of("conv1", 1)).withCalibrationSamples(128);
        assertThrows(IllegalArgumentException.class,
                () -> PostTrainingQuantizer.quantize(PostTrainingQuantizer.prepare(fp32, TestNets.iterator(cal, 64), firstOneBit, 0)));
    }
}
