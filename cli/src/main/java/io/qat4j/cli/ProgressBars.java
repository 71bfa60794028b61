package io.qat4j.cli;

import io.qat4j.training.Trainer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Training progress on the console: per-epoch progress bars (me.tongfei:progressbar) on an
 * interactive terminal (without one, in CI, pipes and log files, nothing per batch is printed) and
 * the line each finished epoch prints.
 */
final class ProgressBars implements Trainer.Progress {

    private ProgressBar bar;

    private ProgressBars() {
    }

    /** A progress reporter suited to where the output goes. */
    static Trainer.Progress forConsole() {
        return System.console() != null ? new ProgressBars() : Trainer.Progress.NONE;
    }

    @Override
    public void startEpoch(int epoch, int steps) {
        bar = new ProgressBarBuilder().setTaskName("epoch " + epoch).setInitialMax(steps).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500).build();
    }

    @Override
    public void step(double loss) {
        bar.step();
        bar.setExtraMessage(String.format("loss %.4f", loss));
    }

    @Override
    public void endEpoch() {
        bar.close();
    }

    /** Prints each finished epoch of a run command (and flushes, so progress shows while training runs). */
    static java.util.function.Consumer<Trainer.EpochMetrics> epochPrinter(java.io.PrintWriter out, io.qat4j.training.config.RunConfig c,
                                                                          io.qat4j.training.RunData data) {
        return m -> {
            out.printf("epoch %d/%d: loss %.4f, %s accuracy %.4f, lr %.2e, %.1f s%n", m.epoch(), c.train().epochs(), m.trainLoss(),
                    data.selectsOnTest() ? "test" : "validation", m.validationAccuracy(), m.learningRate(), m.seconds());
            out.flush();
        };
    }
}
