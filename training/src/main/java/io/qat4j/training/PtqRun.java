package io.qat4j.training;

import java.io.PrintWriter;
import java.util.function.Consumer;

import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import io.qat4j.datasets.DataSplits;
import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.ptq.PtqPlanner;
import io.qat4j.ptq.PtqPolicy;
import io.qat4j.ptq.PtqRecipe;
import io.qat4j.training.config.RunConfig;

/**
 * A configured PTQ run: the {@code ptq} section ({@link RunConfig.Ptq#policy()}) carried out by
 * ptq-baseline's {@link PtqPlanner} on a run's data ({@link DataSplits} chooses the examples), on a
 * trained float MultiLayerNetwork or ComputationGraph. What it adds to the planner: calibration on
 * the first {@code ptq.samples} training examples in batches of {@value #CALIBRATION_BATCH}, the
 * mixed-precision choice on the run's validation split, and progress lines on a {@link PrintWriter}.
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
 */
public final class PtqRun {

    /** Calibration batch size. */
    public static final int CALIBRATION_BATCH = 64;

    private PtqRun() {
    }

    /**
     * Runs {@code p} on a run's data: calibration on its training samples, the mixed-precision
     * choice on its validation split (or, where the run selects on the test set,
     * {@code data.validationFraction} 0, on {@link DataSplits#validationTail} of the training samples,
     * with a note that the FP32 model may have trained on them); progress lines go to {@code log}.
     */
    public static PtqPlanner.Planned run(Model fp32, RunData data, RunConfig.Ptq p, PrintWriter log) {
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
        return DataSplits.validationTail(data.train());
    }

    /** Runs {@code p}; the mixed-precision choice on {@link DataSplits#validationTail} of {@code train}. */
    public static PtqPlanner.Planned run(Model fp32, DataSet train, RunConfig.Ptq p, PrintWriter log) {
        return run(fp32, train, DataSplits.validationTail(train), p, log);
    }

    /** Runs {@code p}; the mixed-precision choice on {@code validation}; progress lines go to {@code log}. */
    public static PtqPlanner.Planned run(Model fp32, DataSet train, DataSet validation, RunConfig.Ptq p, PrintWriter log) {
        PtqPolicy policy = p.policy();
        return PtqPlanner.run(fp32, calibration(train, policy.recipe()), validation, policy, lines(log));
    }

    /**
     * The prepare stage alone (one calibration pass on the first {@code recipe.calibrationSamples()}
     * examples of {@code train}, reusable for several plans).
     *
     * @param fp32 a MultiLayerNetwork or a ComputationGraph with one input (not modified)
     */
    public static PostTrainingQuantizer.Prepared prepare(Model fp32, DataSet train, PtqRecipe recipe, int keepSamples) {
        return PostTrainingQuantizer.prepare(fp32, calibration(train, recipe), recipe, keepSamples);
    }

    /** The first {@code recipe.calibrationSamples()} training examples in batches of {@value #CALIBRATION_BATCH}. */
    private static DataSetIterator calibration(DataSet train, PtqRecipe recipe) {
        DataSet head = DataSplits.head(train, recipe.calibrationSamples());
        return new ListDataSetIterator<>(head.batchBy(CALIBRATION_BATCH), CALIBRATION_BATCH);
    }

    /** {@link #plan(PostTrainingQuantizer.Prepared, RunConfig.Ptq, PrintWriter, DataSet)} without a validation split. */
    public static PtqPlanner.Planned plan(PostTrainingQuantizer.Prepared prepared, RunConfig.Ptq p, PrintWriter log) {
        return plan(prepared, p, log, null);
    }

    /**
     * {@link PtqPlanner#plan} with the policy of {@code p}: sensitivity (if needed), allocation (with a
     * validation split, the best of the measured candidates) and the plan on a prepared network.
     *
     * @param validation labelled samples to choose among allocations (never the test set), or null to trust the prediction
     */
    public static PtqPlanner.Planned plan(PostTrainingQuantizer.Prepared prepared, RunConfig.Ptq p, PrintWriter log, DataSet validation) {
        return PtqPlanner.plan(prepared, p.policy(), validation, lines(log));
    }

    /** Each line printed and flushed, so that progress shows while the run goes on. */
    private static Consumer<String> lines(PrintWriter log) {
        return line -> {
            log.println(line);
            log.flush();
        };
    }
}
