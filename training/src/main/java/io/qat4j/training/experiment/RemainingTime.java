package io.qat4j.training.experiment;

import java.util.List;
import java.util.Locale;

import io.qat4j.training.config.ExperimentConfig;

/**
 * The overall progress line of a running experiment: variants done of the total, wall time so far
 * and an estimate of the time left. The estimate is measured, not guessed: a PTQ variant still to
 * run is expected to take the mean time of the PTQ variants finished in this invocation, a QAT
 * variant its {@code train.epochs} times the mean seconds per epoch of the QAT variants finished in
 * this invocation (their whole time, calibration and export included, divided by their epochs).
 * Reused ({@code --resume}) and failed variants are not timings. While a kind still to run has no
 * timing, the line says "at least" and which kind is missing.
 */
final class RemainingTime {

    private double ptqSeconds;
    private int ptqCount;
    private double qatSeconds;
    private int qatEpochs;

    /** Records a variant that ran to its result in this invocation, in {@code seconds} of wall time. */
    void finished(ExperimentConfig.Variant v, double seconds) {
        if (v.isQat()) {
            qatSeconds += seconds;
            qatEpochs += v.train().epochs();
        } else {
            ptqSeconds += seconds;
            ptqCount++;
        }
    }

    /**
     * {@code "3 of 8 variants done, 4 min 12 s elapsed, about 6 min left"}; "at least ... (no QAT
     * variant timed yet)" while a kind in {@code remaining} has no timing; no estimate when nothing is
     * timed or nothing remains.
     */
    String line(int done, int total, double elapsedSeconds, List<ExperimentConfig.Variant> remaining) {
        StringBuilder sb = new StringBuilder().append(done).append(" of ").append(total).append(" variants done, ")
                .append(duration(elapsedSeconds)).append(" elapsed");
        if (remaining.isEmpty() || (ptqCount == 0 && qatEpochs == 0)) {
            return sb.toString();
        }
        double left = 0;
        String untimed = null;
        for (ExperimentConfig.Variant v : remaining) {
            if (v.isQat()) {
                if (qatEpochs == 0) {
                    untimed = "QAT";
                } else {
                    left += v.train().epochs() * qatSeconds / qatEpochs;
                }
            } else if (ptqCount == 0) {
                untimed = untimed == null ? "PTQ" : untimed;
            } else {
                left += ptqSeconds / ptqCount;
            }
        }
        return sb.append(untimed == null ? ", about " + duration(left) + " left"
                : ", at least " + duration(left) + " left (no " + untimed + " variant timed yet)").toString();
    }

    /** "45 s", "4 min 12 s", "1 h 3 min". */
    static String duration(double seconds) {
        long s = Math.round(Math.max(0, seconds));
        if (s < 60) {
            return s + " s";
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%d min %d s", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%d h %d min", s / 3600, (s % 3600) / 60);
    }
}
