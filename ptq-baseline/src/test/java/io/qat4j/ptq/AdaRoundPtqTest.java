package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.export.Int8Exporter;
import io.qat4j.runtime.Int8Model;

/**
 * AdaRound as a PTQ pass ({@link PtqRecipe#adaRound()}): on the miniature reference CNN at 3-bit
 * weights, the PTQ network with learned rounding is closer to the float network on held-out inputs
 * than with nearest rounding and bias correction; its weights lie on the plan's grid (so the plan
 * and the integer export reproduce the learned codes), and the integer model agrees with it.
 */
class AdaRoundPtqTest {

    private static double meanSquaredDiff(INDArray a, INDArray b) {
        INDArray d = a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE));
        return d.mul(d).meanNumber().doubleValue();
    }

    @Test
    void learnedRoundingBringsThePtqNetworkCloserToFloatAndExportsExactly() {
        MultiLayerNetwork fp32 = TestNets.cnn(5);
        DataSet calib = TestNets.data(256, 6);
        DataSet held = TestNets.data(400, 7);
        PtqRecipe nearest = PtqRecipe.defaults().withBits(3, 8).withCalibrationSamples(256);
        PtqRecipe learned = nearest.withAdaRound(AdaRound.Settings.defaults().withIterations(400));

        PostTrainingQuantizer.Prepared prepared = PostTrainingQuantizer.prepare(fp32, TestNets.iterator(calib, 64), learned, 0);
        PostTrainingQuantizer.Result rn = PostTrainingQuantizer.quantize(prepared, nearest.withPasses(true, false, false));
        PostTrainingQuantizer.Result rb = PostTrainingQuantizer.quantize(prepared, nearest);
        PostTrainingQuantizer.Result ra = PostTrainingQuantizer.quantize(prepared, learned);
        INDArray x = held.getFeatures();
        MultiLayerNetwork linear = fp32.clone();   // the float logits: the output layer without its softmax
        ((org.deeplearning4j.nn.conf.layers.BaseLayer) linear.getLayer("out").conf().getLayer())
                .setActivationFn(new org.nd4j.linalg.activations.impl.ActivationIdentity());
        INDArray logits = linear.output(x, false);
        Model qa = PostTrainingQuantizer.quantizedModel(ra).network();
        double en = meanSquaredDiff(Int8Exporter.fakeQuantLogits(PostTrainingQuantizer.quantizedModel(rn).network(), x), logits);
        double eb = meanSquaredDiff(Int8Exporter.fakeQuantLogits(PostTrainingQuantizer.quantizedModel(rb).network(), x), logits);
        double ea = meanSquaredDiff(Int8Exporter.fakeQuantLogits(qa, x), logits);
        System.out.printf("W3A8 PTQ of the miniature CNN, held-out logit MSE vs float: nearest %.3g, nearest + bias correction %.3g, "
                + "AdaRound %.3g; %s%n", en, eb, ea, ra.notes());
        assertTrue(ra.plan().passes().stream().anyMatch(p -> p.startsWith("adaround")), ra.plan().passes().toString());
        assertTrue(ea < 0.7 * en, "AdaRound should bring the PTQ network closer to float than nearest rounding: " + ea + " vs " + en);

        // every rounded weight sits on the plan's grid: W / s is an integer code
        NetworkView view = NetworkView.of(ra.model());
        for (QuantPlan.LayerPlan lp : ra.plan().layers()) {
            INDArray w = view.layer(lp.name()).getParam("W").castTo(DataType.DOUBLE);
            double[] v = w.dup('c').data().asDouble();
            long channels = lp.weightScales().length;
            long inner = lp.kind() == WeightedLayer.Kind.CONV ? w.length() / w.size(0) : 1;
            for (int i = 0; i < v.length; i++) {
                int c = (int) (lp.kind() == WeightedLayer.Kind.CONV ? i / inner : i % w.size(1));
                double code = v[i] / lp.weightScales()[channels == 1 ? 0 : c];
                assertEquals(Math.rint(code), code, 1e-3, lp.name() + ": weight " + i + " off the grid");
            }
        }

        // the integer model of the AdaRound network agrees with its fake-quant network
        Int8Model model = new Int8Model(Int8Exporter.export(qa, calib.getFeatures()).graph());
        int[] predicted = model.predict(x.castTo(DataType.FLOAT).dup('c').data().asFloat(), x.shape());
        INDArray fq = Int8Exporter.fakeQuantLogits(qa, x);
        int agree = 0;
        for (int i = 0; i < predicted.length; i++) {
            agree += predicted[i] == fq.getRow(i).argMax().getInt(0) ? 1 : 0;
        }
        assertTrue(agree >= 0.99 * predicted.length, "INT8 vs fake quant argmax agreement " + agree + " of " + predicted.length);
    }
}
