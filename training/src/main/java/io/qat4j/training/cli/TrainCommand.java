package io.qat4j.training.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.learning.config.Adam;


import io.qat4j.layers.ReferenceCnn;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j train CONFIG}: trains the FP32 model a config describes. */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train the FP32 model of a configuration.",
        footer = {"", "Example:  qat4j train configs/fp32.yaml --out runs/fp32",
            "Writes best.zip, checkpoint.zip (+ .json), metrics.csv/.jsonl, resolved-config.yaml, provenance.json.",
            "The output directory must be new or empty; --resume continues the run there, --force starts it over.",
            "Exit codes: 0 done, 1 training failed, 2 bad usage or configuration."})
public final class TrainCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML run configuration without a quantization section.")
    Path config;

    @Mixin
    RunOptions.Training options;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        RunConfig c = Runs.loadOrReport(config, err, "train");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        if (c.isQat() || c.isPtqOnly()) {
            err.println("qat4j train: " + config + " quantizes a trained model; run it with `qat4j " + (c.isQat() ? "qat" : "ptq") + "`");
            return Qat4jCommand.EXIT_USAGE;
        }
        Path dir = options.outFor(c.name());
        try {
            String problem = Runs.outProblem(dir, "train", c, true, options.resume, options.force, c.train().epochs());
            if (problem != null) {
                err.println("qat4j train: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            Runs.RunData data = Runs.data(c);
            out.printf("data: %s (%s), %d train / %s / %d test%n", data.source(), data.location(), data.train().numExamples(),
                    data.selectsOnTest() ? "model selection on the test set" : data.validation().numExamples() + " validation",
                    data.test().numExamples());
            Runs.provenance(dir, config, c, data, options.resume);
            Trainer.seed(c.seed());
            long[] shape = data.train().getFeatures().shape();
            MultiLayerNetwork net = ReferenceCnn.build(c.seed(), new Adam(c.train().learningRate()), c.train().weightDecay(), (int) shape[1],
                    (int) shape[2], (int) shape[3], (int) data.train().getLabels().size(1));
            Trainer.Result r = io.qat4j.training.FloatTraining.train(new Trainer(), net, data.train(), data.validation(),
                    c.train().toSpec(c.seed()), dir, options.resume, Runs.epochPrinter(out, c, data), ProgressBars.forConsole(),
                    c.train().nativeLayers());
            if (data.selectsOnTest()) {
                out.printf("best test accuracy %.4f; model %s%n", r.bestValidationAccuracy(), dir.resolve("best.zip"));
            } else {
                MultiLayerNetwork best = org.deeplearning4j.util.ModelSerializer.restoreMultiLayerNetwork(dir.resolve("best.zip").toFile(), false);
                out.printf("best validation accuracy %.4f, its test accuracy %.4f; model %s%n", r.bestValidationAccuracy(),
                        Trainer.accuracy(best, data.test()), dir.resolve("best.zip"));
            }
            out.flush();
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j train: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j train: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }
}
