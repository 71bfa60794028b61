package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/** BN folding, cross-layer equalization and bias correction on a small CNN. */
class PtqPassesTest {

    @Test
    void batchNormFoldingLeavesOutputsUnchanged() {
        MultiLayerNetwork net = TestNets.cnn(1);
        DataSet ds = TestNets.data(64, 2);
        BatchNormFoldingPass.Result r = BatchNormFoldingPass.apply(net);
        assertEquals(java.util.Map.of("bn1", "conv1", "bn2", "conv2"), r.folded());
        assertTrue(r.network().getLayer(1).conf().getLayer() instanceof ActivationLayer);
        INDArray before = net.output(ds.getFeatures());
        INDArray after = r.network().output(ds.getFeatures());
        // tolerance: float32 arithmetic on differently ordered products (folded weights), softmax outputs in [0, 1]
        assertTrue(TestNets.maxAbsDiff(before, after) < 1e-5, "max |diff| " + TestNets.maxAbsDiff(before, after));
        // the float pre-softmax also agrees: compare the fc1 activations
        INDArray a = net.feedForward(ds.getFeatures(), false).get(8);
        INDArray b = r.network().feedForward(ds.getFeatures(), false).get(8);
        assertTrue(TestNets.maxAbsDiff(a, b) < 1e-4 * Math.max(1, a.amaxNumber().doubleValue()));
    }

    @Test
    void crossLayerEqualizationKeepsOutputsAndEqualizesRanges() {
        MultiLayerNetwork net = BatchNormFoldingPass.apply(TestNets.cnn(3)).network();
        // make channel ranges of conv1 very unequal
        INDArray w = net.getLayer("conv1").getParam("W").dup();
        for (int c = 0; c < w.size(0); c++) {
            w.slice(c, 0).muli(Math.pow(4, c));
        }
        net.getLayer("conv1").setParam("W", w);
        INDArray b = net.getLayer("conv1").getParam("b").dup();
        for (int c = 0; c < b.length(); c++) {
            b.putScalar(c, b.getDouble(c) * Math.pow(4, c));
        }
        net.getLayer("conv1").setParam("b", b);
        DataSet ds = TestNets.data(64, 4);
        INDArray before = net.output(ds.getFeatures());
        CrossLayerEqualization.Result r = CrossLayerEqualization.apply(net);
        assertEquals(List.of("conv1->conv2", "conv2->fc1", "fc1->out"), r.pairs());
        INDArray after = net.output(ds.getFeatures());
        assertTrue(TestNets.maxAbsDiff(before, after) < 1e-5, "outputs changed by " + TestNets.maxAbsDiff(before, after));
        // equalized: r1_i == r2_i for every pair and channel (after convergence)
        List<WeightedLayer> layers = WeightedLayer.of(net);
        for (int k = 0; k + 1 < layers.size(); k++) {
            WeightedLayer la = layers.get(k);
            WeightedLayer lb = layers.get(k + 1);
            INDArray wa = net.getLayer(la.index()).getParam("W");
            INDArray wb = net.getLayer(lb.index()).getParam("W");
            int channels = (int) wa.size(la.outAxis());
            double[] w1 = wa.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            double[] w2 = wb.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            CrossLayerEqualization.ChannelView va = CrossLayerEqualization.ChannelView.output(wa.shape(), la.kind());
            CrossLayerEqualization.ChannelView vb = CrossLayerEqualization.ChannelView.input(wb.shape(), lb.kind(), channels);
            for (int c = 0; c < channels; c++) {
                double r1 = va.absMax(w1, c);
                double r2 = vb.absMax(w2, c);
                assertEquals(r1, r2, 1e-3 * Math.max(r1, r2), la.name() + "->" + lb.name() + " channel " + c);
            }
        }
    }

    @Test
    void biasCorrectionRemovesTheMeanOutputShift() {
        MultiLayerNetwork net = BatchNormFoldingPass.apply(TestNets.cnn(5)).network();
        DataSet ds = TestNets.data(200, 6);
        Calibration cal = Calibration.run(net, TestNets.iterator(ds, 50), 200, 0, 2048);
        for (String name : new String[] {"conv1", "conv2", "fc1"}) {
            WeightedLayer l = WeightedLayer.named(WeightedLayer.of(net), name);
            INDArray w = net.getLayer(l.index()).getParam("W");
            double[] scales = WeightRanges.scales(w, l.outAxis(), 3, true, WeightRangeMethod.MINMAX);
            INDArray q = PostTrainingQuantizer.uniform(w, l.outAxis(), 3, scales);

            MultiLayerNetwork uncorrected = net.clone();
            uncorrected.getLayer(l.index()).setParam("W", q);
            MultiLayerNetwork corrected = net.clone();
            BiasCorrection.apply(corrected, l, q, cal.layer(name));
            corrected.getLayer(l.index()).setParam("W", q);

            // the layer's output (identity activation) on the float network's own input to it
            INDArray in = net.feedForward(ds.getFeatures(), false).get(l.index());
            double[] fp = channelMeans(layerOut(net, l, in), l);
            double[] unc = channelMeans(layerOut(uncorrected, l, in), l);
            double[] cor = channelMeans(layerOut(corrected, l, in), l);
            double shift = 0;
            double residual = 0;
            for (int c = 0; c < fp.length; c++) {
                shift = Math.max(shift, Math.abs(unc[c] - fp[c]));
                residual = Math.max(residual, Math.abs(cor[c] - fp[c]));
            }
            assertTrue(shift > 1e-3, name + ": 3-bit weights should shift the mean output, got " + shift);
            assertTrue(residual < 1e-5 + shift * 1e-3, name + ": residual mean shift " + residual + " (uncorrected " + shift + ")");
        }
    }

    private static INDArray layerOut(MultiLayerNetwork net, WeightedLayer l, INDArray in) {
        org.deeplearning4j.nn.api.Layer layer = net.getLayer(l.index());
        INDArray x = in;
        if (l.kind() == WeightedLayer.Kind.DENSE && in.rank() == 4) {
            x = in.reshape('c', in.size(0), in.length() / in.size(0));
        }
        return layer.activate(x, false, org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces()).dup();
    }

    private static double[] channelMeans(INDArray out, WeightedLayer l) {
        INDArray m = out.rank() == 4 ? out.castTo(DataType.DOUBLE).mean(0, 2, 3) : out.castTo(DataType.DOUBLE).mean(0);
        return m.toDoubleVector();
    }

    @Test
    void weightRangeMseNeverWorseThanMinMax() {
        INDArray w = Nd4j.randn(DataType.DOUBLE, 2000, 4).muli(0.1);
        w.putScalar(0, 0, 3.0);   // an outlier in channel 0 (dense: [in, out], channel = column 0)
        for (int bits : new int[] {2, 3, 4, 8}) {
            double[] mm = WeightRanges.scales(w, 1, bits, true, WeightRangeMethod.MINMAX);
            double[] ms = WeightRanges.scales(w, 1, bits, true, WeightRangeMethod.MSE);
            double[][] groups = WeightRanges.groups(w, 1, true);
            int qmax = (1 << (bits - 1)) - 1;
            for (int c = 0; c < groups.length; c++) {
                assertTrue(WeightRanges.squaredError(groups[c], ms[c], qmax) <= WeightRanges.squaredError(groups[c], mm[c], qmax) + 1e-15);
                double max = java.util.Arrays.stream(groups[c]).map(Math::abs).max().orElseThrow();
                assertEquals(max / qmax, mm[c], 1e-12);
            }
            if (bits <= 4) {
                assertTrue(ms[0] < mm[0], "MSE clips the outlier channel at " + bits + " bits");
            }
        }
    }
}
