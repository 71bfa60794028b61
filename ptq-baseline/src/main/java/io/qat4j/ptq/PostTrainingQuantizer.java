package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

import io.qat4j.layers.BatchNormFolding;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.ptq.calibration.ActivationStatistics;
import io.qat4j.ptq.calibration.Calibrator;
import io.qat4j.ptq.calibration.Range;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.TernaryQuantizer;

/**
 * The PTQ baseline on a float MultiLayerNetwork, in two stages so that one calibration pass serves
 * many plans (calibrators, bit widths, allocations):
 * <ol>
 *   <li>{@link #prepare}: batch-norm folding and cross-layer equalization (if the recipe asks),
 *       then one streaming {@link Calibration} pass;</li>
 *   <li>{@link #quantize}: on a copy of the prepared network, weight scales per layer
 *       ({@link WeightRanges}), bias correction ({@link BiasCorrection}) and activation ranges
 *       from the recipe's {@link Calibrator}, written as a {@link QuantPlan}.</li>
 * </ol>
 * {@link #model} turns a result into the PTQ network (FIXED input quantizers with the calibrated
 * ranges, weights at the plan's scales), which {@code Int8Exporter} can export.
 */
public final class PostTrainingQuantizer {

    /** A prepared network and its calibration. */
    public record Prepared(MultiLayerNetwork network, Calibration calibration, List<String> passes, PtqRecipe recipe,
                           double seconds) {
    }

    /** A quantized result: the float network the plan applies to (biases corrected) and the plan. */
    public record Result(MultiLayerNetwork network, QuantPlan plan, List<String> notes) {
    }

    private PostTrainingQuantizer() {
    }

    /**
     * @param fp32       trained float network (not modified)
     * @param data       calibration data (streamed; reset first when supported)
     * @param recipe     passes and calibration settings
     * @param keepSamples samples kept in memory for sensitivity analysis (0 for none)
     */
    public static Prepared prepare(MultiLayerNetwork fp32, DataSetIterator data, PtqRecipe recipe, int keepSamples) {
        long start = System.nanoTime();
        List<String> passes = new ArrayList<>();
        MultiLayerNetwork net;
        if (recipe.foldBatchNorm()) {
            BatchNormFoldingPass.Result folded = BatchNormFoldingPass.apply(fp32);
            net = folded.network();
            passes.add("bn-fold " + folded.folded());
        } else {
            net = fp32.clone();
        }
        if (recipe.crossLayerEqualization()) {
            CrossLayerEqualization.Result cle = CrossLayerEqualization.apply(net);
            passes.add("cross-layer-equalization " + cle.pairs() + " in " + cle.sweeps() + " sweeps");
        }
        Calibration calibration = Calibration.run(net, data, recipe.calibrationSamples(), keepSamples, recipe.histogramBins());
        passes.add("calibration " + calibration.samples() + " samples");
        return new Prepared(net, calibration, Collections.unmodifiableList(passes), recipe, (System.nanoTime() - start) / 1e9);
    }

    /** Quantizes with the prepared recipe. */
    public static Result quantize(Prepared prepared) {
        return quantize(prepared, prepared.recipe());
    }

    /**
     * Quantizes a prepared network with {@code recipe}'s weight, bias-correction and calibration
     * settings (its folding/equalization settings were applied by {@link #prepare}).
     */
    public static Result quantize(Prepared prepared, PtqRecipe recipe) {
        MultiLayerNetwork net = prepared.network().clone();
        List<WeightedLayer> layers = WeightedLayer.of(net);
        for (String k : recipe.keepFloat()) {
            WeightedLayer.named(layers, k);
        }
        for (String k : recipe.layerWeightBits().keySet()) {
            WeightedLayer.named(layers, k);
        }
        Calibrator calibrator = recipe.calibration().create(recipe.percentile());
        List<String> notes = new ArrayList<>();
        List<String> passes = new ArrayList<>(prepared.passes());
        List<QuantPlan.LayerPlan> plans = new ArrayList<>();
        boolean corrected = false;
        for (WeightedLayer l : layers) {
            INDArray w = effectiveWeights(net, l);
            QuantPlan.WeightQuantizer quantizer = recipe.weightQuantizerFor(l.name());
            int bits = quantizer == QuantPlan.WeightQuantizer.UNIFORM ? recipe.weightBitsFor(l.name())
                    : quantizer == QuantPlan.WeightQuantizer.BINARY ? 1 : 2;
            double[] scales = quantizer == QuantPlan.WeightQuantizer.UNIFORM
                    ? WeightRanges.scales(w, l.outAxis(), bits, recipe.perChannel(), recipe.weightRange()) : null;
            boolean keep = recipe.keepFloat().contains(l.name());
            Calibration.LayerInputs inputs = prepared.calibration().layer(l.name());
            if (recipe.biasCorrection() && !keep) {
                if (followedByBatchNorm(net, l)) {
                    notes.add(l.name() + ": no bias correction (an unfolded batch norm follows; enable foldBatchNorm)");
                } else {
                    double[] shift = BiasCorrection.apply(net, l, quantizeWeights(w, l.outAxis(), recipe.perChannel(), quantizer, bits, scales),
                            inputs);
                    corrected = true;
                    notes.add(String.format("%s: bias corrected, max |shift| %.3g", l.name(), maxAbs(shift)));
                }
            }
            ActivationStatistics stats = inputs.statistics();
            int inputBits = recipe.inputBitsFor(l.name());
            requireSignedBits(l.name(), stats, inputBits);
            Range r = calibrator.range(stats, inputBits);
            plans.add(QuantPlan.LayerPlan.of(l.name(), l.kind(), l.weights(), quantizer, bits, recipe.perChannel(), scales,
                    inputBits, stats.signed(), r.min(), r.max(), keep, null));
        }
        if (corrected) {
            passes.add("bias-correction");
        }
        passes.add("weights " + recipe.weightQuantizer() + (recipe.weightQuantizer() == QuantPlan.WeightQuantizer.UNIFORM
                ? " " + recipe.weightRange() + (recipe.perChannel() ? " per-channel" : " per-tensor") : ""));
        passes.add("activations " + calibrator.name());
        QuantPlan plan = new QuantPlan(QuantPlan.FORMAT, QuantPlan.VERSION,
                new QuantPlan.CalibrationInfo(calibrator.name(), prepared.calibration().samples(), recipe.weightRange().name().toLowerCase()),
                passes, plans, null);
        return new Result(net, plan, Collections.unmodifiableList(notes));
    }

    /** The PTQ network of a result: FIXED inputs at the calibrated ranges, observers off, weights at the plan's scales. */
    public static QuantizedModel.Wrapped<MultiLayerNetwork> model(Result result) {
        return model(result.network(), result.plan());
    }

    /** The PTQ network of a plan applied to the float network it was made for (checked). */
    public static QuantizedModel.Wrapped<MultiLayerNetwork> model(MultiLayerNetwork network, QuantPlan plan) {
        plan.check(network);
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(network, plan.toQuantizationPlan(InputQuantMode.FIXED));
        QuantizedModel.setObserversEnabled(w.network(), false);
        return w;
    }

    /** The network to start QAT from: LSQ weight steps at the plan's scales, LSQ input steps from its ranges. */
    public static QuantizedModel.Wrapped<MultiLayerNetwork> qatStart(MultiLayerNetwork network, QuantPlan plan, InputQuantMode inputMode) {
        plan.check(network);
        return QuantizedModel.wrap(network, plan.toQuantizationPlan(inputMode));
    }

    /** The weights the quantizer sees: W, or W with a following inference batch norm folded in. */
    static INDArray effectiveWeights(MultiLayerNetwork net, WeightedLayer l) {
        if (followedByBatchNorm(net, l)) {
            return BatchNormFolding.fold(net.getLayer(l.index()), net.getLayer(l.index() + 1)).weight();
        }
        return net.getLayer(l.index()).getParam(DefaultParamInitializer.WEIGHT_KEY);
    }

    static boolean followedByBatchNorm(MultiLayerNetwork net, WeightedLayer l) {
        return l.index() + 1 < net.getnLayers() && net.getLayer(l.index() + 1).conf().getLayer() instanceof BatchNormalization;
    }

    /** Fake-quantized weights of a plan entry, as the layers module computes them. */
    static INDArray quantizeWeights(INDArray w, int outAxis, boolean perChannel, QuantPlan.WeightQuantizer quantizer, int bits,
                                    double[] scales) {
        Granularity g = perChannel ? Granularity.PER_CHANNEL : Granularity.PER_TENSOR;
        return switch (quantizer) {
            case BINARY -> new BinaryQuantizer(BinaryQuantizer.Scaling.MEAN_ABS, g, outAxis).forward(w);
            case TERNARY -> new TernaryQuantizer(g, outAxis).forward(w);
            case UNIFORM -> uniform(w, outAxis, bits, scales);
        };
    }

    /** {@code s_c clamp(rint(w / s_c), -qmax, qmax)} per output channel (or one scale). */
    static INDArray uniform(INDArray w, int outAxis, int bits, double[] scales) {
        double[] v = w.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        long[] shape = w.shape();
        long inner = 1;
        for (int d = outAxis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        int channels = (int) shape[outAxis];
        int qmax = (1 << (bits - 1)) - 1;
        for (int i = 0; i < v.length; i++) {
            double s = scales.length == 1 ? scales[0] : scales[(int) ((i / inner) % channels)];
            v[i] = s * Math.max(-qmax, Math.min(qmax, Math.rint(v[i] / s)));
        }
        return Nd4j.create(v, shape, 'c').castTo(w.dataType());
    }

    /**
     * Signed activations need at least 2 bits: a symmetric 1-bit grid holds only {0, 2t}, so every
     * value would become 0 (issue 14 #5).
     *
     * @throws IllegalArgumentException naming the layer, the observed minimum and the key to change
     */
    static void requireSignedBits(String layer, ActivationStatistics stats, int inputBits) {
        if (inputBits < 2 && stats.signed()) {
            throw new IllegalArgumentException("layer '" + layer + "': its input has negative values (minimum " + stats.min()
                    + ") and inputBits is " + inputBits + "; a 1-bit grid cannot represent signed data (a symmetric range holds "
                    + "only {0, 2t}). Use ptq.inputBits >= 2 (or a per-layer input width >= 2 for this layer)");
        }
    }

    private static double maxAbs(double[] v) {
        double m = 0;
        for (double d : v) {
            m = Math.max(m, Math.abs(d));
        }
        return m;
    }

    /** Layer names to per-layer weight bits of a plan. */
    public static Map<String, Integer> weightBits(QuantPlan plan) {
        Map<String, Integer> out = new java.util.LinkedHashMap<>();
        plan.layers().forEach(l -> out.put(l.name(), l.weightBits()));
        return out;
    }
}
