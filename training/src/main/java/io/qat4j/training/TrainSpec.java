package io.qat4j.training;

/**
 * How to train: an immutable, validated value.
 *
 * @param epochs                     number of epochs, >= 1
 * @param batchSize                  examples per step, >= 1 (default 64)
 * @param learningRate               initial learning rate, > 0
 * @param schedule                   CONSTANT, COSINE (to 0 over the run) or STEP
 * @param stepEvery                  STEP schedule: epochs between decays, >= 1
 * @param stepGamma                  STEP schedule: factor per decay, in (0, 1]
 * @param earlyStoppingPatience      stop after this many epochs without a better validation accuracy; 0 = off
 * @param seed                       data-order and initialization seed
 * @param freezeObserversAfterEpoch  QAT: stop updating FIXED activation ranges after this many epochs; -1 = never
 * @param freezeBatchNormAfterEpoch  QAT: switch folded batch norms to running statistics after this many epochs; -1 = never
 */
public record TrainSpec(int epochs, int batchSize, double learningRate, Schedule schedule, int stepEvery, double stepGamma,
                        int earlyStoppingPatience, long seed, int freezeObserversAfterEpoch, int freezeBatchNormAfterEpoch) {

    /** Learning-rate schedule over epochs. */
    public enum Schedule { CONSTANT, COSINE, STEP }

    public TrainSpec {
        if (epochs < 1) {
            throw new IllegalArgumentException("TrainSpec.epochs must be >= 1, got " + epochs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("TrainSpec.batchSize must be >= 1, got " + batchSize);
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("TrainSpec.learningRate must be finite and > 0, got " + learningRate);
        }
        if (schedule == null) {
            throw new IllegalArgumentException("TrainSpec.schedule must be CONSTANT, COSINE or STEP");
        }
        if (stepEvery < 1 || !(stepGamma > 0 && stepGamma <= 1)) {
            throw new IllegalArgumentException("TrainSpec: stepEvery must be >= 1 and stepGamma in (0, 1], got " + stepEvery + " and "
                    + stepGamma);
        }
        if (earlyStoppingPatience < 0) {
            throw new IllegalArgumentException("TrainSpec.earlyStoppingPatience must be >= 0 (0 = off), got " + earlyStoppingPatience);
        }
    }

    /** Defaults: batch 64, constant schedule, no early stopping, no freezing. */
    public static TrainSpec of(int epochs, double learningRate, long seed) {
        return new TrainSpec(epochs, 64, learningRate, Schedule.CONSTANT, 1, 1.0, 0, seed, -1, -1);
    }

    /** Learning rate of a (0-based) epoch. */
    public double learningRateAt(int epoch) {
        return switch (schedule) {
            case CONSTANT -> learningRate;
            case COSINE -> learningRate * 0.5 * (1 + Math.cos(Math.PI * epoch / epochs));
            case STEP -> learningRate * Math.pow(stepGamma, epoch / stepEvery);
        };
    }
}
