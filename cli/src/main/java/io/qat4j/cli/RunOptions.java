package io.qat4j.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** Options shared by the commands that write a run directory. */
public class RunOptions {

    @Option(names = "--out", description = "Output directory (default: runs/<config name>). It must be new or empty unless --force"
            + " (or --resume, for the commands that train).")
    Path out;

    @Option(names = "--force", description = "Write into a non-empty output directory: the outputs of the earlier run there are "
            + "replaced (a training run's checkpoint, metrics and best.zip are deleted before the first epoch).")
    boolean force;

    Path outFor(String name) {
        return out != null ? out : Path.of("runs", name);
    }

    /** {@link RunOptions} plus {@code --resume}, for the commands that train. */
    public static final class Training extends RunOptions {
        @Option(names = "--resume", description = "Continue the run in the output directory from its last checkpoint (same "
                + "configuration; at most the interrupted epoch is redone).")
        boolean resume;

        @Option(names = "--spark", paramLabel = "MASTER", description = "Train data-parallel on Apache Spark (DL4J parameter "
                + "averaging) with this master: local[N], spark://HOST:PORT, yarn or k8s://https://HOST:PORT; it replaces the "
                + "config's spark.master (or adds a spark section with its defaults).")
        String spark;
    }
}
