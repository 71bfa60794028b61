package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.api.Model;

import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.ptq.SensitivityAnalysis;
import io.qat4j.ptq.WeightedLayer;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.BadInputException;
import io.qat4j.training.PtqRun;
import io.qat4j.training.RunData;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j sensitivity CONFIG}: per-layer sensitivity of a trained FP32 model, as a table, CSV and JSON. */
@Command(name = "sensitivity", mixinStandardHelpOptions = true,
        description = "Per-layer quantization sensitivity S_l(b) of weights and inputs (one layer quantized at a time).",
        footer = {"",
            "Example:  qat4j sensitivity configs/ptq-mixed-w3.yaml --out runs/sensitivity",
            "Uses the config's 'ptq' section: candidateBits, metric, sensitivitySamples,",
            "perChannelSensitivityBits, calibration.",
            "Writes sensitivity.csv and sensitivity.json. The fp32 model may be a DL4J zip",
            "(MultiLayerNetwork or ComputationGraph) or a Keras .h5; layers are named as in",
            "the network (graph vertex names).",
            "The output directory must be new or empty (--force replaces an earlier run's",
            "outputs; never a training run's directory).",
            "Exit codes: 0 done, 1 analysis failed, 2 bad usage or configuration."})
public final class SensitivityCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML run configuration with 'fp32' and 'ptq'.")
    Path config;

    @Mixin
    RunOptions options;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        RunConfig c = RunInputs.loadQuantizationConfig(config, err, "sensitivity", RunConfig::ptq,
                "has no 'ptq' section (it sets candidateBits, metric and samples)");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            String problem = OutputDirectory.problem(options.outFor(c.name()), "sensitivity", c, false, false, options.force, null);
            if (problem != null) {
                err.println("qat4j sensitivity: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            RunInputs.Start start = RunInputs.start(c, config, options.outFor(c.name()), false);
            Path dir = start.dir();
            RunData data = start.data();
            Model teacher = start.fp32().network();
            PostTrainingQuantizer.Prepared prepared = PtqRun.prepare(teacher, data.train(), c.ptq().recipe(), c.ptq().sensitivitySamples());
            SensitivityAnalysis.Report report = SensitivityAnalysis.run(prepared, c.ptq().sensitivityOptions());
            out.printf("calibration %.1f s, sensitivity %.1f s on %d samples (metric %s)%n", prepared.seconds(), report.seconds(),
                    report.samples(), io.qat4j.training.config.ConfigChoices.spelling(c.ptq().metric()));
            StringBuilder csv = new StringBuilder("layer,weights,kind,bits,S_weights,S_inputs\n");
            for (WeightedLayer l : WeightedLayer.of(prepared.model())) {
                QuantPlan.Sensitivity s = report.layers().get(l.name());
                out.printf("%-8s n=%-7d weights %s%n         inputs  %s%n", l.name(), l.weights(), format(s.weights()), format(s.inputs()));
                java.util.TreeSet<Integer> bits = new java.util.TreeSet<>(s.weights().keySet());
                bits.addAll(s.inputs().keySet());
                for (int b : bits) {
                    csv.append(l.name()).append(',').append(l.weights()).append(',').append(l.kind()).append(',').append(b).append(',')
                            .append(s.weights().containsKey(b) ? s.weights().get(b) : "").append(',')
                            .append(s.inputs().containsKey(b) ? s.inputs().get(b) : "").append('\n');
                }
                if (s.perChannelWeights() != null) {
                    out.printf("         per-channel weights at %d bits: %s%n", s.perChannelBits(),
                            java.util.Arrays.toString(java.util.Arrays.stream(s.perChannelWeights()).mapToObj(v -> String.format("%.2e", v)).toArray()));
                }
            }
            AtomicFiles.write(dir.resolve("sensitivity.csv"), csv.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            JsonFiles.write(dir.resolve("sensitivity.json"), report);
            out.println("wrote " + dir.resolve("sensitivity.csv") + ", " + dir.resolve("sensitivity.json"));
            out.flush();
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j sensitivity: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j sensitivity: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }

    private static String format(Map<Integer, Double> m) {
        StringBuilder sb = new StringBuilder();
        m.forEach((b, v) -> sb.append(String.format("%db %.3e  ", b, v)));
        return sb.toString().trim();
    }
}
