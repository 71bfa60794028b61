package io.qat4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import io.qat4j.training.BadInputException;
import io.qat4j.training.config.ConfigException;
import io.qat4j.training.config.ConfigLoader;
import io.qat4j.training.config.ExperimentConfig;
import io.qat4j.training.experiment.Experiment;
import io.qat4j.training.experiment.ExperimentResults;
import io.qat4j.training.experiment.VariantResult;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j experiment CONFIG --out DIR}: FP32, then every PTQ/QAT variant, exported and run in the INT8 runtime, with a report. */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = "PTQ-vs-QAT experiment: train or load the FP32 model, run every variant, export each, evaluate in the INT8 runtime, write a report.",
        footer = {"",
            "Example:  qat4j experiment configs/quickstart.yaml --out runs/quickstart",
            "Writes DIR/report.md, results.csv, results.json, accuracy-vs-size.png,",
            "sensitivity.png, provenance.json, DIR/fp32/ and DIR/variants/<name>/",
            "(plan.json, result.json; model.q4j, the integer model of the variant's network:",
            "for QAT variants the last epoch's, while best.zip beside it holds the epoch",
            "with the best validation accuracy; checkpoints).",
            "fp32.model may be a DL4J zip (MultiLayerNetwork or ComputationGraph, e.g. a",
            "ResNet-style graph) or a Keras .h5; every variant (PTQ, mixed precision, QAT",
            "from the PTQ plan) takes either kind.",
            "--resume reuses finished variants (their result.json) and continues an",
            "interrupted training from its checkpoint; without it the output directory must",
            "be new or empty (--force starts the experiment over there).",
            "Exit codes: 0 done (failed variants are reported in the table), 1 the",
            "experiment itself failed, 2 bad usage or configuration."})
public final class ExperimentCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML experiment configuration (fp32 + variants).")
    Path config;

    @Option(names = "--out", description = "Output directory (default: runs/<experiment name>).")
    Path out;

    @Option(names = "--resume", description = "Reuse finished stages in the output directory (same configuration).")
    boolean resume;

    @Option(names = "--force", description = "Run in a non-empty output directory, redoing every stage (each training starts over).")
    boolean force;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter log = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ExperimentConfig c;
        try {
            c = ConfigLoader.load(config, ExperimentConfig.class);
        } catch (ConfigException e) {
            err.println("qat4j experiment: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        }
        Path dir = out != null ? out : Path.of("runs", c.name());
        try {
            String problem = OutputDirectory.problem(dir, "experiment", c, true, resume, force, null);
            if (problem != null) {
                err.println("qat4j experiment: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            ExperimentResults results = Experiment.of(c, dir).resume(resume).log(log).progress(ProgressBars.forConsole())
                    .configSource(config.toString()).onVariant(partial -> {
                        try {
                            ExperimentReport.write(dir, c.name() + " (in progress: " + partial.variants().size() + " of "
                                    + c.variants().size() + " variants done)", partial);
                        } catch (IOException e) {
                            log.println("note: could not write the partial report: " + e.getMessage());
                        }
                    }).run();
            ExperimentReport.write(dir, c.name(), results);
            long failed = results.variants().stream().filter(v -> v.status() == VariantResult.Status.FAILED).count();
            log.printf("wrote %s (%d variants, %d failed); experiment wall time %s%n", dir.resolve("report.md"), results.variants().size(),
                    failed, ExperimentReport.wallTime(results));
            log.flush();
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j experiment: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j experiment: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }
}
