package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.deeplearning4j.nn.api.Layer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl;
import io.qat4j.layers.params.QuantizedSeparableConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.ptq.calibration.ActivationStatistics;
import io.qat4j.ptq.calibration.Calibrator;
import io.qat4j.ptq.calibration.Range;
import io.qat4j.ste.BitWidths;

/**
 * Per-layer sensitivity (reference 000, Sensitivity-Aware PTQ; DESIGN.md): for layer l and width b,
 * quantize only l (its weights, or separately only its input) and measure
 * {@code S_l(b) = mean_k D(f(x_k), f_l,b(x_k))} over the calibration samples kept by
 * {@link Calibration}, with D = KL(softmax_fp32 || softmax_quantized) ({@link Metric#KL}) or the
 * mean squared difference of centred logits ({@link Metric#MSE}: {@code log p - mean(log p)}, which
 * equals the logit difference up to the per-sample shift softmax ignores). Weights use the recipe's
 * weight-scale method at each width, inputs the recipe's calibrator at each width.
 *
 * <p>A separable convolution's weights are both of its kernels (depthwise and pointwise, each at
 * its own recipe scales, one width), and its input is its input and its mid quantizer (on the
 * depthwise output, calibrated tensor {@code <layer>/mid}), which run at the layer's one input
 * width.
 *
 * <p>Optionally the fine-grained variant: for each output channel of a layer, quantize that
 * channel's weights alone at one width ({@link Options#perChannelBits}).
 *
 * <p>Implementation: the prepared float network (a MultiLayerNetwork or ComputationGraph, one code
 * path through {@link NetworkView}) is wrapped twice (weights-only and inputs-only quantizers),
 * everything is disabled, and one layer at a time is enabled with its bits and scales set; the
 * reference output is the same wrapped network with everything disabled, which equals the float
 * network. Only the weighted layers' own quantizers are used: the plan places no activation
 * quantizers elsewhere (Add inputs, shared tensors), so each layer's input is measured by its own
 * quantizer; layers are found by name in the wrapped network.
 */
public final class SensitivityAnalysis {

    /** Output distance. */
    public enum Metric {
        /** KL(p_fp32 || p_quantized) of the softmax outputs, per sample, averaged. */
        KL,
        /** Mean squared difference of centred log-softmax outputs (= centred logits). */
        MSE
    }

    /**
     * @param weightBits     candidate weight widths (each {@link BitWidths} 2..16)
     * @param inputBits      candidate input widths (each {@link BitWidths} 1..16; empty to skip inputs)
     * @param metric         output distance
     * @param perChannelBits width for the per-channel weight figures; 0 to skip them (they cost one
     *                       forward pass per output channel)
     */
    public record Options(int[] weightBits, int[] inputBits, Metric metric, int perChannelBits) {
        public Options {
            for (int b : weightBits) {
                BitWidths.checkWeightBits("sensitivity: candidate weight bits", b, BitWidths.Target.SIMULATION);
            }
            for (int b : inputBits) {
                Calibrator.checkBits(b);
            }
            if (perChannelBits != 0) {
                BitWidths.checkWeightBits("sensitivity: perChannelBits (0 = off)", perChannelBits, BitWidths.Target.SIMULATION);
            }
            if (metric == null) {
                throw new IllegalArgumentException("sensitivity: metric must be KL or MSE");
            }
            weightBits = weightBits.clone();
            inputBits = inputBits.clone();
        }

        /** Weights at 2, 3, 4, 8 bits; inputs at 2, 4, 8; KL; no per-channel figures. */
        public static Options defaults() {
            return new Options(new int[] {2, 3, 4, 8}, new int[] {2, 4, 8}, Metric.KL, 0);
        }
    }

    /** Sensitivity per layer (network order), the samples used and the wall time. */
    public record Report(Map<String, QuantPlan.Sensitivity> layers, long samples, double seconds) {

        /** The bit allocator's input for the weights: n_l and S_l(b) per candidate width. */
        public List<BitAllocator.LayerChoices> weightChoices(List<WeightedLayer> weighted) {
            List<BitAllocator.LayerChoices> out = new ArrayList<>();
            for (WeightedLayer l : weighted) {
                QuantPlan.Sensitivity s = layers.get(l.name());
                if (s == null) {
                    throw new IllegalArgumentException("sensitivity report has no layer '" + l.name() + "'");
                }
                int[] bits = s.weights().keySet().stream().mapToInt(Integer::intValue).toArray();
                double[] sens = s.weights().values().stream().mapToDouble(Double::doubleValue).toArray();
                out.add(new BitAllocator.LayerChoices(l.name(), l.weights(), bits, sens));
            }
            return out;
        }

        /** Layer names ordered from most to least sensitive at the given widths (weights plus input). */
        public List<String> mostSensitive(Map<String, Integer> weightBits, int inputBits) {
            List<String> names = new ArrayList<>(layers.keySet());
            names.sort((a, b) -> Double.compare(total(b, weightBits.get(b), inputBits), total(a, weightBits.get(a), inputBits)));
            return names;
        }

        private double total(String layer, Integer wBits, int inputBits) {
            QuantPlan.Sensitivity s = layers.get(layer);
            return s.weights().getOrDefault(wBits, 0.0) + s.inputs().getOrDefault(inputBits, 0.0);
        }
    }

    private SensitivityAnalysis() {
    }

    /** Runs the analysis on a prepared network with its recipe's weight-scale method and calibrator. */
    public static Report run(PostTrainingQuantizer.Prepared prepared, Options options) {
        long start = System.nanoTime();
        INDArray x = prepared.calibration().kept();
        if (x == null) {
            throw new IllegalArgumentException("sensitivity analysis needs kept calibration samples; prepare with keepSamples > 0");
        }
        PtqRecipe recipe = prepared.recipe();
        NetworkView net = NetworkView.of(prepared.model());
        List<WeightedLayer> layers = WeightedLayer.of(net);
        // defaults with input mode NONE: wrap places no activation quantizers of its own (an inserted one would take
        // over, and switch off, the input quantizer of a layer reading a shared tensor, whose S_inputs would then be 0)
        QuantSettings none = QuantSettings.disabled();
        none.setInputMode(InputQuantMode.NONE);
        QuantizationPlan.Builder wp = QuantizationPlan.builder(none);
        QuantizationPlan.Builder ip = QuantizationPlan.builder(none);
        for (WeightedLayer l : layers) {
            QuantSettings ws = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.NONE, 8);
            ws.setWeightPerChannel(recipe.perChannel());
            wp.layer(l.name(), ws);
            QuantSettings is = QuantSettings.of(WeightQuantMode.NONE, 8, InputQuantMode.FIXED, 8);
            is.setInputSigned(prepared.calibration().layer(l.name()).statistics().signed());
            is.setObserverEnabled(false);
            ip.layer(l.name(), is);
        }
        NetworkView weightNet = NetworkView.of(PostTrainingQuantizer.wrap(net.model(), wp.build()).network());
        NetworkView inputNet = NetworkView.of(PostTrainingQuantizer.wrap(net.model(), ip.build()).network());
        QuantizedModel.setQuantizationEnabled(weightNet.model(), false);
        QuantizedModel.setQuantizationEnabled(inputNet.model(), false);
        INDArray reference = weightNet.output(x).castTo(DataType.DOUBLE);
        Calibrator calibrator = recipe.calibration().create(recipe.percentile());
        Map<String, QuantPlan.Sensitivity> out = new LinkedHashMap<>();
        for (WeightedLayer l : layers) {
            Map<WeightedLayer.Tensor, INDArray> w = PostTrainingQuantizer.effectiveWeights(net, l);
            Map<Integer, Double> sw = new TreeMap<>();
            Layer wl = weightNet.layer(l.name());
            QuantSettings wSettings = ((QuantizedLayerConf) wl.conf().getLayer()).getQuant();
            QuantizedModel.setQuantizationEnabled(weightNet.model(), l.name(), true);
            for (int b : options.weightBits()) {
                wSettings.setWeightBits(b);
                for (WeightedLayer.Tensor t : l.tensors()) {
                    double[] scales = WeightRanges.scales(w.get(t), l.outAxis(t), b, recipe.perChannel(), recipe.weightRange());
                    INDArray steps = wl.paramTable().get(stepKey(t));
                    for (int i = 0; i < scales.length; i++) {
                        steps.putScalar(i, scales[i]);
                    }
                }
                sw.put(b, distance(reference, weightNet.output(x), options.metric()));
            }
            QuantizedModel.setQuantizationEnabled(weightNet.model(), l.name(), false);

            Map<Integer, Double> si = new TreeMap<>();
            Layer il = inputNet.layer(l.name());
            QuantSettings iSettings = ((QuantizedLayerConf) il.conf().getLayer()).getQuant();
            QuantizedModel.setQuantizationEnabled(inputNet.model(), l.name(), true);
            for (int b : options.inputBits()) {
                iSettings.setInputBits(b);
                PostTrainingQuantizer.requireSignedBits(l.name(), prepared.calibration().layer(l.name()).statistics(), b);
                Range r = calibrator.range(prepared.calibration().layer(l.name()).statistics(), b);
                InputQuantization.setRange(iSettings, il.paramTable(), r.min(), r.max(), l.name());
                if (il instanceof QuantizedSeparableConvolutionImpl sep) {   // its mid quantizer has the input width too
                    ActivationStatistics mid = prepared.calibration().tensor(l.midTensor());
                    PostTrainingQuantizer.requireSignedBits(l.midTensor(), mid, b);
                    Range m = calibrator.range(mid, b);
                    sep.setMidRange(m.min(), m.max());
                }
                si.put(b, distance(reference, inputNet.output(x), options.metric()));
            }
            QuantizedModel.setQuantizationEnabled(inputNet.model(), l.name(), false);

            double[] perChannel = null;
            if (options.perChannelBits() > 0 && !PostTrainingQuantizer.followedByBatchNorm(net, l)) {
                perChannel = perChannel(weightNet, l, w.get(l.outputTensor()), options.perChannelBits(), recipe, x, reference,
                        options.metric());
            }
            out.put(l.name(), new QuantPlan.Sensitivity(options.metric().name().toLowerCase(), sw, si,
                    perChannel == null ? 0 : options.perChannelBits(), perChannel));
        }
        return new Report(out, x.size(0), (System.nanoTime() - start) / 1e9);
    }

    /**
     * S for quantizing one output channel of {@code l} alone, per channel (quantization off, weights
     * edited): the channels of its output tensor ({@link WeightedLayer#outputTensor}: a separable
     * convolution's pointwise kernel, whose channels are the layer's outputs; a depthwise kernel's
     * channels {@code o = c mult + m}).
     */
    private static double[] perChannel(NetworkView wrapped, WeightedLayer l, INDArray w, int bits, PtqRecipe recipe, INDArray x,
                                       INDArray reference, Metric metric) {
        Layer layer = wrapped.layer(l.name());
        WeightedLayer.Tensor t = l.outputTensor();
        int axis = l.outAxis(t);
        String key = l.paramKey(t);
        INDArray original = layer.getParam(key).dup();
        INDArray view = l.read(layer, t).dup();
        double[] scales = WeightRanges.scales(w, axis, bits, true, recipe.weightRange());
        INDArray q = PostTrainingQuantizer.uniform(w, axis, bits, scales);
        int channels = (int) w.size(axis);
        double[] out = new double[channels];
        try {
            for (int c = 0; c < channels; c++) {
                INDArray edited = view.dup();
                INDArray slice = axis == 0 ? edited.slice(c, 0) : edited.getColumn(c);
                slice.assign(axis == 0 ? q.slice(c, 0) : q.getColumn(c));
                l.write(layer, t, edited);
                out[c] = distance(reference, wrapped.output(x), metric);
            }
        } finally {
            layer.setParam(key, original);
        }
        return out;
    }

    /** The wrapped layer's LSQ step parameter of a weight tensor: {@code Ws}, or a separable convolution's pointwise {@code pWs}. */
    private static String stepKey(WeightedLayer.Tensor t) {
        return switch (t) {
            case WEIGHTS -> QuantizerParams.WEIGHT_STEP_KEY;
            case POINTWISE -> QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_STEP_KEY;
        };
    }

    /** Mean per-sample distance between reference and perturbed softmax outputs ([N, classes]). */
    static double distance(INDArray reference, INDArray perturbed, Metric metric) {
        double[] p = reference.dup('c').data().asDouble();
        double[] q = perturbed.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        int n = (int) reference.size(0);
        int k = (int) (reference.length() / n);
        double total = 0;
        for (int i = 0; i < n; i++) {
            double sample = 0;
            switch (metric) {
                case KL -> {
                    for (int j = 0; j < k; j++) {
                        double a = p[i * k + j];
                        if (a > 0) {
                            sample += a * (Math.log(a) - Math.log(Math.max(q[i * k + j], 1e-30)));
                        }
                    }
                }
                case MSE -> {
                    double ma = 0;
                    double mb = 0;
                    double[] la = new double[k];
                    double[] lb = new double[k];
                    for (int j = 0; j < k; j++) {
                        la[j] = Math.log(Math.max(p[i * k + j], 1e-30));
                        lb[j] = Math.log(Math.max(q[i * k + j], 1e-30));
                        ma += la[j] / k;
                        mb += lb[j] / k;
                    }
                    for (int j = 0; j < k; j++) {
                        double d = (la[j] - ma) - (lb[j] - mb);
                        sample += d * d / k;
                    }
                }
            }
            total += sample;
        }
        return Math.max(0, total / n);   // KL >= 0: a tiny negative total is float rounding (identical outputs)
    }

    /** Chosen weight bits per layer for an average-bits budget, with the allocation info for the plan. */
    public static Allocated allocate(Report report, List<WeightedLayer> layers, double averageBits, BitAllocator.Method method) {
        List<BitAllocator.LayerChoices> choices = report.weightChoices(layers);
        long budget = BitAllocator.budgetForAverageBits(choices, averageBits);
        BitAllocator.Allocation a = method.allocate(choices, budget);
        Map<String, Integer> bits = new LinkedHashMap<>();
        for (int i = 0; i < choices.size(); i++) {
            bits.put(choices.get(i).name(), a.bits()[i]);
        }
        return new Allocated(bits, new QuantPlan.AllocationInfo(method.id(), averageBits, budget, a.costBits(), a.totalSensitivity()));
    }

    /**
     * Allocations worth measuring for an average-bits budget: the {@code k} of least total
     * sensitivity ({@link BitAllocator#exactBest}, methods "exact#1".."exact#k") and the uniform
     * allocation at the widest candidate width that fits ("uniform"), without duplicates. The sum of
     * per-layer sensitivities is only a prediction of the joint effect; a caller measures these on
     * validation data and keeps the best.
     */
    public static List<Allocated> candidates(Report report, List<WeightedLayer> layers, double averageBits, int k) {
        List<BitAllocator.LayerChoices> choices = report.weightChoices(layers);
        long budget = BitAllocator.budgetForAverageBits(choices, averageBits);
        List<Allocated> out = new ArrayList<>();
        java.util.Set<Map<String, Integer>> seen = new java.util.HashSet<>();
        int rank = 1;
        for (BitAllocator.Allocation a : BitAllocator.exactBest(choices, budget, k)) {
            Map<String, Integer> bits = new LinkedHashMap<>();
            for (int i = 0; i < choices.size(); i++) {
                bits.put(choices.get(i).name(), a.bits()[i]);
            }
            seen.add(bits);
            out.add(new Allocated(bits, new QuantPlan.AllocationInfo("exact#" + rank++, averageBits, budget, a.costBits(),
                    a.totalSensitivity())));
        }
        // the uniform allocation: one width for all, the widest candidate every layer has that fits the budget
        java.util.Set<Integer> common = null;
        for (BitAllocator.LayerChoices c : choices) {
            java.util.Set<Integer> b = new java.util.TreeSet<>();
            for (int x : c.bits()) {
                b.add(x);
            }
            if (common == null) {
                common = b;
            } else {
                common.retainAll(b);
            }
        }
        long n = 0;
        for (BitAllocator.LayerChoices c : choices) {
            n += c.parameters();
        }
        int uniform = -1;
        for (int b : common == null ? java.util.Set.<Integer>of() : common) {
            if (n * b <= budget) {
                uniform = Math.max(uniform, b);
            }
        }
        if (uniform > 0) {
            Map<String, Integer> bits = new LinkedHashMap<>();
            double s = 0;
            for (BitAllocator.LayerChoices c : choices) {
                bits.put(c.name(), uniform);
                for (int i = 0; i < c.bits().length; i++) {
                    if (c.bits()[i] == uniform) {
                        s += c.sensitivity()[i];
                        break;
                    }
                }
            }
            if (seen.add(bits)) {
                out.add(new Allocated(bits, new QuantPlan.AllocationInfo("uniform", averageBits, budget, n * uniform, s)));
            }
        }
        return out;
    }

    /** Result of {@link #allocate}. */
    public record Allocated(Map<String, Integer> bits, QuantPlan.AllocationInfo info) {
    }

    /** A plan with each layer's sensitivity figures attached. */
    public static QuantPlan attach(QuantPlan plan, Report report, QuantPlan.AllocationInfo allocation) {
        List<QuantPlan.LayerPlan> layers = new ArrayList<>();
        for (QuantPlan.LayerPlan l : plan.layers()) {
            layers.add(l.withSensitivity(report.layers().get(l.name())));
        }
        return plan.with(layers, allocation);
    }
}
