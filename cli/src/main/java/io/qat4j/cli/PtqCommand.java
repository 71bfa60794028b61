package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.api.Model;

import io.qat4j.layers.QuantizedModel;
import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.BadInputException;
import io.qat4j.training.Int8Evaluation;
import io.qat4j.training.PtqRun;
import io.qat4j.training.RunData;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code qat4j ptq CONFIG}: post-training quantization of a trained FP32 model (calibration, PTQ
 * passes, optional sensitivity-guided mixed precision), integer export and INT8-runtime evaluation.
 */
@Command(name = "ptq", mixinStandardHelpOptions = true,
        description = "Post-training quantization: calibrate, (allocate bits by sensitivity,) write the QuantPlan, export and evaluate.",
        footer = {"",
            "Example:  qat4j ptq configs/ptq-int8.yaml --out runs/ptq-int8",
            "Needs the FP32 model named by the config's 'fp32' key: a DL4J zip",
            "(MultiLayerNetwork or ComputationGraph) or a Keras .h5, such as the best.zip of",
            "`qat4j train CONFIG --out DIR` (for configs/ptq-int8.yaml:",
            "configs/fp32-bundled.yaml, --out runs/fp32-bundled).",
            "Writes plan.json (QuantPlan), ptq-float.zip (the float network the plan applies",
            "to: batch norms folded, biases corrected), model.q4j (integer model),",
            "summary.json, provenance.json.",
            "Layers kept in float (partial quantization, ptq.keepMostSensitive) have no",
            "integer form: then no model.q4j is written and the exit code is 1, unless",
            "--allow-partial accepts the float-kept result (summary.json: status 'partial').",
            "On a graph the quantizers placed on Add/concat inputs and shared tensors take",
            "the plan's calibrated tensor ranges (plan.json 'tensors').",
            "The output directory must be new or empty (--force replaces an earlier run's",
            "outputs; never a training run's directory).",
            "Exit codes: 0 done, 1 quantization or export failed (or layers kept in float",
            "without --allow-partial), 2 bad usage, configuration, model or data."})
public final class PtqCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML run configuration with 'fp32' and 'ptq'.")
    Path config;

    @Mixin
    RunOptions options;

    @Option(names = "--allow-partial", description = "Accept a partial quantization: layers kept in float (ptq.keepMostSensitive, or "
            + "layers without an integer form) leave the result a float simulation with no model.q4j; summary.json says status "
            + "'partial' and names them. Without it such a run exits with code 1.")
    boolean allowPartial;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        RunConfig c = RunInputs.loadQuantizationConfig(config, err, "ptq", RunConfig::ptq, "has no 'ptq' section");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            String problem = OutputDirectory.problem(options.outFor(c.name()), "ptq", c, false, false, options.force, null);
            if (problem != null) {
                err.println("qat4j ptq: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            RunInputs.Start start = RunInputs.start(c, config, options.outFor(c.name()), false);
            Path dir = start.dir();
            RunData data = start.data();
            Model teacher = start.fp32().network();
            double fpAccuracy = Trainer.accuracy(teacher, data.test());
            io.qat4j.ptq.PtqPlanner.Planned run = PtqRun.run(teacher, data, c.ptq(), out);
            QuantPlan plan = run.result().plan();
            plan.write(dir.resolve("plan.json"));
            AtomicFiles.write(dir.resolve("ptq-float.zip"), o -> org.deeplearning4j.util.ModelSerializer.writeModel(run.result().model(), o, true));
            QuantizedModel.Wrapped<? extends Model> model = PostTrainingQuantizer.quantizedModel(run.result());
            out.println("wrap: " + model.summary());
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("config", c.name());
            summary.put("fp32Accuracy", fpAccuracy);
            summary.put("weightBits", PostTrainingQuantizer.weightBits(plan));
            summary.put("calibration", plan.calibration());
            summary.put("passes", plan.passes());
            summary.put("calibrationSeconds", run.prepared().seconds());
            if (run.sensitivity() != null) {
                summary.put("sensitivitySeconds", run.sensitivity().seconds());
            }
            if (plan.allocation() != null) {
                summary.put("allocation", plan.allocation());
            }
            double ptqAccuracy;
            String partial = null;
            if (!model.keptInFloat().isEmpty()) {
                ptqAccuracy = Trainer.accuracy(model.network(), data.test());
                java.nio.file.Files.deleteIfExists(dir.resolve("model.q4j"));   // an earlier run's (--force): not this plan's
                partial = "layers kept in float " + model.keptInFloat() + " have no integer form, so no model.q4j was written"
                        + (c.ptq().keepMostSensitive() > 0 ? " (ptq.keepMostSensitive: " + c.ptq().keepMostSensitive() + ")" : "");
                summary.put("status", allowPartial ? "partial" : "failed");
                summary.put("keptInFloat", model.keptInFloat());
                summary.put("ptqAccuracy", ptqAccuracy);
                summary.put("int8Export", "not written: " + partial + (allowPartial
                        ? "; --allow-partial accepted the float-kept result (a float simulation of partial quantization)" : ""));
                out.printf("FP32 %.4f, PTQ %.4f (no integer export: %s kept in float)%n", fpAccuracy, ptqAccuracy, model.keptInFloat().keySet());
            } else {
                summary.put("status", "ok");
                Int8Evaluation e = Int8Evaluation.evaluate(model.network(), data.calibrationSample(), data.test(), dir.resolve("model.q4j"),
                        teacher.numParams() * 4L);
                ptqAccuracy = e.simulatedAccuracy();
                summary.put("ptqAccuracy", ptqAccuracy);
                summary.put("int8RuntimeAccuracy", e.runtimeAccuracy());
                summary.put("argmaxAgreement", e.agreement());
                summary.put("modelBytes", e.modelBytes());
                summary.put("sizeRatio", e.sizeRatio());
                summary.put("exportNotes", e.notes());
                out.printf("FP32 %.4f, PTQ %.4f, INT8 runtime %.4f, agreement %.4f, model.q4j %d bytes (%.3fx of FP32 parameters)%n",
                        fpAccuracy, ptqAccuracy, e.runtimeAccuracy(), e.agreement(), e.modelBytes(), e.sizeRatio());
            }
            Double avg = c.ptq().averageBits();
            if (avg != null && avg == Math.rint(avg) && avg >= 2) {
                // the uniform baseline at the same average width, from the same calibration
                PostTrainingQuantizer.Result uniform = PostTrainingQuantizer.quantize(run.prepared(),
                        run.prepared().recipe().withBits(avg.intValue(), c.ptq().inputBits()));
                double u = Trainer.accuracy(PostTrainingQuantizer.quantizedModel(uniform).network(), data.test());
                summary.put("uniformBaselineWeightBits", avg.intValue());
                summary.put("uniformBaselineAccuracy", u);
                out.printf("uniform %d-bit PTQ baseline %.4f; sensitivity-guided %.4f (%+.2f pp)%n", avg.intValue(), u, ptqAccuracy,
                        100 * (ptqAccuracy - u));
            }
            summary.put("testExamples", data.test().numExamples());
            JsonFiles.write(dir.resolve("summary.json"), summary);
            out.println("wrote " + dir.resolve("plan.json") + ", " + dir.resolve("summary.json"));
            out.flush();
            if (partial != null && !allowPartial) {
                err.println("qat4j ptq: " + partial + "; add --allow-partial to accept the float-kept result, or quantize every layer "
                        + "(ptq.keepMostSensitive: 0)");
                return Qat4jCommand.EXIT_FAILED;
            }
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j ptq: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j ptq: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }
}
