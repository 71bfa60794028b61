package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.api.Model;

import io.qat4j.training.BadInputException;
import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.RunData;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j eval MODEL.zip}: test accuracy of a DL4J model (FP32 or QAT fake-quant) on a configuration's data. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Test accuracy of a model (DL4J zip of a MultiLayerNetwork or "
        + "ComputationGraph, FP32 or QAT, or a Keras .h5) on a configuration's data.",
        footer = {"",
            "Example:  qat4j eval runs/qat-w4a4-lsq/best.zip \\",
            "            --config configs/qat-w4a4-lsq.yaml",
            "Exit codes: 0 done, 1 failure, 2 bad usage or configuration."})
public final class EvalCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "DL4J model zip (e.g. runs/<name>/best.zip) or Keras .h5.")
    Path model;

    @Option(names = "--config", required = true, description = "Run configuration whose test data to use.")
    Path config;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (!Files.isRegularFile(model)) {
            err.println("qat4j eval: model " + model + " does not exist");
            return Qat4jCommand.EXIT_USAGE;
        }
        RunConfig c = RunInputs.loadConfig(config, err, "eval");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            LoadedModel m = ModelLoader.loadConfigured(model, "model");
            Model net = m.network();
            RunData data = RunData.load(c.data(), c.seed(), m.input()).fit(net, m.input(), "model " + m.describe(), config);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("%s on %d test images (%s): accuracy %.4f%n", model, data.test().numExamples(), data.source(),
                    Trainer.accuracy(net, data.test()));
            out.flush();
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j eval: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j eval: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }
}
