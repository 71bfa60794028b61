package io.qat4j.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.spark.api.TrainingHook;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;

/**
 * A dl4j-spark training hook that runs inside every worker and reports each fitted minibatch
 * ({@link WorkerStep}: loss, input quantizers' signedness and steps) to the driver through a Spark
 * accumulator; it works the same in local mode and on a cluster (the accumulator travels with the
 * task results).
 */
final class WorkerStepHook implements TrainingHook {

    private static final long serialVersionUID = 1L;

    private final CollectionAccumulator<WorkerStep> steps;

    WorkerStepHook(CollectionAccumulator<WorkerStep> steps) {
        this.steps = steps;
    }

    @Override
    public void preUpdate(DataSet minibatch, Model model) {
    }

    @Override
    public void postUpdate(DataSet minibatch, Model model) {
        report(model);
    }

    @Override
    public void preUpdate(MultiDataSet minibatch, Model model) {
    }

    @Override
    public void postUpdate(MultiDataSet minibatch, Model model) {
        report(model);
    }

    private void report(Model model) {
        TaskContext task = TaskContext.get();
        int iteration = model instanceof MultiLayerNetwork m ? m.getIterationCount() : ((ComputationGraph) model).getIterationCount();
        InputQuantizerSigns q = InputQuantizerSigns.of(model);
        steps.add(new WorkerStep(task == null ? 0 : task.partitionId(), iteration, model.score(), q.signed(model), q.steps(model)));
    }
}
