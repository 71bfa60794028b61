package io.qat4j.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

import picocli.CommandLine;

/** Runs the {@code qat4j} command line in-process for the CLI tests. */
final class CliRun {

    private CliRun() {
    }

    /** {exit code, stdout, stderr} of {@code qat4j args...}. */
    static String[] run(String... args) {
        CommandLine cli = Qat4jCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }
}
