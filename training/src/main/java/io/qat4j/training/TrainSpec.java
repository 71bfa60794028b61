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
 * @param divergenceFactor           stop the run as diverged when, after its first {@value Trainer#DIVERGENCE_WARMUP}
 *                                   steps, the mean loss of the last {@value Trainer#DIVERGENCE_WINDOW} steps exceeds
 *                                   this many times the reference loss (the run's first step, at least ln(classes));
 *                                   > 1, or 0 = only a NaN/infinite loss stops (default {@value #DEFAULT_DIVERGENCE_FACTOR})
 * @param augmentation               random shifts and flips of the training batches ({@link Augmentation}; default
 *                                   {@link Augmentation#NONE}); never applied to validation data
 * @param labelSmoothing             e in [0, 1): the hard training labels y become {@code (1 - e) y + e / K} (K classes;
 *                                   Szegedy et al., "Rethinking the Inception Architecture", CVPR 2016, section 7); with
 *                                   distillation only the hard labels, never the teacher's logits; default 0 (none)
 */
public record TrainSpec(int epochs, int batchSize, double learningRate, Schedule schedule, int stepEvery, double stepGamma,
                        int earlyStoppingPatience, long seed, int freezeObserversAfterEpoch, int freezeBatchNormAfterEpoch,
                        double divergenceFactor, Augmentation augmentation, double labelSmoothing) {

    /**
     * Default {@link #divergenceFactor}: 5 x ln(10) = 11.5 nats for 10 classes. Healthy runs, from
     * scratch or fine-tuning, stay under 3 nats after their first steps; an exploded one sits at 15-22
     * nats (DL4J clips the softmax at 1e-10, so its cross entropy saturates at 23 nats: with the default
     * the check works up to about 100 classes).
     */
    public static final double DEFAULT_DIVERGENCE_FACTOR = 5;

    /** Learning-rate schedule over epochs. */
    public enum Schedule { CONSTANT, COSINE, STEP }

    /** Without augmentation or label smoothing. */
    public TrainSpec(int epochs, int batchSize, double learningRate, Schedule schedule, int stepEvery, double stepGamma,
                     int earlyStoppingPatience, long seed, int freezeObserversAfterEpoch, int freezeBatchNormAfterEpoch,
                     double divergenceFactor) {
        this(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, seed, freezeObserversAfterEpoch,
                freezeBatchNormAfterEpoch, divergenceFactor, Augmentation.NONE, 0);
    }

    /** With the default divergence factor, without augmentation or label smoothing. */
    public TrainSpec(int epochs, int batchSize, double learningRate, Schedule schedule, int stepEvery, double stepGamma,
                     int earlyStoppingPatience, long seed, int freezeObserversAfterEpoch, int freezeBatchNormAfterEpoch) {
        this(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, seed, freezeObserversAfterEpoch,
                freezeBatchNormAfterEpoch, DEFAULT_DIVERGENCE_FACTOR);
    }

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
        if (!(divergenceFactor == 0 || divergenceFactor > 1) || Double.isInfinite(divergenceFactor)) {
            throw new IllegalArgumentException("TrainSpec.divergenceFactor must be > 1 (default " + DEFAULT_DIVERGENCE_FACTOR
                    + "), or 0 to stop only on a NaN/infinite loss; got " + divergenceFactor);
        }
        if (augmentation == null) {
            throw new IllegalArgumentException("TrainSpec.augmentation must be given (Augmentation.NONE for none)");
        }
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
            throw new IllegalArgumentException("TrainSpec.labelSmoothing must be in [0, 1) (0 = none, typically 0.1), got " + labelSmoothing);
        }
    }

    /** Defaults: batch 64, constant schedule, no early stopping, no freezing. */
    public static TrainSpec of(int epochs, double learningRate, long seed) {
        return new TrainSpec(epochs, 64, learningRate, Schedule.CONSTANT, 1, 1.0, 0, seed, -1, -1);
    }

    /** This spec with {@code augmentation} and {@code labelSmoothing}. */
    public TrainSpec withRegularization(Augmentation augmentation, double labelSmoothing) {
        return new TrainSpec(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, seed,
                freezeObserversAfterEpoch, freezeBatchNormAfterEpoch, divergenceFactor, augmentation, labelSmoothing);
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
