package io.qat4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code qat4j} command line. */
@Command(name = "qat4j", mixinStandardHelpOptions = true, version = "qat4j 0.1.0-SNAPSHOT (DL4J 1.0.0-M2.1)",
        description = "Quantization-aware training, PTQ and an INT8 runtime for Deeplearning4j.",
        subcommands = {SelfCheckCommand.class, TrainCommand.class, PtqCommand.class, SensitivityCommand.class, AnalyzeCommand.class, QatCommand.class, EvalCommand.class, ExportCommand.class, RunCommand.class, ExperimentCommand.class, BenchCommand.class,
            CommandLine.HelpCommand.class})
public final class Qat4jCommand implements Runnable {

    /** Exit code for bad usage or input. */
    public static final int EXIT_USAGE = 2;
    /** Exit code for a failed check or run. */
    public static final int EXIT_FAILED = 1;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static CommandLine commandLine() {
        return new CommandLine(new Qat4jCommand());   // picocli answers invalid input with exit code 2 (EXIT_USAGE)
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
