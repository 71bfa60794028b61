package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import io.qat4j.export.Int8Exporter;
import io.qat4j.runtime.ModelFile;
import io.qat4j.training.BadInputException;
import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.RunData;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j export MODEL.zip}: a trained QAT network to an integer model file. */
@Command(name = "export", mixinStandardHelpOptions = true, description = "Export a trained QAT model (DL4J zip: MultiLayerNetwork, or ComputationGraph with residual adds) to a qat4j integer model file.",
        footer = {"",
            "Example:  qat4j export runs/qat-w4a4-lsq/best.zip \\",
            "            --config configs/qat-w4a4-lsq.yaml --out model-best.q4j",
            "The config's data supplies 256 calibration images for the logits' scale.",
            "best.zip is a training run's epoch with the best validation accuracy; the",
            "model.q4j that `qat4j qat` and `qat4j experiment` write is the last epoch's",
            "(the command says which epoch it exports).",
            "Exit codes: 0 done, 1 export failed, 2 bad usage or configuration."})
public final class ExportCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "QAT model: DL4J zip (e.g. runs/<name>/best.zip), MultiLayerNetwork "
            + "or ComputationGraph; onnx-fp32 also takes a Keras .h5.")
    Path model;

    @Option(names = "--config", required = true, description = "Run configuration whose data to calibrate with.")
    Path config;

    @Option(names = "--out", required = true, description = "Integer model file to write (atomically).")
    Path out;

    @Option(names = "--format", defaultValue = "q4j", description = "Output format: q4j (default; the qat4j integer model), onnx (QDQ "
            + "model of the same integer model, opset 13, per-channel weights), or onnx-fp32 (a float model of stock DL4J layers, e.g. "
            + "runs/fp32/best.zip, as a float ONNX model).")
    String format;

    @Option(names = "--rounding", defaultValue = "SINGLE", description = "Requantization rounding: SINGLE (default; TFLite's "
            + "TFLITE_SINGLE_ROUNDING, within half a step of acc*M) or DOUBLE (TFLite's default build; drifts at 2-3 bits).")
    io.qat4j.runtime.FixedPoint.Rounding rounding;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        if (!java.util.List.of("q4j", "onnx", "onnx-fp32").contains(format)) {
            err.println("qat4j export: --format '" + format + "' is not one of q4j, onnx, onnx-fp32");
            return Qat4jCommand.EXIT_USAGE;
        }
        if (!Files.isRegularFile(model)) {
            err.println("qat4j export: model " + model + " does not exist");
            return Qat4jCommand.EXIT_USAGE;
        }
        if (out.toAbsolutePath().normalize().equals(model.toAbsolutePath().normalize()) || Files.isDirectory(out)) {
            err.println("qat4j export: --out " + out + (Files.isDirectory(out) ? " is a directory" : " is the model being exported")
                    + "; name the integer model file to write, e.g. model.q4j");
            return Qat4jCommand.EXIT_USAGE;
        }
        RunConfig c = RunInputs.loadConfig(config, err, "export");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            String epoch = epochNote(model);
            LoadedModel m = ModelLoader.loadConfigured(model, "model");
            String name = "model " + m.describe();
            RunData data = RunData.load(c.data(), c.seed(), m.input()).fit(m.network(), m.input(), name, config);
            PrintWriter o = spec.commandLine().getOut();
            if (format.equals("onnx-fp32")) {
                long[] shape = data.train().getFeatures().shape();
                int[] dims = new int[shape.length - 1];
                for (int i = 1; i < shape.length; i++) {
                    dims[i - 1] = (int) shape[i];
                }
                io.qat4j.export.OnnxExporter.write(switch (m.kind()) {
                    case MULTI_LAYER -> io.qat4j.export.OnnxExporter.float32((MultiLayerNetwork) m.network(), dims);
                    case GRAPH -> io.qat4j.export.OnnxExporter.float32((ComputationGraph) m.network(), dims);
                }, out);
                o.printf("wrote %s: %d bytes (float ONNX, opset %d)%n", out, Files.size(out), io.qat4j.export.OnnxExporter.OPSET);
                o.flush();
                return 0;
            }
            org.nd4j.linalg.api.ndarray.INDArray calibration = data.calibrationSample();
            Int8Exporter.Result r = switch (m.kind()) {
                case MULTI_LAYER -> Int8Exporter.export((MultiLayerNetwork) m.network(), calibration, rounding);
                case GRAPH -> Int8Exporter.export((ComputationGraph) m.network(), calibration, rounding);
            };
            if (out.toAbsolutePath().getParent() != null) {
                Files.createDirectories(out.toAbsolutePath().getParent());
            }
            if (format.equals("onnx")) {
                io.qat4j.export.OnnxExporter.write(io.qat4j.export.OnnxExporter.qdq(r), out);
            } else {
                ModelFile.write(r.graph(), out);
            }
            r.notes().forEach(n -> o.println("note: " + n));
            if (epoch != null) {
                o.println("note: " + epoch);
            }
            o.printf("wrote %s: %d bytes, %d nodes%n", out, Files.size(out), r.graph().nodes().size());
            o.flush();
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j export: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j export: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }

    /**
     * Which training epoch {@code model} is, when it is a training run's {@code best.zip} (from the run's
     * {@code checkpoint.json}), and which one the run's own {@code model.q4j} holds: they differ when
     * the last epoch was not the best on validation. Null for any other file.
     */
    static String epochNote(Path model) throws java.io.IOException {
        Path runDir = model.toAbsolutePath().getParent();
        if (!model.getFileName().toString().equals("best.zip") || runDir == null) {
            return null;
        }
        io.qat4j.training.Checkpoint c = io.qat4j.training.Checkpoint.read(runDir);
        if (c == null || c.epochsDone() == 0) {
            return null;
        }
        Path q4j = model.resolveSibling("model.q4j");
        return String.format(java.util.Locale.ROOT, "%s is epoch %d of the %d trained (the best validation accuracy, %.4f)%s", model,
                c.bestEpoch(), c.epochsDone(), c.bestValidationAccuracy(), !Files.isRegularFile(q4j) ? ""
                        : c.bestEpoch() == c.epochsDone() ? "; " + q4j + " beside it holds the same epoch"
                        : "; " + q4j + " beside it holds epoch " + c.epochsDone() + ", the last, so the two integer models differ");
    }
}
