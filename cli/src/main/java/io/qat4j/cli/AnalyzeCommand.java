package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantizedModel;
import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.training.BadInputException;
import io.qat4j.training.LayerAnalysis;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.PtqRun;
import io.qat4j.training.RunData;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code qat4j analyze CONFIG}: per-layer diagnostics of a quantized model against its FP32 model
 * ({@link io.qat4j.ptq.LayerDiagnostics}): the config's PTQ result, or a QAT model given with
 * {@code --model}.
 */
@Command(name = "analyze", mixinStandardHelpOptions = true,
        description = "Per-layer error analysis of a quantized model: weight and input SQNR, accuracy with only / all but each layer "
                + "quantized, INT8-runtime vs fake-quant codes per layer, input histograms with the clipping range.",
        footer = {"",
            "Examples:  qat4j analyze configs/ptq-int8.yaml",
            "           qat4j analyze configs/qat-w4a4-lsq.yaml \\",
            "             --model runs/qat-w4a4-lsq/best.zip",
            "Without --model the config's 'ptq' section is applied to its 'fp32' model as",
            "`qat4j ptq` does (same calibration, passes and plan) and the result analysed;",
            "with --model, that quantized DL4J zip (a `qat4j qat` run's best.zip) is",
            "analysed against the config's 'fp32' model.",
            "Samples: the validation split when the config's data has one",
            "(data.validationFraction), else the test set.",
            "Writes diagnostics.json, diagnostics.csv and histograms.png into --out",
            "(default runs/<config name>-analysis), which must be new or empty",
            "(--force replaces an earlier analysis).",
            "Exit codes: 0 done, 1 analysis failed, 2 bad usage, configuration, model",
            "or data."})
public final class AnalyzeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML run configuration with 'fp32' (and 'ptq' without --model).")
    Path config;

    @Option(names = "--model", paramLabel = "ZIP", description = "A quantized DL4J model (QAT best.zip) to analyse instead of the "
            + "config's PTQ result.")
    Path model;

    @Option(names = "--samples", defaultValue = "1000", description = "Samples to analyse, >= 1 (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--bins", defaultValue = "60", description = "Bins of each input histogram, 2..1000 (default ${DEFAULT-VALUE}).")
    int bins;

    @Mixin
    RunOptions options;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (samples < 1 || bins < 2 || bins > 1000) {
            err.println("qat4j analyze: " + (samples < 1 ? "--samples must be >= 1, got " + samples
                    : "--bins must be between 2 and 1000, got " + bins));
            return Qat4jCommand.EXIT_USAGE;
        }
        if (model != null && !Files.isRegularFile(model)) {
            err.println("qat4j analyze: --model " + model + " does not exist");
            return Qat4jCommand.EXIT_USAGE;
        }
        RunConfig c = RunInputs.loadQuantizationConfig(config, err, "analyze", model != null ? rc -> rc : RunConfig::ptq,
                "has no 'ptq' section: give one, or a quantized model with --model");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        Path dir = options.outFor(c.name() + "-analysis");
        try {
            String problem = OutputDirectory.problem(dir, "analyze", c, false, false, options.force, null);
            if (problem != null) {
                err.println("qat4j analyze: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            RunInputs.Start start = RunInputs.start(c, config, dir, false);
            RunData data = start.data();
            Model fp32 = start.fp32().network();
            Model quantized;
            Model reference;   // the float network the quantizers were calibrated on: batch norms folded, layers equalized
            boolean exportable;
            String what;
            if (model != null) {
                quantized = ModelLoader.loadConfigured(model, "--model").network();
                reference = c.ptq() == null ? fp32 : PtqRun.prepare(fp32, data.train(), c.ptq().recipe(), c.ptq().keptSamples()).model();
                exportable = true;
                what = model.toString();
            } else {
                io.qat4j.ptq.PtqPlanner.Planned planned = PtqRun.run(fp32, data, c.ptq(), out);
                reference = planned.prepared().model();
                QuantizedModel.Wrapped<? extends Model> w = PostTrainingQuantizer.quantizedModel(planned.result());
                quantized = w.network();
                exportable = w.keptInFloat().isEmpty();
                what = "PTQ of " + c.fp32();
                if (!exportable) {
                    out.println("layers kept in float " + w.keptInFloat().keySet() + ": no integer model, no INT8 comparison");
                }
            }
            INDArray calibration = data.calibrationSample();
            LayerAnalysis a;
            try {
                a = LayerAnalysis.run(reference, quantized, calibration, data.validation(), data.validationName(), samples, bins,
                        exportable);
            } catch (IllegalArgumentException e) {
                if (model != null && e.getMessage().contains("no quantized layer")) {
                    err.println("qat4j analyze: --model " + model + " has no quantized layer; give a quantized model (the best.zip of "
                            + "`qat4j qat`), or leave --model out to analyse the config's PTQ");
                    return Qat4jCommand.EXIT_USAGE;
                }
                throw e;
            }
            a.write(dir);
            if (a.exportProblem() != null) {
                out.println("no INT8 comparison: the integer export failed: " + a.exportProblem());
            }
            DiagnosticsCharts.histograms(dir.resolve("histograms.png"), what, a);
            out.printf("%s on the %s: float %.4f, fake quant %.4f%n", what, a.samples(), a.report().floatAccuracy(),
                    a.report().quantizedAccuracy());
            out.print(DiagnosticsCharts.table(a));
            out.println("wrote " + dir.resolve(LayerAnalysis.JSON_FILE) + ", " + dir.resolve(LayerAnalysis.CSV_FILE) + ", "
                    + dir.resolve("histograms.png"));
            out.flush();
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j analyze: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j analyze: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }
}
