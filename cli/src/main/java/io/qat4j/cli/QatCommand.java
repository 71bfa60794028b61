package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.training.BadInputException;
import io.qat4j.training.Int8Evaluation;
import io.qat4j.training.Networks;
import io.qat4j.training.PtqRun;
import io.qat4j.training.RunData;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code qat4j qat CONFIG}: wraps the trained FP32 model for QAT, fine-tunes it, exports the integer
 * model and evaluates it in the INT8 runtime.
 */
@Command(name = "qat", mixinStandardHelpOptions = true,
        description = "Quantization-aware fine-tuning of an FP32 model, integer export and INT8-runtime evaluation.",
        footer = {"",
            "Example:  qat4j qat configs/qat-w4a4-lsq.yaml --out runs/qat-w4a4-lsq",
            "Needs the FP32 model named by the config's 'fp32' key: a DL4J zip",
            "(MultiLayerNetwork or ComputationGraph) or a Keras .h5, such as the best.zip of",
            "`qat4j train CONFIG --out DIR` (for configs/qat-w4a4-lsq.yaml:",
            "configs/fp32.yaml, --out runs/fp32). With a 'ptq' section QAT starts from the",
            "PTQ plan (either kind).",
            "Writes best.zip (the epoch with the best validation accuracy), checkpoint.zip,",
            "metrics, model.q4j (the integer model of the last epoch; summary.json says",
            "which epoch), summary.json, provenance.json.",
            "The output directory must be new or empty; --resume continues the run there,",
            "--force starts it over.",
            "--spark local[2] (or the config's spark section) trains data-parallel on Apache",
            "Spark; export and evaluation are the same.",
            "Exit codes: 0 done, 1 training or export failed, 2 bad usage or configuration."})
public final class QatCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML run configuration with 'fp32' and 'quantization'.")
    Path config;

    @Mixin
    RunOptions.Training options;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        RunConfig loaded = RunInputs.loadQuantizationConfig(config, err, "qat", RunConfig::quantization,
                "has no quantization section; train it with `qat4j train` or quantize it with `qat4j ptq`");
        if (loaded == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        RunConfig c;
        try {
            c = SparkRuns.withOption(loaded, options.spark);
        } catch (SparkRuns.BadUsage e) {
            err.println("qat4j qat: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            String problem = OutputDirectory.problem(options.outFor(c.name()), "qat", c, true, options.resume, options.force, c.train().epochs());
            if (problem != null) {
                err.println("qat4j qat: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            RunInputs.Start start = RunInputs.start(c, config, options.outFor(c.name()), options.resume);
            Path dir = start.dir();
            RunData data = start.data();
            Model teacher = start.fp32().network();
            double fpAccuracy = Trainer.accuracy(teacher, data.test());
            io.qat4j.layers.QuantizationWarnings.drain();   // this run's warnings only (an earlier run in this JVM may have raised some)
            QuantizedModel.Wrapped<? extends Model> w;
            if (c.ptq() != null) {
                io.qat4j.ptq.PtqPlanner.Planned ptq = PtqRun.run(teacher, data, c.ptq(), out);
                ptq.result().plan().write(dir.resolve("plan.json"));
                w = PostTrainingQuantizer.qatStart(ptq.result().model(), ptq.result().plan(), c.quantization().inputs().mode());
                Map<String, String> unranged = io.qat4j.ptq.QuantPlan.unranged(w);
                if (unranged.isEmpty()) {
                    out.printf("QAT starts from the PTQ plan (weight bits %s): %.4f before training%n",
                            PostTrainingQuantizer.weightBits(ptq.result().plan()), Trainer.accuracy(w.network(), data.test()));
                } else {
                    out.printf("QAT starts from the PTQ plan (weight bits %s); the quantizers %s on the pre-activations of split "
                            + "activations take their steps from the first training batch%n", PostTrainingQuantizer.weightBits(ptq.result().plan()),
                            unranged.keySet());
                }
            } else {
                QuantSettings s = c.quantization().settings();
                QuantizationPlan.Builder plan = QuantizationPlan.builder(s);
                if (c.quantization().firstLayerSigned() != null) {
                    QuantSettings first = s.clone();
                    first.setInputSigned(c.quantization().firstLayerSigned());
                    first.setInputSignFromData(false);   // the config forces it; negative data on an unsigned input then warns
                    for (String name : inputLayers(teacher)) {
                        plan.layer(name, first);
                    }
                }
                w = wrap(teacher, plan.build());
            }
            Trainer.setWeightDecay(w.network(), c.train().weightDecay());
            out.println("wrap: " + w.summary());
            Trainer trainer = c.distillation() == null ? new Trainer()
                    : new Trainer(new Trainer.Distillation(teacher, c.distillation().weight(), c.distillation().temperature()));
            if (c.distillation() != null) {
                out.printf("distillation from %s: weight %.2f, temperature %.1f%n", c.fp32(), c.distillation().weight(), c.distillation().temperature());
            }
            SparkRuns.Trained<Trainer.Result<? extends Model>> t = SparkRuns.<Trainer.Result<? extends Model>>train(c, trainer, dir, out,
                    (tr, spec) -> tr.train(w.network(), data.train(), data.validation(), spec, dir, options.resume,
                            ProgressBars.epochPrinter(out, c, data), ProgressBars.forConsole()));
            Model q = t.result().network();
            io.qat4j.training.Checkpoint trained = io.qat4j.training.Checkpoint.read(dir);   // which epochs model.q4j and best.zip hold
            double qatAccuracy = Trainer.accuracy(q, data.test());
            INDArray calibration = data.calibrationSample();
            Path modelFile = dir.resolve("model.q4j");
            Int8Evaluation e = Int8Evaluation.evaluate(q, calibration, data.test(), modelFile, teacher.numParams() * 4L);
            double runtimeAccuracy = e.runtimeAccuracy();
            double agreement = e.agreement();
            long bytes = e.modelBytes();
            long fpBytes = teacher.numParams() * 4L;
            int n = data.test().numExamples();
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("config", c.name());
            summary.put("fp32Accuracy", fpAccuracy);
            summary.put("qatAccuracy", qatAccuracy);
            summary.put("int8RuntimeAccuracy", runtimeAccuracy);
            summary.put("argmaxAgreement", agreement);
            summary.put("modelBytes", bytes);
            summary.put("fp32ParameterBytes", fpBytes);
            summary.put("sizeRatio", (double) bytes / fpBytes);
            summary.put("testExamples", n);
            summary.put("modelEpoch", trained.epochsDone());
            summary.put("bestZipEpoch", trained.bestEpoch());
            summary.put("exportNotes", e.notes());
            if (t.spark() != null) {
                summary.put("spark", t.spark());
            }
            java.util.List<String> warnings = io.qat4j.layers.QuantizationWarnings.raised();
            summary.put("warnings", warnings);
            for (String warning : warnings) {
                out.println("warning: " + warning);
            }
            JsonFiles.write(dir.resolve("summary.json"), summary);
            out.printf("FP32 %.4f, QAT %.4f, INT8 runtime %.4f, agreement %.4f, %s: %d bytes (%.3fx of FP32 parameters)%n", fpAccuracy,
                    qatAccuracy, runtimeAccuracy, agreement, modelFile, bytes, (double) bytes / fpBytes);
            out.printf("%s holds epoch %d, the last; %s holds epoch %d, the best on validation (qat4j export exports that one)%n",
                    modelFile, trained.epochsDone(), dir.resolve("best.zip"), trained.bestEpoch());
            out.flush();
            return 0;
        } catch (BadInputException ex) {
            err.println("qat4j qat: " + ex.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception ex) {
            err.println("qat4j qat: " + ex.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }

    /** The network wrapped for QAT with {@code plan} ({@link QuantizedModel#wrap}, either kind). */
    private static QuantizedModel.Wrapped<? extends Model> wrap(Model net, QuantizationPlan plan) {
        return switch (Networks.kind(net)) {
            case MULTI_LAYER -> QuantizedModel.wrap((MultiLayerNetwork) net, plan);
            case GRAPH -> QuantizedModel.wrap((ComputationGraph) net, plan);
        };
    }

    /** Names of the layers that read the network input: the first layer, or every layer vertex fed by the graph's inputs. */
    private static java.util.List<String> inputLayers(Model net) {
        return switch (Networks.kind(net)) {
            case MULTI_LAYER -> java.util.List.of(((MultiLayerNetwork) net).getLayer(0).conf().getLayer().getLayerName());
            case GRAPH -> {
                org.deeplearning4j.nn.conf.ComputationGraphConfiguration conf = ((ComputationGraph) net).getConfiguration();
                yield conf.getVertexInputs().entrySet().stream()
                        .filter(e -> conf.getVertices().get(e.getKey()) instanceof LayerVertex
                                && e.getValue().stream().anyMatch(conf.getNetworkInputs()::contains))
                        .map(java.util.Map.Entry::getKey).toList();
            }
        };
    }
}
