package io.qat4j.cli;

import io.qat4j.training.Trainer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Per-epoch progress bars (me.tongfei:progressbar) on an interactive terminal; without one
 * (CI, pipes, log files) nothing per batch is printed and the per-epoch lines remain.
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
}
