package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * Carries out a {@link PtqPolicy} on a trained float network, a MultiLayerNetwork or a
 * ComputationGraph (one code path through {@link NetworkView}): prepare (folding, equalization, one
 * calibration pass), then first/last-layer widths, the sensitivity analysis and bit allocation when
 * the policy asks for mixed precision, partial quantization, and the plan
 * ({@link PostTrainingQuantizer#quantize}). What {@code qat4j ptq} runs, without the training module.
 *
 * <p>Mixed precision measures before it chooses: with an average-bits budget, the EXACT allocation
 * and a validation set, the {@link PtqPolicy#allocationCandidates} allocations of least total
 * sensitivity ({@link SensitivityAnalysis#candidates}) and the uniform one that fits are each
 * quantized and their accuracy measured on the validation set; the most accurate is kept (ties keep
 * the earlier, better predicted one) and the plan's {@code allocation} records every candidate's
 * prediction and measurement. The sum of per-layer sensitivities is only a prediction of the joint
 * effect. Without a validation set, or with GREEDY, the allocation of least predicted sensitivity is
 * taken as it is.
 *
 * <p>Progress goes to a {@code Consumer<String>}, one line per call (e.g. {@code System.out::println}).
 */
public final class PtqPlanner {

    /**
     * A planned PTQ run.
     *
     * @param prepared    the prepared network and its calibration
     * @param result      the plan and the float network it applies to ({@link PostTrainingQuantizer#quantizedModel} makes the
     *                    PTQ network)
     * @param sensitivity the sensitivity report, or null when the policy needs none
     */
    public record Planned(PostTrainingQuantizer.Prepared prepared, PostTrainingQuantizer.Result result,
                          SensitivityAnalysis.Report sensitivity) {
    }

    private PtqPlanner() {
    }

    /**
     * Prepares and plans.
     *
     * @param fp32        trained float MultiLayerNetwork or ComputationGraph with one input (not modified)
     * @param calibration calibration data; the recipe's {@code calibrationSamples} first samples are read
     * @param validation  labelled samples to choose among mixed-precision allocations (never the test set), or null to
     *                    trust the predicted sensitivity
     * @param log         progress lines
     */
    public static Planned run(Model fp32, DataSetIterator calibration, DataSet validation, PtqPolicy policy, Consumer<String> log) {
        PostTrainingQuantizer.Prepared prepared = prepare(fp32, calibration, policy);
        log.accept(String.format("ptq: %s (%.1f s)", String.join("; ", prepared.passes()), prepared.seconds()));
        return plan(prepared, policy, validation, log);
    }

    /** The prepare stage alone: one calibration pass keeping the samples the policy needs, reusable for several plans. */
    public static PostTrainingQuantizer.Prepared prepare(Model fp32, DataSetIterator calibration, PtqPolicy policy) {
        return PostTrainingQuantizer.prepare(fp32, calibration, policy.recipe(), policy.keptSamples());
    }

    /**
     * First/last-layer widths, sensitivity and allocation (when needed), partial quantization and the
     * plan on a prepared network, with the policy's recipe (the one {@code prepared} was calibrated with,
     * or one of the same passes).
     *
     * @param validation labelled samples to choose among allocations (never the test set), or null to trust the prediction
     * @throws IllegalArgumentException when an explicit width of the recipe contradicts {@code firstLastBits}, naming the layer
     */
    public static Planned plan(PostTrainingQuantizer.Prepared prepared, PtqPolicy policy, DataSet validation, Consumer<String> log) {
        PtqRecipe recipe = policy.recipe();
        List<WeightedLayer> layers = WeightedLayer.of(prepared.model());
        if (policy.firstLastBits() != null) {
            recipe = withFirstLast(recipe, layers, policy.firstLastBits());
            log.accept(String.format("first and last layers at %d-bit weights and inputs: %s", policy.firstLastBits(),
                    List.of(layers.get(0).name(), layers.get(layers.size() - 1).name()).stream().distinct().toList()));
        }
        SensitivityAnalysis.Report report = null;
        QuantPlan.AllocationInfo allocation = null;
        if (policy.needsSensitivity()) {
            report = SensitivityAnalysis.run(prepared, policy.sensitivityOptions());
            log.accept(String.format("sensitivity: %d layers x %s weight bits on %d samples (%.1f s)", report.layers().size(),
                    policy.candidateBits(), report.samples(), report.seconds()));
            if (policy.averageBits() != null) {
                SensitivityAnalysis.Allocated chosen = switch (policy.allocation()) {
                    case EXACT -> validation != null ? measured(prepared, recipe, report, layers, policy, validation, log)
                            : predicted(report, layers, policy, log);
                    case GREEDY -> predicted(report, layers, policy, log);
                };
                recipe = recipe.withLayerWeightBits(chosen.bits());
                allocation = chosen.info();
            }
            if (policy.keepMostSensitive() > 0) {
                Map<String, Integer> bits = new LinkedHashMap<>();
                for (WeightedLayer l : layers) {
                    bits.put(l.name(), recipe.weightBitsFor(l.name()));
                }
                List<String> ranked = new ArrayList<>(report.mostSensitive(bits, recipe.inputBits()));
                ranked.removeAll(recipe.keepFloat());
                List<String> keep = new ArrayList<>(ranked.subList(0, Math.min(policy.keepMostSensitive(), ranked.size())));
                Set<String> all = new LinkedHashSet<>(recipe.keepFloat());
                all.addAll(keep);
                recipe = recipe.withKeepFloat(List.copyOf(all));
                log.accept("partial quantization: keeping " + keep + " in float");
            }
        }
        PostTrainingQuantizer.Result result = PostTrainingQuantizer.quantize(prepared, recipe);
        if (report != null) {
            result = new PostTrainingQuantizer.Result(result.model(), SensitivityAnalysis.attach(result.plan(), report, allocation),
                    result.notes());
        }
        return new Planned(prepared, result, report);
    }

    /** The recipe with the first and last weighted layers at {@code bits} (weights and inputs), explicit entries kept. */
    private static PtqRecipe withFirstLast(PtqRecipe recipe, List<WeightedLayer> layers, int bits) {
        Map<String, Integer> weights = new LinkedHashMap<>(recipe.layerWeightBits());
        Map<String, Integer> inputs = new LinkedHashMap<>(recipe.layerInputBits());
        for (WeightedLayer l : List.of(layers.get(0), layers.get(layers.size() - 1))) {
            for (Map<String, Integer> m : List.of(weights, inputs)) {
                Integer explicit = m.putIfAbsent(l.name(), bits);
                if (explicit != null && explicit != bits) {
                    throw new IllegalArgumentException("PtqPolicy: firstLastBits " + bits + " puts layer '" + l.name() + "' at " + bits
                            + " bits, but the recipe gives it " + explicit + " (" + (m == weights ? "layerWeightBits" : "layerInputBits")
                            + "); remove one of them");
                }
            }
        }
        return recipe.withLayerWeightBits(weights).withLayerInputBits(inputs);
    }

    /** The policy's allocation of least predicted sensitivity, unmeasured. */
    private static SensitivityAnalysis.Allocated predicted(SensitivityAnalysis.Report report, List<WeightedLayer> layers, PtqPolicy policy,
                                                           Consumer<String> log) {
        SensitivityAnalysis.Allocated a = SensitivityAnalysis.allocate(report, layers, policy.averageBits(), policy.allocation());
        log.accept(String.format("allocation (%s, %.2f average weight bits): %s", policy.allocation().id(), policy.averageBits(), a.bits()));
        return a;
    }

    /** Each candidate allocation quantized and measured on {@code validation}; the most accurate, with every measurement. */
    private static SensitivityAnalysis.Allocated measured(PostTrainingQuantizer.Prepared prepared, PtqRecipe recipe,
                                                          SensitivityAnalysis.Report report, List<WeightedLayer> layers, PtqPolicy policy,
                                                          DataSet validation, Consumer<String> log) {
        SensitivityAnalysis.Allocated best = null;
        double bestAccuracy = -1;
        List<QuantPlan.Candidate> measured = new ArrayList<>();
        long weights = layers.stream().mapToLong(WeightedLayer::weights).sum();
        for (SensitivityAnalysis.Allocated c : SensitivityAnalysis.candidates(report, layers, policy.averageBits(),
                policy.allocationCandidates())) {
            PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(prepared, recipe.withLayerWeightBits(c.bits()));
            double accuracy = accuracy(PostTrainingQuantizer.quantizedModel(r).network(), validation);
            measured.add(new QuantPlan.Candidate(c.info().method(), c.bits(), c.info().costBits(), c.info().totalSensitivity(), accuracy));
            log.accept(String.format("allocation candidate %-8s %s: %.2f average bits, predicted sum of sensitivities %.4g, validation "
                    + "accuracy %.4f (%d samples)", c.info().method(), c.bits(), (double) c.info().costBits() / weights,
                    c.info().totalSensitivity(), accuracy, validation.numExamples()));
            if (accuracy > bestAccuracy) {   // ties keep the earlier, better predicted one
                best = c;
                bestAccuracy = accuracy;
            }
        }
        log.accept(String.format("allocation (exact, %.2f average weight bits, best of %d on the validation split): %s %s",
                policy.averageBits(), measured.size(), best.info().method(), best.bits()));
        return new SensitivityAnalysis.Allocated(best.bits(), best.info().withCandidates(measured));
    }

    /** Top-1 accuracy of {@code net} on labelled {@code data} (one-hot labels). */
    static double accuracy(Model net, DataSet data) {
        return NetworkView.accuracy(NetworkView.of(net).output(data.getFeatures()), data.getLabels());
    }
}
