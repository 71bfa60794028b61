package io.qat4j.spark;

import java.io.Serializable;

/**
 * What a worker reports after each of its minibatches ({@link WorkerStepHook}), collected by the
 * driver through a Spark accumulator.
 *
 * @param partition the worker's partition in the averaging round (Spark's partition id)
 * @param iteration the worker network's iteration count after the step (increasing within a round)
 * @param loss      the minibatch's training loss (DL4J's {@code score()}: data loss plus regularization)
 * @param signed    each input quantizer's signedness after the step, in {@link InputQuantizerSigns} order
 * @param steps     each input quantizer's LSQ/LSQ+ step after the step (NaN for other modes), same order
 */
record WorkerStep(int partition, int iteration, double loss, boolean[] signed, double[] steps) implements Serializable {
}
