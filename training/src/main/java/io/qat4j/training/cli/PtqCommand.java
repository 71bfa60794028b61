package io.qat4j.training.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.layers.QuantizedModel;
import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.Int8Evaluation;
import io.qat4j.training.PtqRun;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code qat4j ptq CONFIG}: post-training quantization of a trained FP32 model (calibration, PTQ
 * passes, optional sensitivity-guided mixed precision), integer export and INT8-runtime evaluation.
 */
@Command(name = "ptq", mixinStandardHelpOptions = true,
        description = "Post-training quantization: calibrate, (allocate bits by sensitivity,) write the QuantPlan, export and evaluate.",
        footer = {"", "Example:  qat4j ptq configs/ptq-int8.yaml --out runs/ptq-int8",
            "Needs the FP32 model named by the config's 'fp32' key (qat4j train configs/fp32.yaml first).",
            "Writes plan.json (QuantPlan), ptq-float.zip (the float network the plan applies to: batch norms folded,",
            "biases corrected), model.q4j (integer model), summary.json, provenance.json.",
            "The output directory must be new or empty (--force replaces an earlier run's outputs; never a training run's directory).",
            "Exit codes: 0 done, 1 quantization or export failed, 2 bad usage or configuration."})
public final class PtqCommand implements Callable<Integer> {

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
        RunConfig c = Runs.loadQuantizationRun(config, err, "ptq", RunConfig::ptq, "has no 'ptq' section");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            String problem = Runs.outProblem(options.outFor(c.name()), "ptq", c, false, false, options.force, null);
            if (problem != null) {
                err.println("qat4j ptq: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            Runs.Start start = Runs.start(c, config, options.outFor(c.name()), false);
            Path dir = start.dir();
            Runs.RunData data = start.data();
            MultiLayerNetwork teacher = start.fp32();
            double fpAccuracy = Trainer.accuracy(teacher, data.test());
            PtqRun run = PtqRun.run(teacher, data.train(), c.ptq(), out);
            QuantPlan plan = run.result().plan();
            plan.write(dir.resolve("plan.json"));
            Runs.writeNetwork(run.result().network(), dir.resolve("ptq-float.zip"));
            QuantizedModel.Wrapped<MultiLayerNetwork> model = PostTrainingQuantizer.model(run.result());
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
            if (!model.keptInFloat().isEmpty()) {
                ptqAccuracy = Trainer.accuracy(model.network(), data.test());
                java.nio.file.Files.deleteIfExists(dir.resolve("model.q4j"));   // an earlier run's (--force): not this plan's
                summary.put("ptqAccuracy", ptqAccuracy);
                summary.put("int8Export", "skipped: layers kept in float " + model.keptInFloat().keySet()
                        + " have no integer form (partial quantization is a float-simulation result)");
                out.printf("FP32 %.4f, PTQ %.4f (no integer export: %s kept in float)%n", fpAccuracy, ptqAccuracy, model.keptInFloat().keySet());
            } else {
                Int8Evaluation e = Int8Evaluation.evaluate(model.network(),
                        data.train().getFeatures().get(NDArrayIndex.interval(0, Math.min(256, data.train().numExamples()))), data.test(),
                        dir.resolve("model.q4j"), teacher.numParams() * 4L);
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
                double u = Trainer.accuracy(PostTrainingQuantizer.model(uniform).network(), data.test());
                summary.put("uniformBaselineWeightBits", avg.intValue());
                summary.put("uniformBaselineAccuracy", u);
                out.printf("uniform %d-bit PTQ baseline %.4f; sensitivity-guided %.4f (%+.2f pp)%n", avg.intValue(), u, ptqAccuracy,
                        100 * (ptqAccuracy - u));
            }
            summary.put("testExamples", data.test().numExamples());
            AtomicFiles.write(dir.resolve("summary.json"), Runs.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(summary));
            out.println("wrote " + dir.resolve("plan.json") + ", " + dir.resolve("summary.json"));
            out.flush();
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
