package io.qat4j.training.experiment;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

import com.fasterxml.jackson.annotation.JsonInclude;

import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.Int8Evaluation;
import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.Networks;
import io.qat4j.training.PtqRun;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.ExperimentConfig;
import io.qat4j.training.config.RunConfig;


/**
 * Runs an {@link ExperimentConfig}: the FP32 model (a MultiLayerNetwork or a ComputationGraph),
 * then each variant (PTQ, or QAT started from the PTQ plan of the same bits), each exported and
 * evaluated in the INT8 runtime. Every finished stage
 * writes its {@code result.json} (atomically); with {@code resume} those are reused, so an interrupted
 * experiment loses only the variant in flight. A failing variant is recorded with its error and the
 * others still run.
 */
final class Experiment {

    /** One row of the report. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record VariantResult(String name, String method, String weights, String inputs, String status, String error,
                         Double simulatedAccuracy, Double int8Accuracy, Double agreement, Long modelBytes, Double sizeRatio,
                         Double calibrationSeconds, Double trainSeconds, Double totalSeconds, Map<String, Integer> layerBits,
                         Map<String, QuantPlan.Sensitivity> sensitivity, List<String> passes, String target, Boolean targetMet) {

        /** The accuracy the report compares: INT8 runtime when exported, else the fake-quant network's. */
        Double accuracy() {
            return int8Accuracy != null ? int8Accuracy : simulatedAccuracy;
        }

        VariantResult withTarget(String t, Boolean met) {
            return new VariantResult(name, method, weights, inputs, status, error, simulatedAccuracy, int8Accuracy, agreement, modelBytes,
                    sizeRatio, calibrationSeconds, trainSeconds, totalSeconds, layerBits, sensitivity, passes, t, met);
        }
    }

    /** The FP32 stage's result. */
    record Fp32Result(double accuracy, long parameterBytes, double trainSeconds, String model) {
    }

    private final ExperimentConfig config;
    private final Path out;
    private final boolean resume;
    private final PrintWriter log;
    private final Map<String, PostTrainingQuantizer.Prepared> prepared = new HashMap<>();

    Experiment(ExperimentConfig config, Path out, boolean resume, PrintWriter log) {
        this.config = config;
        this.out = out;
        this.resume = resume;
        this.log = log;
    }

    /** Runs everything; returns the FP32 result and the variant results in config order. */
    ExperimentReport.Results run(Runs.RunData data, LoadedModel fp32Model) throws Exception {
        return run(data, fp32Model, r -> { });
    }

    /**
     * Runs everything; {@code progress} receives the results so far after each variant (the report
     * is rewritten then, so an experiment in progress already has a partial report).
     *
     * @param data      the data, fitted to {@code fp32Model} when there is one ({@link Runs#fit})
     * @param fp32Model the loaded {@code fp32.model} (a DL4J zip of either kind or a Keras file), or null to train the FP32 stage
     */
    ExperimentReport.Results run(Runs.RunData data, LoadedModel fp32Model, java.util.function.Consumer<ExperimentReport.Results> progress)
            throws Exception {
        long start = System.nanoTime();
        Trainer.seed(config.seed());
        Model fp32 = fp32(data, fp32Model);
        Fp32Result fp = Runs.JSON.readValue(out.resolve("fp32/result.json").toFile(), Fp32Result.class);
        List<VariantResult> results = new ArrayList<>();
        int i = 0;
        for (ExperimentConfig.Variant v : config.variants()) {
            i++;
            Path dir = out.resolve("variants").resolve(v.name());
            Path done = dir.resolve("result.json");
            if (resume && Files.isRegularFile(done)) {
                VariantResult r = Runs.JSON.readValue(done.toFile(), VariantResult.class);
                log.printf("[%d/%d] %s: reused %s (%s)%n", i, config.variants().size(), v.name(), done, r.status());
                log.flush();
                results.add(r);
                continue;
            }
            log.printf("[%d/%d] %s: %s%n", i, config.variants().size(), v.name(), v.isQat() ? "QAT" : "PTQ");
            log.flush();
            VariantResult r;
            long t0 = System.nanoTime();
            try {
                Trainer.seed(config.seed());
                r = v.isQat() ? qat(v, fp32, data, dir, t0) : ptq(v, fp32, data, dir, t0);
            } catch (Exception | OutOfMemoryError e) {
                String msg = e.getClass().getSimpleName() + ": " + e.getMessage();
                r = new VariantResult(v.name(), v.isQat() ? "QAT" : "PTQ", null, null, "failed", msg, null, null, null, null, null, null,
                        null, (System.nanoTime() - t0) / 1e9, null, null, null, null, null);
                log.printf("[%d/%d] %s FAILED: %s%n", i, config.variants().size(), v.name(), msg);
            }
            Files.createDirectories(dir);
            AtomicFiles.write(done, Runs.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(r));
            if ("ok".equals(r.status())) {
                log.printf("[%d/%d] %s: %.2f%% (INT8 runtime %s), %s, %.1f s%n", i, config.variants().size(), v.name(),
                        100 * r.simulatedAccuracy(), r.int8Accuracy() == null ? "n/a" : String.format("%.2f%%", 100 * r.int8Accuracy()),
                        r.modelBytes() == null ? "no integer model" : r.modelBytes() + " bytes", r.totalSeconds());
            }
            log.flush();
            results.add(r);
            if (results.size() < config.variants().size()) {
                progress.accept(new ExperimentReport.Results(fp, withTargets(results, fp), (System.nanoTime() - start) / 1e9));
            }
        }
        results = withTargets(results, fp);
        return new ExperimentReport.Results(fp, results, (System.nanoTime() - start) / 1e9);
    }

    private List<VariantResult> withTargets(List<VariantResult> results, Fp32Result fp) {
        Map<String, VariantResult> byName = new LinkedHashMap<>();
        results.forEach(r -> byName.put(r.name(), r));
        List<VariantResult> out = new ArrayList<>();
        for (int k = 0; k < results.size(); k++) {
            VariantResult r = results.get(k);
            ExperimentConfig.Target t = config.variants().get(k).target();
            if (t == null || (!t.vs().equals("fp32") && !byName.containsKey(t.vs()))) {
                out.add(r);
                continue;
            }
            Double ref = t.vs().equals("fp32") ? Double.valueOf(fp.accuracy()) : byName.get(t.vs()).accuracy();
            Boolean met = r.accuracy() == null || ref == null ? Boolean.FALSE : t.met(r.accuracy(), ref);
            out.add(r.withTarget(t.describe(), met));
        }
        return out;
    }

    /** The loaded FP32 model, or the trained (or on resume reused) reference CNN; writes fp32/result.json. */
    private Model fp32(Runs.RunData data, LoadedModel loaded) throws Exception {
        Path dir = out.resolve("fp32");
        Path done = dir.resolve("result.json");
        Files.createDirectories(dir);
        if (loaded != null) {
            Model net = loaded.network();
            write(done, new Fp32Result(Trainer.accuracy(net, data.test()), net.numParams() * 4L, 0, loaded.file().toString()));
            log.printf("fp32: loaded %s, %s%n", loaded.describe(), Networks.describe(net));
            return net;
        }
        if (resume && Files.isRegularFile(done)) {
            log.printf("fp32: reused %s%n", dir.resolve("best.zip"));
            return ModelLoader.load(dir.resolve("best.zip")).network();
        }
        RunConfig.Train t = config.fp32().train();
        long[] shape = data.train().getFeatures().shape();
        MultiLayerNetwork net = ReferenceCnn.build(config.seed(), new Adam(t.learningRate()), t.weightDecay(), (int) shape[1], (int) shape[2],
                (int) shape[3], (int) data.train().getLabels().size(1));
        log.printf("fp32: training the reference CNN for %d epochs%n", t.epochs());
        log.flush();
        long t0 = System.nanoTime();
        Trainer.Result<MultiLayerNetwork> r = io.qat4j.training.FloatTraining.train(new Trainer(), net, data.train(), data.validation(), t.toSpec(config.seed()),
                dir, resume, m -> {
                    log.printf("fp32 epoch %d/%d: loss %.4f, accuracy %.4f, %.1f s%n", m.epoch(), t.epochs(), m.trainLoss(),
                            m.validationAccuracy(), m.seconds());
                    log.flush();
                }, ProgressBars.forConsole(), t.nativeLayers());
        MultiLayerNetwork best = r.network();
        write(done, new Fp32Result(Trainer.accuracy(best, data.test()), best.numParams() * 4L, (System.nanoTime() - t0) / 1e9,
                dir.resolve("best.zip").toString()));
        return best;
    }

    private static void write(Path file, Object value) throws Exception {
        AtomicFiles.write(file, Runs.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(value));
    }

    /** One calibration pass per (fold, equalization, samples, kept samples), shared by the variants. */
    private PostTrainingQuantizer.Prepared prepare(Model fp32, Runs.RunData data, RunConfig.Ptq p) {
        int keep = p.needsSensitivity() ? p.sensitivitySamples() : 0;
        String key = p.foldBatchNorm() + "/" + p.crossLayerEqualization() + "/" + p.samples() + "/" + keep;
        PostTrainingQuantizer.Prepared cached = prepared.get(key);
        if (cached == null) {
            cached = PtqRun.prepare(fp32, data.train(), p.recipe(), keep);
            prepared.put(key, cached);
        }
        return new PostTrainingQuantizer.Prepared(cached.model(), cached.calibration(), cached.passes(), p.recipe(), cached.seconds());
    }

    /** The variant's PTQ plan from the shared calibration, written to {@code dir/plan.json}. */
    private PtqRun plan(Model fp32, Runs.RunData data, RunConfig.Ptq p, Path dir) throws java.io.IOException {
        PtqRun run = PtqRun.plan(prepare(fp32, data, p), p, log);
        Files.createDirectories(dir);
        run.result().plan().write(dir.resolve("plan.json"));
        return run;
    }

    private VariantResult ptq(ExperimentConfig.Variant v, Model fp32, Runs.RunData data, Path dir, long t0) throws Exception {
        RunConfig.Ptq p = v.ptq();
        long c0 = System.nanoTime();
        PtqRun run = plan(fp32, data, p, dir);
        double calSeconds = run.prepared().seconds() + (System.nanoTime() - c0) / 1e9;
        QuantizedModel.Wrapped<? extends Model> model = PostTrainingQuantizer.quantizedModel(run.result());
        return evaluate(v, "PTQ " + p.calibration() + (p.averageBits() != null ? ", mixed precision (" + p.allocation() + ")" : "")
                        + (p.keepMostSensitive() > 0 ? ", " + p.keepMostSensitive() + " most sensitive in float" : ""),
                weightsLabel(p, run.result().plan()), inputsLabel(p, p.inputBits()), model.network(), model.keptInFloat(),
                run.result().plan(), run.sensitivity(), data, dir, fp32, calSeconds, null, t0);
    }

    private VariantResult qat(ExperimentConfig.Variant v, Model fp32, Runs.RunData data, Path dir, long t0) throws Exception {
        RunConfig rc = v.toRunConfig(config.seed(), config.data(), "fp32");
        RunConfig.Ptq p = rc.ptq();
        long c0 = System.nanoTime();
        PtqRun run = plan(fp32, data, p, dir);
        double calSeconds = run.prepared().seconds() + (System.nanoTime() - c0) / 1e9;
        QuantizedModel.Wrapped<? extends Model> start = PostTrainingQuantizer.qatStart(run.result().model(), run.result().plan(),
                rc.quantization().inputs().mode());
        Trainer.setWeightDecay(start.network(), rc.train().weightDecay());
        Trainer trainer = rc.distillation() == null ? new Trainer()
                : new Trainer(new Trainer.Distillation(fp32, rc.distillation().weight(), rc.distillation().temperature()));
        long tt = System.nanoTime();
        io.qat4j.layers.QuantizationWarnings.drain();   // this variant's warnings only (layer names repeat across variants)
        Trainer.Result<? extends Model> r = trainer.train(start.network(), data.train(), data.validation(), rc.train().toSpec(config.seed()),
                dir, resume,
                m -> {
                    log.printf("  %s epoch %d/%d: loss %.4f, accuracy %.4f, %.1f s%n", v.name(), m.epoch(), rc.train().epochs(),
                            m.trainLoss(), m.validationAccuracy(), m.seconds());
                    log.flush();
                }, ProgressBars.forConsole());
        double trainSeconds = (System.nanoTime() - tt) / 1e9;
        for (String warning : io.qat4j.layers.QuantizationWarnings.drain()) {
            log.println("  " + v.name() + " warning: " + warning);
        }
        String method = "QAT " + rc.quantization().weights().mode() + "/" + rc.quantization().inputs().mode()
                + (rc.distillation() != null ? " + KD" : "") + " from PTQ plan";
        return evaluate(v, method, weightsLabel(p, run.result().plan()), inputsLabel(p, rc.quantization().inputs().bits()),
                r.network(), start.keptInFloat(), run.result().plan(), run.sensitivity(), data, dir, fp32, calSeconds, trainSeconds, t0);
    }

    private static String inputsLabel(RunConfig.Ptq p, int bits) {
        return bits + (p.firstLastBits() != null ? " (first/last " + p.firstLastBits() + ")" : "");
    }

    private static String weightsLabel(RunConfig.Ptq p, QuantPlan plan) {
        String firstLast = p.firstLastBits() != null ? " (first/last " + p.firstLastBits() + ")" : "";
        if (!p.weightQuantizer().equals("uniform")) {
            return p.weightQuantizer() + firstLast;
        }
        if (p.averageBits() != null) {
            return String.format("mixed %.2f avg", (double) plan.allocation().costBits() / plan.layers().stream()
                    .mapToLong(QuantPlan.LayerPlan::weights).sum());
        }
        return p.weightBits() + firstLast;
    }

    private VariantResult evaluate(ExperimentConfig.Variant v, String method, String weights, String inputs,
                                   Model network, Map<String, String> keptInFloat, QuantPlan plan,
                                   io.qat4j.ptq.SensitivityAnalysis.Report sensitivity, Runs.RunData data, Path dir, Model fp32,
                                   double calSeconds, Double trainSeconds, long t0) throws Exception {
        Map<String, Integer> bits = PostTrainingQuantizer.weightBits(plan);
        Map<String, QuantPlan.Sensitivity> sens = sensitivity == null ? null : sensitivity.layers();
        if (!keptInFloat.isEmpty()) {
            double acc = Trainer.accuracy(network, data.test());
            return new VariantResult(v.name(), method + " (not exportable: " + keptInFloat.keySet() + " in float)", weights, inputs,
                    "ok", null, acc, null, null, null, null, calSeconds, trainSeconds, (System.nanoTime() - t0) / 1e9, bits, sens,
                    plan.passes(), null, null);
        }
        INDArray calibration = data.train().getFeatures().get(NDArrayIndex.interval(0, Math.min(256, data.train().numExamples())));
        Int8Evaluation e = Int8Evaluation.evaluate(network, calibration, data.test(), dir.resolve("model.q4j"), fp32.numParams() * 4L);
        return new VariantResult(v.name(), method, weights, inputs, "ok", null, e.simulatedAccuracy(), e.runtimeAccuracy(), e.agreement(),
                e.modelBytes(), e.sizeRatio(), calSeconds, trainSeconds, (System.nanoTime() - t0) / 1e9, bits, sens, plan.passes(), null, null);
    }
}
