package io.qat4j.training.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.layers.export.Int8Exporter;
import io.qat4j.runtime.ModelFile;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j export MODEL.zip}: a trained QAT network to an integer model file. */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a trained QAT model (DL4J zip) to a qat4j integer model file.",
        footer = {"", "Example:  qat4j export runs/qat-w4a4-lsq/best.zip --config configs/qat-w4a4-lsq.yaml --out model.q4j",
            "The config's data supplies 256 calibration images for the logits' scale.",
            "Exit codes: 0 done, 1 export failed, 2 bad usage or configuration."})
public final class ExportCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "QAT model zip (e.g. runs/<name>/best.zip).")
    Path model;

    @Option(names = "--config", required = true, description = "Run configuration whose data to calibrate with.")
    Path config;

    @Option(names = "--out", required = true, description = "Integer model file to write (atomically).")
    Path out;

    @Option(names = "--format", defaultValue = "q4j", description = "Output format: q4j (default). ONNX export is not available yet.")
    String format;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (!format.equals("q4j")) {
            err.println("qat4j export: format '" + format + "' is not available; only q4j (the qat4j integer model file) is");
            return Qat4jCommand.EXIT_USAGE;
        }
        if (!Files.isRegularFile(model)) {
            err.println("qat4j export: model " + model + " does not exist");
            return Qat4jCommand.EXIT_USAGE;
        }
        RunConfig c = Runs.loadOrReport(config, err, "export");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(model.toFile(), false);
            Runs.RunData data = Runs.data(c);
            Int8Exporter.Result r = Int8Exporter.export(net,
                    data.train().getFeatures().get(NDArrayIndex.interval(0, Math.min(256, data.train().numExamples()))));
            if (out.toAbsolutePath().getParent() != null) {
                Files.createDirectories(out.toAbsolutePath().getParent());
            }
            ModelFile.write(r.graph(), out);
            PrintWriter o = spec.commandLine().getOut();
            r.notes().forEach(n -> o.println("note: " + n));
            o.printf("wrote %s: %d bytes, %d nodes%n", out, Files.size(out), r.graph().nodes().size());
            o.flush();
            return 0;
        } catch (Exception e) {
            err.println("qat4j export: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }
}
