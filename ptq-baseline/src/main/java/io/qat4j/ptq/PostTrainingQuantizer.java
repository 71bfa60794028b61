package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

import io.qat4j.layers.BatchNormFolding;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.ptq.calibration.ActivationStatistics;
import io.qat4j.ptq.calibration.Calibrator;
import io.qat4j.ptq.calibration.Range;
import io.qat4j.ste.BinaryQuantizer;
import io.qat4j.ste.Granularity;
import io.qat4j.ste.TernaryQuantizer;

/**
 * The PTQ baseline on a float MultiLayerNetwork or ComputationGraph (one code path for both,
 * through {@link NetworkView}), in two stages so that one calibration pass serves many plans
 * (calibrators, bit widths, allocations):
 * <ol>
 *   <li>{@link #prepare}: batch-norm folding and cross-layer equalization (if the recipe asks),
 *       then one streaming {@link Calibration} pass;</li>
 *   <li>{@link #quantize}: on a copy of the prepared network, weight scales per layer and weight
 *       tensor ({@link WeightRanges}; a separable convolution's depthwise and pointwise kernels each
 *       get their own at the layer's one width), bias correction ({@link BiasCorrection}) and
 *       activation ranges from the recipe's {@link Calibrator} for every weighted layer's input and
 *       for every tensor (a separable convolution's mid tensor {@code <layer>/mid} at the layer's
 *       input width), written as a {@link QuantPlan}.</li>
 * </ol>
 * {@link #quantizedModel} turns a result into the PTQ network (FIXED input quantizers with the
 * calibrated ranges, weights at the plan's scales), which {@code Int8Exporter} can export.
 */
public final class PostTrainingQuantizer {

    /**
     * A prepared network (same kind as the input: MultiLayerNetwork or ComputationGraph) and its calibration.
     *
     * @param model the float network after the recipe's folding and equalization
     */
    public record Prepared(Model model, Calibration calibration, List<String> passes, PtqRecipe recipe, double seconds) {

        /** The prepared MultiLayerNetwork; an error when it is a ComputationGraph (read {@link #model()} then). */
        public MultiLayerNetwork network() {
            return NetworkView.multiLayer(model, "PostTrainingQuantizer.Prepared");
        }

        /** The prepared ComputationGraph; an error when it is a MultiLayerNetwork. */
        public ComputationGraph graph() {
            return NetworkView.graph(model, "PostTrainingQuantizer.Prepared");
        }
    }

    /**
     * A quantized result: the float network the plan applies to (biases corrected; same kind as the
     * input) and the plan.
     */
    public record Result(Model model, QuantPlan plan, List<String> notes) {

        /** The float MultiLayerNetwork the plan applies to; an error when it is a ComputationGraph (read {@link #model()} then). */
        public MultiLayerNetwork network() {
            return NetworkView.multiLayer(model, "PostTrainingQuantizer.Result");
        }

        /** The float ComputationGraph the plan applies to; an error when it is a MultiLayerNetwork. */
        public ComputationGraph graph() {
            return NetworkView.graph(model, "PostTrainingQuantizer.Result");
        }
    }

    private PostTrainingQuantizer() {
    }

    /**
     * @param fp32        trained float MultiLayerNetwork or ComputationGraph with one input (not modified)
     * @param data        calibration data (streamed; reset first when supported)
     * @param recipe      passes and calibration settings
     * @param keepSamples samples kept in memory for sensitivity analysis (0 for none)
     */
    public static Prepared prepare(Model fp32, DataSetIterator data, PtqRecipe recipe, int keepSamples) {
        long start = System.nanoTime();
        List<String> passes = new ArrayList<>();
        Model net;
        if (recipe.foldBatchNorm()) {
            BatchNormFoldingPass.Result folded = BatchNormFoldingPass.apply(fp32);
            net = folded.model();
            passes.add("bn-fold " + folded.folded());
        } else {
            net = NetworkView.of(fp32).copy();
        }
        if (recipe.crossLayerEqualization()) {
            CrossLayerEqualization.Result cle = CrossLayerEqualization.apply(net);
            passes.add("cross-layer-equalization " + cle.pairs() + " in " + cle.sweeps() + " sweeps");
        }
        int keep = recipe.adaRound() == null ? keepSamples
                : Math.max(keepSamples, Math.min(recipe.adaRound().samples(), recipe.calibrationSamples()));
        Calibration calibration = Calibration.run(net, data, recipe.calibrationSamples(), keep, recipe.histogramBins());
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
        NetworkView net = NetworkView.of(NetworkView.of(prepared.model()).copy());
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
            Map<WeightedLayer.Tensor, INDArray> w = effectiveWeights(net, l);
            QuantPlan.WeightQuantizer quantizer = recipe.weightQuantizerFor(l.name());
            int bits = quantizer == QuantPlan.WeightQuantizer.UNIFORM ? recipe.weightBitsFor(l.name())
                    : quantizer == QuantPlan.WeightQuantizer.BINARY ? 1 : 2;
            Map<WeightedLayer.Tensor, double[]> scales = new EnumMap<>(WeightedLayer.Tensor.class);
            if (quantizer == QuantPlan.WeightQuantizer.UNIFORM) {
                for (WeightedLayer.Tensor t : l.tensors()) {
                    scales.put(t, WeightRanges.scales(w.get(t), l.outAxis(t), bits, recipe.perChannel(), recipe.weightRange()));
                }
            }
            boolean keep = recipe.keepFloat().contains(l.name());
            Calibration.LayerInputs inputs = prepared.calibration().layer(l.name());
            boolean adaRounded = recipe.adaRound() != null && quantizer == QuantPlan.WeightQuantizer.UNIFORM
                    && (l.kind() == WeightedLayer.Kind.CONV || l.kind() == WeightedLayer.Kind.DENSE);   // AdaRound.apply's layers
            if (recipe.biasCorrection() && !keep && !adaRounded) {
                if (followedByBatchNorm(net, l)) {
                    notes.add(l.name() + ": no bias correction (an unfolded batch norm follows; enable foldBatchNorm)");
                } else {
                    Map<WeightedLayer.Tensor, INDArray> q = new EnumMap<>(WeightedLayer.Tensor.class);
                    for (WeightedLayer.Tensor t : l.tensors()) {
                        q.put(t, quantizeWeights(w.get(t), l.outAxis(t), recipe.perChannel(), quantizer, bits, scales.get(t)));
                    }
                    double[] shift = BiasCorrection.apply(net, l, q, inputs);
                    corrected = true;
                    notes.add(String.format("%s: bias corrected, max |shift| %.3g", l.name(), maxAbs(shift)));
                }
            }
            ActivationStatistics stats = inputs.statistics();
            int inputBits = recipe.inputBitsFor(l.name());
            requireSignedBits(l.name(), stats, inputBits);
            if (l.kind() == WeightedLayer.Kind.SEPARABLE) {   // its mid quantizer has the layer's input width
                requireSignedBits(l.midTensor(), prepared.calibration().tensor(l.midTensor()), inputBits);
            }
            Range r = calibrator.range(stats, inputBits);
            plans.add(QuantPlan.LayerPlan.of(l.name(), l.kind(), l.weights(), quantizer, bits, recipe.perChannel(),
                    scales.get(WeightedLayer.Tensor.WEIGHTS), scales.get(WeightedLayer.Tensor.POINTWISE), inputBits, stats.signed(),
                    r.min(), r.max(), keep, null));
        }
        Map<String, QuantPlan.TensorRange> tensors = tensorRanges(net, prepared.calibration(), recipe, calibrator, notes);
        if (corrected) {
            passes.add("bias-correction");
        }
        passes.add("weights " + recipe.weightQuantizer() + (recipe.weightQuantizer() == QuantPlan.WeightQuantizer.UNIFORM
                ? " " + recipe.weightRange() + (recipe.perChannel() ? " per-channel" : " per-tensor") : ""));
        passes.add("activations " + calibrator.name());
        QuantPlan.CalibrationInfo info = new QuantPlan.CalibrationInfo(calibrator.name(), prepared.calibration().samples(),
                recipe.weightRange().name().toLowerCase());
        QuantPlan plan = new QuantPlan(QuantPlan.FORMAT, QuantPlan.VERSION, info, passes, plans, null, tensors);
        if (recipe.adaRound() != null) {
            AdaRound.Settings a = recipe.adaRound();
            INDArray kept = prepared.calibration().kept();
            if (kept == null) {
                throw new IllegalArgumentException("AdaRound needs calibration samples kept in memory; call PostTrainingQuantizer.prepare with "
                        + "keepSamples >= 1 (it keeps the recipe's adaRound.samples = " + a.samples() + " by itself)");
            }
            INDArray x = kept.size(0) > a.samples() ? kept.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, a.samples())) : kept;
            notes.addAll(AdaRound.apply(net, plan, x, a));
            passes.add(String.format("adaround %d iterations, lambda %s, %d samples (instead of bias correction)", a.iterations(),
                    a.regularization(), x.size(0)));
            plan = new QuantPlan(QuantPlan.FORMAT, QuantPlan.VERSION, info, passes, plans, null, tensors);
        }
        return new Result(net.model(), plan, Collections.unmodifiableList(notes));
    }

    /**
     * The range of every calibrated tensor at its width: the common input width of the tensor's
     * weighted consumers when it has some and they agree, else the recipe's {@code inputBits}; a
     * separable convolution's mid tensor at that layer's input width (its mid quantizer's). A
     * signed tensor at 1 bit gets no range (a 1-bit grid cannot hold signed data), with a note; a
     * weighted layer reading it has already failed in {@link #requireSignedBits}.
     */
    private static Map<String, QuantPlan.TensorRange> tensorRanges(NetworkView net, Calibration calibration, PtqRecipe recipe,
                                                                   Calibrator calibrator, List<String> notes) {
        Map<String, String> mids = new LinkedHashMap<>();   // mid tensor -> its separable layer
        for (WeightedLayer l : WeightedLayer.of(net)) {
            if (l.kind() == WeightedLayer.Kind.SEPARABLE) {
                mids.put(l.midTensor(), l.name());
            }
        }
        Map<String, QuantPlan.TensorRange> out = new LinkedHashMap<>();
        for (Map.Entry<String, ActivationStatistics> e : calibration.tensors().entrySet()) {
            java.util.Set<Integer> widths = new java.util.TreeSet<>();
            if (mids.containsKey(e.getKey())) {
                widths.add(recipe.inputBitsFor(mids.get(e.getKey())));
            } else {
                for (String c : net.consumers(e.getKey())) {
                    if (WeightedLayer.kindOf(net.vertex(c).layer()) != null) {
                        widths.add(recipe.inputBitsFor(c));
                    }
                }
            }
            int bits = widths.size() == 1 ? widths.iterator().next() : recipe.inputBits();
            ActivationStatistics stats = e.getValue();
            if (stats.signed() && bits < 2) {
                notes.add("tensor '" + e.getKey() + "': no range (signed values, minimum " + stats.min() + ", at " + bits + " bit)");
                continue;
            }
            Range r = calibrator.range(stats, bits);
            out.put(e.getKey(), QuantPlan.TensorRange.of(bits, stats.signed(), r.min(), r.max()));
        }
        return out;
    }

    /**
     * The PTQ network of a MultiLayerNetwork result: FIXED inputs at the calibrated ranges,
     * observers off, weights at the plan's scales, and the activation quantizers graph-mode
     * preparation places (Add and concat inputs, shared tensors, pooling and activation inputs) at
     * their tensors' calibrated ranges ({@link QuantPlan#toQuantizationPlan(InputQuantMode, QuantizedModel.Wrapped)}).
     * For a result of any kind use {@link #quantizedModel(Result)}.
     *
     * @throws IllegalStateException    when the result holds a ComputationGraph
     * @throws IllegalArgumentException when a layer's LeakyReLU/lookup activation must run on int8
     *                                  pre-activations that calibration never saw (see {@link #model(Model, QuantPlan)})
     */
    public static QuantizedModel.Wrapped<MultiLayerNetwork> model(Result result) {
        return model(result.network(), result.plan());
    }

    /** The PTQ network of a result of either kind (see {@link #model(Result)}). */
    public static QuantizedModel.Wrapped<? extends Model> quantizedModel(Result result) {
        return model(result.model(), result.plan());
    }

    /** The PTQ network of a plan applied to the float MultiLayerNetwork it was made for (checked). */
    public static QuantizedModel.Wrapped<MultiLayerNetwork> model(MultiLayerNetwork network, QuantPlan plan) {
        return observersOff(ranged(placed(network, plan, InputQuantMode.FIXED, p -> QuantizedModel.wrap(network, p))));
    }

    /** The PTQ network of a plan applied to the float ComputationGraph it was made for (checked). */
    public static QuantizedModel.Wrapped<ComputationGraph> model(ComputationGraph network, QuantPlan plan) {
        return observersOff(ranged(placed(network, plan, InputQuantMode.FIXED, p -> QuantizedModel.wrap(network, p))));
    }

    /**
     * The PTQ network of a plan applied to the float network (either kind) it was made for (checked).
     *
     * @throws IllegalArgumentException when wrap split a LeakyReLU/lookup activation off a weighted
     *                                  layer: the integer model applies it to the layer's int8
     *                                  pre-activations, whose range PTQ never calibrated (the float
     *                                  network computes them inside the layer); the message names the
     *                                  layer and the fix (an identity activation followed by an
     *                                  ActivationLayer, or QAT from the plan)
     */
    public static QuantizedModel.Wrapped<? extends Model> model(Model network, QuantPlan plan) {
        return observersOff(ranged(placed(network, plan, InputQuantMode.FIXED, p -> wrap(network, p))));
    }

    private static <W extends QuantizedModel.Wrapped<?>> W observersOff(W w) {
        QuantizedModel.setObserversEnabled(w.network(), false);
        return w;
    }

    /** {@code w}, after checking that every quantizer has a range. */
    private static <W extends QuantizedModel.Wrapped<?>> W ranged(W w) {
        Map<String, String> unranged = QuantPlan.unranged(w);
        if (!unranged.isEmpty()) {
            Map.Entry<String, String> e = unranged.entrySet().iterator().next();
            throw new IllegalArgumentException("layer '" + e.getValue() + "': its activation runs in the integer model on int8 "
                    + "pre-activations (a LeakyReLU node or a 256-entry table; quantizer '" + e.getKey() + "'), and PTQ has no range for "
                    + "them: the float network computes them inside the layer, so calibration never saw them" + (unranged.size() > 1
                    ? " (also " + new ArrayList<>(unranged.values()).subList(1, unranged.size()) + ")" : "") + ". Give the layer an "
                    + "identity activation followed by an ActivationLayer with its activation and run PTQ again, or start QAT from the "
                    + "plan (its LSQ quantizer takes a step from the first training batch)");
        }
        return w;
    }

    /**
     * Wraps {@code network} with the plan's layer settings to see where graph-mode preparation
     * places quantizers, then, if it placed any, again with their tensors' ranges.
     */
    private static <W extends QuantizedModel.Wrapped<?>> W placed(Model network, QuantPlan plan, InputQuantMode inputMode,
                                                                  java.util.function.Function<QuantizationPlan, W> wrap) {
        plan.check(network);
        W placement = wrap.apply(plan.toQuantizationPlan(inputMode));
        return placement.insertedQuantizers().isEmpty() ? placement : wrap.apply(plan.toQuantizationPlan(inputMode, placement));
    }

    /**
     * The MultiLayerNetwork to start QAT from: LSQ weight steps at the plan's scales, input
     * quantizers (the layers' and those graph-mode preparation places) from the calibrated ranges; a
     * quantizer on the pre-activations of a split LeakyReLU/lookup activation, which has none, takes
     * its step from the first training batch.
     */
    public static QuantizedModel.Wrapped<MultiLayerNetwork> qatStart(MultiLayerNetwork network, QuantPlan plan, InputQuantMode inputMode) {
        return placed(network, plan, inputMode, p -> QuantizedModel.wrap(network, p));
    }

    /** The ComputationGraph to start QAT from (see the MultiLayerNetwork overload). */
    public static QuantizedModel.Wrapped<ComputationGraph> qatStart(ComputationGraph network, QuantPlan plan, InputQuantMode inputMode) {
        return placed(network, plan, inputMode, p -> QuantizedModel.wrap(network, p));
    }

    /** The network (either kind) to start QAT from (see the MultiLayerNetwork overload). */
    public static QuantizedModel.Wrapped<? extends Model> qatStart(Model network, QuantPlan plan, InputQuantMode inputMode) {
        return placed(network, plan, inputMode, p -> wrap(network, p));
    }

    /** {@code QuantizedModel.wrap} for either network kind. */
    static QuantizedModel.Wrapped<? extends Model> wrap(Model network, QuantizationPlan plan) {
        NetworkView view = NetworkView.of(network);
        return switch (view.kind()) {
            case MULTI_LAYER_NETWORK -> QuantizedModel.wrap((MultiLayerNetwork) network, plan);
            case COMPUTATION_GRAPH -> QuantizedModel.wrap((ComputationGraph) network, plan);
        };
    }

    /**
     * The weights the quantizers see, per weight tensor of the layer in the quantizer layout
     * ({@link WeightedLayer#toQuantizerLayout}): the layer's own, or with a following inference
     * batch norm folded in ({@link BatchNormFolding#fold}; {@link BatchNormFolding#foldDepthwise}
     * for depthwise and separable convolutions, whose pointwise pW takes the batch norm), as
     * {@code QuantizedModel.wrap} folds it.
     */
    static Map<WeightedLayer.Tensor, INDArray> effectiveWeights(NetworkView net, WeightedLayer l) {
        org.deeplearning4j.nn.api.Layer layer = net.layer(l.name());
        Map<WeightedLayer.Tensor, INDArray> out = new EnumMap<>(WeightedLayer.Tensor.class);
        for (WeightedLayer.Tensor t : l.tensors()) {
            out.put(t, l.read(layer, t));
        }
        NetworkView.Vertex bn = batchNormAfter(net, l);
        if (bn != null) {
            switch (l.kind()) {
                case CONV, DENSE -> out.put(WeightedLayer.Tensor.WEIGHTS, BatchNormFolding.fold(layer, net.layer(bn.name())).weight());
                case DEPTHWISE, SEPARABLE -> out.put(l.outputTensor(),
                        l.toQuantizerLayout(l.outputTensor(), BatchNormFolding.foldDepthwise(layer, net.layer(bn.name())).weight()));
            }
        }
        return out;
    }

    static boolean followedByBatchNorm(NetworkView net, WeightedLayer l) {
        return batchNormAfter(net, l) != null;
    }

    /** The batch norm that is the layer's only consumer (in a MultiLayerNetwork: the next layer), or null. */
    private static NetworkView.Vertex batchNormAfter(NetworkView net, WeightedLayer l) {
        NetworkView.Vertex next = net.soleConsumer(l.name());
        return next != null && next.layer() instanceof BatchNormalization ? next : null;
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
