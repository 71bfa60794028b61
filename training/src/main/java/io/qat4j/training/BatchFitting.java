package io.qat4j.training;

import java.util.List;
import java.util.function.DoubleConsumer;
import java.util.function.UnaryOperator;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;

/**
 * How {@link Trainer} fits one epoch's minibatches into the network: one after another in this JVM
 * ({@link #SEQUENTIAL}, the default), or data-parallel on several workers whose parameters are
 * averaged (module {@code spark}). Everything around an epoch (shuffling, learning-rate schedule,
 * QAT freezes, validation, best model, metrics, checkpoints, divergence checks) stays the trainer's,
 * so both ways share it.
 */
public interface BatchFitting {

    /** Each minibatch in order: one DL4J {@code fit(DataSet)} step in this JVM, then its loss. */
    BatchFitting SEQUENTIAL = (net, batches, prepare, onStep) -> {
        for (DataSet batch : batches) {
            Networks.fit(net, prepare.apply(batch));
            onStep.accept(net.score());
        }
    };

    /**
     * Trains {@code net} in place on one epoch's minibatches.
     *
     * @param net     the network (either kind); afterwards it holds the epoch's trained parameters (and updater state)
     * @param batches the epoch's minibatches in the epoch's (shuffled) order, each of the run's batch size (the last may be smaller)
     * @param prepare applied to each minibatch before it is fitted (knowledge distillation packs the teacher's logits into
     *                the labels); may be expensive, call it once per minibatch
     * @param onStep  receives the training loss of every fitted minibatch (of every worker), in the order the minibatches
     *                were fitted (data-parallel: round by round, within a round worker by worker); it throws
     *                {@link TrainingDivergedException} to stop the run, which must propagate
     */
    void fitEpoch(Model net, List<DataSet> batches, UnaryOperator<DataSet> prepare, DoubleConsumer onStep);
}
