package io.qat4j.training.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** Options shared by the commands that run a configuration. */
public final class RunOptions {

    @Option(names = "--out", description = "Output directory (default: runs/<config name>).")
    Path out;

    @Option(names = "--resume", description = "Continue from the checkpoint in the output directory.")
    boolean resume;

    Path outFor(String name) {
        return out != null ? out : Path.of("runs", name);
    }
}
