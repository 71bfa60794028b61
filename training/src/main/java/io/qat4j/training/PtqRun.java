package io.qat4j.training;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.ptq.PtqRecipe;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.ptq.SensitivityAnalysis;
import io.qat4j.ptq.WeightedLayer;
import io.qat4j.training.config.RunConfig;

/**
 * A configured PTQ run on a trained float network, a MultiLayerNetwork or a ComputationGraph (one
 * code path through ptq-baseline's {@code NetworkView}): prepare (folding, equalization, one
 * calibration pass over the first {@code samples} training examples), then, when the config asks
 * for mixed precision or partial quantization, the sensitivity analysis and bit allocation, then
 * the plan.
 *
 * <p>The plan carries a calibrated range for every tensor ({@code QuantPlan.tensors()}), so the
 * activation quantizers that graph-mode preparation places off the weighted layers' inputs (both
 * inputs of an Add, concat inputs, shared tensors, average-pooling inputs) start from the same
 * calibration as the layers' own: {@code PostTrainingQuantizer.quantizedModel} and {@code qatStart}
 * give each inserted {@code <tensor>_aq} its tensor's range, bits and signedness, so that the PTQ
 * network runs and exports at once. The exception: a weighted layer with a fused LeakyReLU or table
 * activation (sigmoid, tanh, ELU...), which wrap splits off to apply it to int8 pre-activations the
 * float network never exposed; its PTQ network is refused naming the layer (QAT from the plan
 * initializes that quantizer from the first training batch).
 *
 * @param prepared    the prepared network and calibration
 * @param result      the plan and the float network it applies to
 * @param sensitivity the sensitivity report, or null when not needed
 */
public record PtqRun(PostTrainingQuantizer.Prepared prepared, PostTrainingQuantizer.Result result, SensitivityAnalysis.Report sensitivity) {

    /**
     * Runs the recipe of {@code p} on a run's data: calibration on its training samples, the
     * mixed-precision choice on its validation split (or, where the run selects on the test set,
     * {@code data.validationFraction} 0, on {@link #validationSplit} of the training samples, with a note
     * that the FP32 model may have trained on them); progress lines go to {@code log}.
     */
    public static PtqRun run(Model fp32, RunData data, RunConfig.Ptq p, PrintWriter log) {
        return run(fp32, data.train(), choiceSplit(data, p, log), p, log);
    }

    /** The labelled samples the mixed-precision choice is measured on for a run's data (never its test set). */
    public static DataSet choiceSplit(RunData data, RunConfig.Ptq p, PrintWriter log) {
        if (!data.selectsOnTest()) {
            return data.validation();
        }
        if (p.averageBits() != null) {
            log.println("note: data.validationFraction is 0, so mixed precision chooses on the last training samples, which the FP32 "
                    + "model may have trained on (they favour whatever fits the training set); set data.validationFraction (e.g. 0.1) "
                    + "to hold samples out");
        }
        return validationSplit(data.train());
    }

    /** Runs the recipe of {@code p}; the mixed-precision choice on {@link #validationSplit} of {@code train}. */
    public static PtqRun run(Model fp32, DataSet train, RunConfig.Ptq p, PrintWriter log) {
        return run(fp32, train, validationSplit(train), p, log);
    }

    /** Runs the recipe of {@code p}; the mixed-precision choice on {@code validation}; progress lines go to {@code log}. */
    public static PtqRun run(Model fp32, DataSet train, DataSet validation, RunConfig.Ptq p, PrintWriter log) {
        PtqRecipe recipe = p.recipe();
        PostTrainingQuantizer.Prepared prepared = prepare(fp32, train, recipe, p.keptSamples());
        log.printf("ptq: %s (%.1f s)%n", String.join("; ", prepared.passes()), prepared.seconds());
        log.flush();
        return plan(prepared, p, log, validation);
    }

    /** Allocations of least predicted sensitivity measured against the uniform one before choosing ({@link #plan}). */
    public static final int ALLOCATION_CANDIDATES = 4;
    /** Most samples of the validation split. */
    public static final int VALIDATION_SAMPLES = 1000;

    /**
     * The validation split that chooses among mixed-precision allocations: the last
     * {@code min(1000, n / 5)} training samples (calibration reads the first ones; the test set is
     * never used to choose).
     */
    public static DataSet validationSplit(DataSet train) {
        int n = train.numExamples();
        int v = Math.max(1, Math.min(VALIDATION_SAMPLES, n / 5));
        return new DataSet(train.getFeatures().get(NDArrayIndex.interval(n - v, n)), train.getLabels().get(NDArrayIndex.interval(n - v, n)));
    }

    /**
     * The prepare stage alone (one calibration pass, reusable for several plans).
     *
     * @param fp32 a MultiLayerNetwork or a ComputationGraph with one input (not modified)
     */
    public static PostTrainingQuantizer.Prepared prepare(Model fp32, DataSet train, PtqRecipe recipe, int keepSamples) {
        int n = Math.min(recipe.calibrationSamples(), train.numExamples());
        DataSet head = new DataSet(train.getFeatures().get(NDArrayIndex.interval(0, n)), train.getLabels().get(NDArrayIndex.interval(0, n)));
        return PostTrainingQuantizer.prepare(fp32, new ListDataSetIterator<>(head.batchBy(64), 64), recipe, keepSamples);
    }

    /** {@link #plan(PostTrainingQuantizer.Prepared, RunConfig.Ptq, PrintWriter, DataSet)} without a validation split. */
    public static PtqRun plan(PostTrainingQuantizer.Prepared prepared, RunConfig.Ptq p, PrintWriter log) {
        return plan(prepared, p, log, null);
    }

    /**
     * Sensitivity (if needed), allocation and the plan on a prepared network. With an average-bits
     * budget, the exact allocation, and a validation split, the {@link #ALLOCATION_CANDIDATES}
     * allocations of least total sensitivity and the uniform one that fits are each quantized and
     * measured on {@code validation}, and the most accurate is kept (the plan's {@code allocation}
     * records every candidate's predicted and measured figures): the sum of per-layer sensitivities
     * is only a prediction of the joint effect.
     *
     * @param validation labelled samples to choose among allocations (never the test set), or null to trust the prediction
     */
    public static PtqRun plan(PostTrainingQuantizer.Prepared prepared, RunConfig.Ptq p, PrintWriter log, DataSet validation) {
        PtqRecipe recipe = p.recipe();
        if (p.firstLastBits() != null) {
            List<WeightedLayer> layers = WeightedLayer.of(prepared.model());
            java.util.Map<String, Integer> bits = new java.util.LinkedHashMap<>();
            bits.put(layers.get(0).name(), p.firstLastBits());
            bits.put(layers.get(layers.size() - 1).name(), p.firstLastBits());
            recipe = recipe.withLayerWeightBits(bits).withLayerInputBits(bits);
            log.printf("first and last layers at %d-bit weights and inputs: %s%n", p.firstLastBits(), bits.keySet());
        }
        SensitivityAnalysis.Report report = null;
        QuantPlan.AllocationInfo allocation = null;
        if (p.needsSensitivity()) {
            report = SensitivityAnalysis.run(prepared, p.sensitivityOptions());
            log.printf("sensitivity: %d layers x %s weight bits on %d samples (%.1f s)%n", report.layers().size(), p.candidateBits(),
                    report.samples(), report.seconds());
            List<WeightedLayer> layers = WeightedLayer.of(prepared.model());
            if (p.averageBits() != null && validation != null && p.allocation().equals("exact")) {
                SensitivityAnalysis.Allocated best = null;
                double bestAccuracy = -1;
                List<io.qat4j.ptq.QuantPlan.Candidate> measured = new ArrayList<>();
                for (SensitivityAnalysis.Allocated c : SensitivityAnalysis.candidates(report, layers, p.averageBits(), ALLOCATION_CANDIDATES)) {
                    PostTrainingQuantizer.Result r = PostTrainingQuantizer.quantize(prepared, recipe.withLayerWeightBits(c.bits()));
                    double accuracy = accuracy(PostTrainingQuantizer.quantizedModel(r).network(), validation);
                    measured.add(new io.qat4j.ptq.QuantPlan.Candidate(c.info().method(), c.bits(), c.info().costBits(),
                            c.info().totalSensitivity(), accuracy));
                    log.printf("allocation candidate %-8s %s: %.2f average bits, predicted sum of sensitivities %.4g, validation accuracy "
                            + "%.4f (%d samples)%n", c.info().method(), c.bits(), (double) c.info().costBits()
                            / layers.stream().mapToLong(WeightedLayer::weights).sum(), c.info().totalSensitivity(), accuracy,
                            validation.numExamples());
                    if (accuracy > bestAccuracy) {   // ties keep the earlier, better predicted one
                        best = c;
                        bestAccuracy = accuracy;
                    }
                }
                recipe = recipe.withLayerWeightBits(best.bits());
                allocation = best.info().withCandidates(measured);
                log.printf("allocation (exact, %.2f average weight bits, best of %d on the validation split): %s %s%n", p.averageBits(),
                        measured.size(), best.info().method(), best.bits());
            } else if (p.averageBits() != null) {
                SensitivityAnalysis.Allocated a = SensitivityAnalysis.allocate(report, layers, p.averageBits(), p.allocation());
                recipe = recipe.withLayerWeightBits(a.bits());
                allocation = a.info();
                log.printf("allocation (%s, %.2f average weight bits): %s%n", p.allocation(), p.averageBits(), a.bits());
            }
            if (p.keepMostSensitive() > 0) {
                java.util.Map<String, Integer> bits = new java.util.LinkedHashMap<>();
                for (WeightedLayer l : layers) {
                    bits.put(l.name(), recipe.weightBitsFor(l.name()));
                }
                List<String> ranked = report.mostSensitive(bits, p.inputBits());
                List<String> keep = new ArrayList<>(ranked.subList(0, Math.min(p.keepMostSensitive(), ranked.size())));
                recipe = recipe.withKeepFloat(keep);
                log.printf("partial quantization: keeping %s in float%n", keep);
            }
            log.flush();
        }
        PostTrainingQuantizer.Result result = PostTrainingQuantizer.quantize(prepared, recipe);
        if (report != null) {
            result = new PostTrainingQuantizer.Result(result.model(), SensitivityAnalysis.attach(result.plan(), report, allocation),
                    result.notes());
        }
        return new PtqRun(prepared, result, report);
    }

    private static double accuracy(org.deeplearning4j.nn.api.Model net, DataSet data) {
        INDArray out = io.qat4j.ptq.NetworkView.of(net).output(data.getFeatures());
        INDArray p = out.argMax(1);
        INDArray t = data.getLabels().argMax(1);
        int right = 0;
        for (long i = 0; i < p.length(); i++) {
            right += p.getLong(i) == t.getLong(i) ? 1 : 0;
        }
        return (double) right / p.length();
    }
}
