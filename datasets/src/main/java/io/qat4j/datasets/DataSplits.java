package io.qat4j.datasets;

import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Which examples of a labelled {@link DataSet} serve which purpose: limits, the calibration head, a
 * seeded train/validation hold-out and the validation tail that PTQ's mixed precision chooses on.
 * Every split is deterministic (the hold-out by its seed), copies the examples it returns (except
 * where it returns its input unchanged, said below), and never touches a test set: choosing on test
 * data would report an optimistic accuracy.
 */
public final class DataSplits {

    /** Most examples of {@link #validationTail}. */
    public static final int VALIDATION_TAIL_MAX = 1000;
    /** {@link #validationTail} takes at most one in this many examples. */
    public static final int VALIDATION_TAIL_DIVISOR = 5;

    /**
     * Training examples kept and held out.
     *
     * @param train      the examples to train on
     * @param validation the held-out examples, for model selection and early stopping
     */
    public record TrainValidation(DataSet train, DataSet validation) {
    }

    private DataSplits() {
    }

    /**
     * The first {@code min(n, N)} examples of {@code data} (a run's {@code trainLimit} and
     * {@code testLimit}; PTQ calibrates on the head of the training set), copied; {@code data} itself
     * when {@code n >= N}.
     *
     * @param n number of examples, >= 1
     * @throws IllegalArgumentException when {@code n < 1}
     */
    public static DataSet head(DataSet data, int n) {
        if (n < 1) {
            throw new IllegalArgumentException("DataSplits.head: n must be >= 1, got " + n);
        }
        int all = data.numExamples();
        return n >= all ? data : slice(data, 0, n);
    }

    /**
     * The examples PTQ's mixed precision measures its candidate allocations on when a run holds no
     * validation set out: the last {@code max(1, min(}{@value #VALIDATION_TAIL_MAX}{@code , N / }{@value #VALIDATION_TAIL_DIVISOR}{@code ))}
     * training examples (calibration reads the first ones). They may have been trained on, so a
     * {@link #holdOut} validation set is the better choice where there is one.
     */
    public static DataSet validationTail(DataSet train) {
        int n = train.numExamples();
        int v = Math.max(1, Math.min(VALIDATION_TAIL_MAX, n / VALIDATION_TAIL_DIVISOR));
        return slice(train, n - v, n);
    }

    /**
     * Holds out a share of {@code train}: the examples are shuffled with {@code seed} (ND4J's
     * {@code DataSet.shuffle}, on a copy), then the last {@code max(1, round(N fraction))} are the
     * validation set and the others the training set. The same seed gives the same split.
     *
     * @param fraction share held out, in (0, 1)
     * @throws IllegalArgumentException when {@code fraction} is outside (0, 1) or nothing would be left to train on
     */
    public static TrainValidation holdOut(DataSet train, double fraction, long seed) {
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("DataSplits.holdOut: fraction must be in (0, 1), got " + fraction);
        }
        int n = train.numExamples();
        int held = Math.max(1, (int) Math.round(n * fraction));
        if (held >= n) {
            throw new IllegalArgumentException("DataSplits.holdOut: holding out " + held + " of " + n + " examples (fraction " + fraction
                    + ") leaves none to train on; use more examples or a smaller fraction");
        }
        DataSet shuffled = train.copy();
        shuffled.shuffle(seed);
        return new TrainValidation(slice(shuffled, 0, n - held), slice(shuffled, n - held, n));
    }

    /** Examples {@code [from, to)}, copied. */
    private static DataSet slice(DataSet data, int from, int to) {
        return new DataSet(data.getFeatures().get(NDArrayIndex.interval(from, to)).dup(),
                data.getLabels().get(NDArrayIndex.interval(from, to)).dup());
    }
}
