package io.qat4j.training.experiment;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.QuantizationWarnings;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.ptq.PostTrainingQuantizer;
import io.qat4j.ptq.PtqPlanner;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.ptq.SensitivityAnalysis;
import io.qat4j.training.Checkpoint;
import io.qat4j.training.FloatTraining;
import io.qat4j.training.Int8Evaluation;
import io.qat4j.training.LayerAnalysis;
import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.Networks;
import io.qat4j.training.Provenance;
import io.qat4j.training.PtqRun;
import io.qat4j.training.RunData;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.ConfigChoices;
import io.qat4j.training.config.ExperimentConfig;
import io.qat4j.training.config.RunConfig;

/**
 * Runs an {@link ExperimentConfig}: the FP32 model (trained here, or loaded from {@code fp32.model}: a
 * DL4J zip of either network kind or a Keras file), then each variant (PTQ, or QAT started from the
 * PTQ plan of the same bits), each exported and evaluated in the INT8 runtime; returns the typed
 * {@link ExperimentResults} and writes them as {@code results.json}. Every finished stage writes its
 * {@code result.json} (atomically), and {@code results.json} is rewritten after every variant; with
 * {@link #resume} those are reused, so an interrupted experiment loses only the variant in flight, and
 * its wall time adds up every invocation ({@link ExperimentResults#invocationSeconds}). A failing
 * variant is recorded with its error ({@link VariantResult.Status#FAILED}) and the others still run.
 * After every variant the log gets a progress line: variants done of the total, elapsed time and the
 * time left, measured on the variants finished so far ({@code RemainingTime}).
 *
 * <pre>{@code
 * ExperimentConfig config = new ExperimentConfig("w8-vs-w4", 1L, RunConfig.Data.bundled(2000, 500),
 *         ExperimentConfig.Fp32.schedule(RunConfig.Train.of(2, 2e-3)),
 *         List.of(ExperimentConfig.Variant.postTraining("ptq-w8a8", RunConfig.Ptq.builder().weightBits(8).build()),
 *                 ExperimentConfig.Variant.quantAware("qat-w4a4", new RunConfig.Quantization(
 *                         new RunConfig.Weights(WeightQuantMode.LSQ, 4, null), new RunConfig.Inputs(InputQuantMode.LSQ, 4), null),
 *                         RunConfig.Train.of(1, 5e-4))));
 * ExperimentResults results = Experiment.of(config, Path.of("runs/w8-vs-w4")).run();
 * }</pre>
 *
 * <p>Files in the output directory: {@code resolved-config.yaml}, {@code provenance.json},
 * {@code results.json}, {@code fp32/} (result.json; best.zip and checkpoints when trained here) and
 * {@code variants/<name>/} (result.json, plan.json, model.q4j when exported, checkpoints of QAT).
 * The report files (Markdown, CSV, plots) are the command line's ({@code qat4j experiment}).
 */
public final class Experiment {

    private final ExperimentConfig config;
    private final Path out;
    private final boolean resume;
    private final PrintWriter log;
    private final Trainer.Progress progress;
    private final Consumer<ExperimentResults> onVariant;
    private final String configSource;

    private Experiment(ExperimentConfig config, Path out, boolean resume, PrintWriter log, Trainer.Progress progress,
                       Consumer<ExperimentResults> onVariant, String configSource) {
        this.config = Objects.requireNonNull(config, "config");
        this.out = Objects.requireNonNull(out, "out");
        this.resume = resume;
        this.log = Objects.requireNonNull(log, "log");
        this.progress = Objects.requireNonNull(progress, "progress");
        this.onVariant = Objects.requireNonNull(onVariant, "onVariant");
        this.configSource = Objects.requireNonNull(configSource, "configSource");
    }

    /**
     * The experiment {@code config} writing into {@code out}: not resumed, no log, no per-batch
     * progress, configuration source "(configured in code)".
     */
    public static Experiment of(ExperimentConfig config, Path out) {
        return new Experiment(config, out, false, new PrintWriter(OutputStream.nullOutputStream()), Trainer.Progress.NONE, r -> { },
                "(configured in code)");
    }

    /**
     * With {@code true}: reuse every stage whose {@code result.json} exists in the output directory and
     * continue an interrupted training from its checkpoint. The caller makes sure the directory holds
     * a run of the same configuration (seed, data, FP32 stage and each shared variant); the command
     * line checks it before it starts.
     */
    public Experiment resume(boolean resume) {
        return new Experiment(config, out, resume, log, progress, onVariant, configSource);
    }

    /** Progress lines (one per stage, epoch and finished variant) go to {@code log}, flushed after each. */
    public Experiment log(PrintWriter log) {
        return new Experiment(config, out, resume, log, progress, onVariant, configSource);
    }

    /** Per-batch progress of every training (e.g. a console progress bar). */
    public Experiment progress(Trainer.Progress progress) {
        return new Experiment(config, out, resume, log, progress, onVariant, configSource);
    }

    /** Receives the results so far after each variant but the last (an experiment in progress can show a partial report). */
    public Experiment onVariant(Consumer<ExperimentResults> onVariant) {
        return new Experiment(config, out, resume, log, progress, onVariant, configSource);
    }

    /** Where the configuration came from, in the user's words (a file name): for messages and {@code provenance.json}. */
    public Experiment configSource(String configSource) {
        return new Experiment(config, out, resume, log, progress, onVariant, configSource);
    }

    /**
     * Loads {@code fp32.model} (when given) and the data, checks that they fit, writes
     * {@code resolved-config.yaml} and {@code provenance.json}, runs every stage and writes
     * {@code results.json}.
     *
     * @throws io.qat4j.training.BadInputException when the model or the data cannot be used (the message names the key)
     * @throws IOException                         when a file cannot be read or written, or the FP32 training fails
     */
    public ExperimentResults run() throws IOException {
        LoadedModel fp32Model = null;
        RunData data;
        if (config.fp32().model() != null) {
            Path file = Path.of(config.fp32().model());
            fp32Model = ModelLoader.loadConfigured(file, "fp32.model");
            ModelLoader.checkPlainFp32(file, fp32Model.network(), "fp32.model");
            data = RunData.load(config.data(), config.seed(), fp32Model.input()).fit(fp32Model.network(), fp32Model.input(),
                    "fp32.model " + fp32Model.describe(), configSource);
        } else {
            data = RunData.load(config.data(), config.seed(), null);
        }
        return run(data, fp32Model);
    }

    /**
     * Runs every stage on {@code data} and writes {@code resolved-config.yaml}, {@code provenance.json}
     * and {@code results.json}.
     *
     * @param data      the data, fitted to {@code fp32Model} when there is one ({@link RunData#fit})
     * @param fp32Model the loaded {@code fp32.model}, or null to train the FP32 stage (the reference CNN)
     */
    public ExperimentResults run(RunData data, LoadedModel fp32Model) throws IOException {
        long start = System.nanoTime();
        log.printf("experiment %s: %d variants; data %s (%s), %d train / %d test%n", config.name(), config.variants().size(), data.source(),
                data.location(), data.train().numExamples(), data.test().numExamples());
        log.flush();
        // rewritten on resume too: it describes the invocation that writes results.json, whose configuration may have gained variants
        Map<String, Object> invocation = Provenance.writeRunFiles(out, configSource, config, config.seed(), data, false);
        Map<String, String> process = new LinkedHashMap<>();
        invocation.forEach((k, v) -> process.put(k, String.valueOf(v)));
        List<Double> earlier = earlierInvocations();
        Trainer.seed(config.seed());
        Stages stages = new Stages(data, process);
        Model fp32 = stages.fp32(fp32Model);
        Fp32Result fp = stages.fp32Result;
        List<VariantResult> results = new ArrayList<>();
        RemainingTime remaining = new RemainingTime();
        int i = 0;
        for (ExperimentConfig.Variant v : config.variants()) {
            i++;
            String step = "[" + i + "/" + config.variants().size() + "] " + v.name();
            Path dir = out.resolve("variants").resolve(v.name());
            Path done = dir.resolve("result.json");
            if (resume && Files.isRegularFile(done)) {
                VariantResult r = ExperimentResults.readVariant(done, config.seed(), v);
                log.printf("%s: reused %s (%s)%n", step, done, r.status());
                log.flush();
                results.add(r);
                progress(remaining, results.size(), start);
                continue;
            }
            log.printf("%s: %s%n", step, v.isQat() ? "QAT" : "PTQ");
            log.flush();
            VariantResult r;
            long t0 = System.nanoTime();
            try {
                Trainer.seed(config.seed());
                r = v.isQat() ? stages.qat(v, fp32, dir, t0) : stages.ptq(v, fp32, dir, t0);
            } catch (Exception | OutOfMemoryError e) {
                String msg = e.getClass().getSimpleName() + ": " + e.getMessage();
                r = VariantResult.failed(v.name(), v.isQat() ? "QAT" : "PTQ", msg, (System.nanoTime() - t0) / 1e9,
                        StageProvenance.now(process, config.seed(), v));
                log.printf("%s FAILED: %s%n", step, msg);
            }
            Files.createDirectories(dir);
            ExperimentResults.writeStage(done, r);
            switch (r.status()) {
                case EXPORTED -> log.printf("%s: %.2f%% (INT8 runtime %.2f%%), %d bytes, %.1f s%n", step, 100 * r.simulatedAccuracy(),
                        100 * r.int8().accuracy(), r.int8().modelBytes(), r.timing().totalSeconds());
                case NOT_EXPORTABLE -> log.printf("%s: %.2f%% (no integer model: %s in float), %.1f s%n", step, 100 * r.simulatedAccuracy(),
                        r.quantization().keptInFloat().keySet(), r.timing().totalSeconds());
                case FAILED -> { }
            }
            log.flush();
            results.add(r);
            if (r.status() != VariantResult.Status.FAILED) {
                remaining.finished(v, r.timing().totalSeconds());
            }
            progress(remaining, results.size(), start);
            if (results.size() < config.variants().size()) {
                // results.json so far: an interrupted experiment keeps its wall time for --resume
                ExperimentResults partial = ExperimentResults.of(config.name(), invocation, fp, withTargets(results, fp), earlier,
                        (System.nanoTime() - start) / 1e9);
                partial.write(out);
                onVariant.accept(partial);
            }
        }
        ExperimentResults all = ExperimentResults.of(config.name(), invocation, fp, withTargets(results, fp), earlier,
                (System.nanoTime() - start) / 1e9);
        all.write(out);
        return all;
    }

    /** The overall progress line after each variant: done of total, elapsed, estimated time left. */
    private void progress(RemainingTime remaining, int done, long start) {
        log.printf("progress: %s%n", remaining.line(done, config.variants().size(), (System.nanoTime() - start) / 1e9,
                config.variants().subList(done, config.variants().size())));
        log.flush();
    }

    /**
     * The wall-clock seconds of the earlier invocations of this experiment, from the {@code results.json} a
     * resume continues (written after every variant, so an interrupted run has one); empty for a fresh run.
     */
    private List<Double> earlierInvocations() {
        Path file = out.resolve(ExperimentResults.FILE);
        if (!resume || !Files.isRegularFile(file)) {
            return List.of();
        }
        try {
            return ExperimentResults.read(file).invocationSeconds();
        } catch (IOException e) {
            log.printf("note: the earlier invocations' wall time is not counted: %s%n", e.getMessage());
            return List.of();
        }
    }

    /** Each result with its target's check; a target against a variant not (yet) run is left unchecked. */
    private List<VariantResult> withTargets(List<VariantResult> results, Fp32Result fp) {
        Map<String, VariantResult> byName = new LinkedHashMap<>();
        results.forEach(r -> byName.put(r.name(), r));
        List<VariantResult> checked = new ArrayList<>();
        for (int k = 0; k < results.size(); k++) {
            VariantResult r = results.get(k);
            ExperimentConfig.Target t = config.variants().get(k).target();
            if (t == null || (!t.vs().equals("fp32") && !byName.containsKey(t.vs()))) {
                checked.add(r);
                continue;
            }
            Double ref = t.vs().equals("fp32") ? Double.valueOf(fp.accuracy()) : byName.get(t.vs()).accuracy();
            boolean met = r.accuracy() != null && ref != null && t.met(r.accuracy(), ref);
            checked.add(r.withTarget(new VariantResult.TargetCheck(t.describe(), met)));
        }
        return checked;
    }

    /** The stages of one run: the data, this process's provenance and the calibrations the variants share. */
    private final class Stages {
        private final RunData data;
        private final Map<String, String> process;
        private final Map<String, PostTrainingQuantizer.Prepared> prepared = new HashMap<>();
        private Fp32Result fp32Result;
        /** Seconds of the shared calibration pass the last {@link #prepare} reused from an earlier variant (0 when it ran it). */
        private double reusedCalibrationSeconds;

        Stages(RunData data, Map<String, String> process) {
            this.data = data;
            this.process = process;
        }

        /** The loaded FP32 model, or the trained (or on resume reused) reference CNN; writes fp32/result.json. */
        Model fp32(LoadedModel loaded) throws IOException {
            Path dir = out.resolve("fp32");
            Path done = dir.resolve("result.json");
            Files.createDirectories(dir);
            if (loaded != null) {
                Model net = loaded.network();
                fp32Result = new Fp32Result(Trainer.accuracy(net, data.test()), net.numParams() * 4L, null,
                        ExperimentResults.relative(out, loaded.file()), StageProvenance.now(process, config.seed(), config.fp32()));
                ExperimentResults.writeStage(done, fp32Result);
                log.printf("fp32: loaded %s, %s%n", loaded.describe(), Networks.describe(net));
                return net;
            }
            if (resume && Files.isRegularFile(done)) {
                log.printf("fp32: reused %s%n", dir.resolve("best.zip"));
                fp32Result = ExperimentResults.readFp32(done, out, config.seed(), config.fp32());
                return ModelLoader.load(dir.resolve("best.zip")).network();
            }
            RunConfig.Train t = config.fp32().train();
            long[] shape = data.train().getFeatures().shape();
            ReferenceCnn.Options options = config.fp32().referenceCnn().options();
            MultiLayerNetwork net;
            try {
                net = ReferenceCnn.build(config.seed(), new Adam(t.learningRate()), t.weightDecay(), (int) shape[1], (int) shape[2],
                        (int) shape[3], (int) data.train().getLabels().size(1), options);
            } catch (IllegalArgumentException e) {
                throw new io.qat4j.training.BadInputException("fp32.referenceCnn: " + e.getMessage().replace("ReferenceCnn.", "referenceCnn."));
            }
            log.printf("fp32: training the reference CNN%s for %d epochs%n", options.equals(ReferenceCnn.Options.DEFAULT) ? ""
                    : " (channels " + options.channels() + ", dense " + options.dense() + ", dropout " + options.dropout() + ")", t.epochs());
            log.flush();
            long t0 = System.nanoTime();
            Trainer.Result<MultiLayerNetwork> r = FloatTraining.train(new Trainer(), net, data.train(), data.validation(),
                    t.toSpec(config.seed()), dir, resume, m -> {
                        log.printf("fp32 epoch %d/%d: loss %.4f, accuracy %.4f, %.1f s%n", m.epoch(), t.epochs(), m.trainLoss(),
                                m.validationAccuracy(), m.seconds());
                        log.flush();
                    }, progress, t.nativeLayers());
            // the epoch of best validation accuracy, as saved: the model every variant starts from, fresh or resumed (r.network()
            // is the last epoch's)
            Model best = ModelLoader.load(dir.resolve("best.zip")).network();
            Checkpoint trained = Checkpoint.read(dir);
            log.printf("fp32: best %s accuracy %.4f at epoch %d of %d (fp32/best.zip)%n",
                    data.selectsOnTest() ? "test (no validation split: data.validationFraction is 0, so the test set chose it)"
                            : "validation", r.bestValidationAccuracy(), trained.bestEpoch(), trained.epochsDone());
            fp32Result = new Fp32Result(Trainer.accuracy(best, data.test()), best.numParams() * 4L, (System.nanoTime() - t0) / 1e9,
                    ExperimentResults.relative(out, dir.resolve("best.zip")), StageProvenance.now(process, config.seed(), config.fp32()));
            ExperimentResults.writeStage(done, fp32Result);
            return best;
        }

        /** One calibration pass per (fold, equalization, samples, kept samples), shared by the variants. */
        private PostTrainingQuantizer.Prepared prepare(Model fp32, RunConfig.Ptq p) {
            int keep = p.keptSamples();
            String key = p.foldBatchNorm() + "/" + p.crossLayerEqualization() + "/" + p.samples() + "/" + keep;
            PostTrainingQuantizer.Prepared cached = prepared.get(key);
            reusedCalibrationSeconds = cached == null ? 0 : cached.seconds();
            if (cached == null) {
                cached = PtqRun.prepare(fp32, data.train(), p.recipe(), keep);
                prepared.put(key, cached);
            }
            return new PostTrainingQuantizer.Prepared(cached.model(), cached.calibration(), cached.passes(), p.recipe(), cached.seconds());
        }

        /** The variant's PTQ plan from the shared calibration, written to {@code dir/plan.json}. */
        private PtqPlanner.Planned plan(Model fp32, RunConfig.Ptq p, Path dir) throws IOException {
            // mixed precision chooses among allocations on held-out training data, never on the test set
            DataSet validation = PtqRun.choiceSplit(data, p, log);
            PtqPlanner.Planned run = PtqRun.plan(prepare(fp32, p), p, log, validation);
            Files.createDirectories(dir);
            run.result().plan().write(dir.resolve("plan.json"));
            return run;
        }

        VariantResult ptq(ExperimentConfig.Variant v, Model fp32, Path dir, long t0) throws IOException {
            RunConfig.Ptq p = v.ptq();
            long c0 = System.nanoTime();
            PtqPlanner.Planned run = plan(fp32, p, dir);
            double calSeconds = reusedCalibrationSeconds + (System.nanoTime() - c0) / 1e9;   // the pass run here is inside the interval
            QuantizedModel.Wrapped<? extends Model> model = PostTrainingQuantizer.quantizedModel(run.result());
            String method = "PTQ " + ConfigChoices.spelling(p.calibration()) + (p.adaRound() != null ? ", AdaRound" : "")
                    + (p.averageBits() != null ? ", mixed precision (" + ConfigChoices.spelling(p.allocation()) + ")" : "")
                    + (p.keepMostSensitive() > 0 ? ", " + p.keepMostSensitive() + " most sensitive in float" : "");
            return evaluate(v, method, weightsLabel(p, run.result().plan()), inputsLabel(p, p.inputBits()), model.network(),
                    model.keptInFloat(), run, dir, fp32, calSeconds, null, t0, null);
        }

        VariantResult qat(ExperimentConfig.Variant v, Model fp32, Path dir, long t0) throws IOException {
            RunConfig rc = v.toRunConfig(config.seed(), config.data(), "fp32");
            RunConfig.Ptq p = rc.ptq();
            long c0 = System.nanoTime();
            PtqPlanner.Planned run = plan(fp32, p, dir);
            double calSeconds = reusedCalibrationSeconds + (System.nanoTime() - c0) / 1e9;   // the pass run here is inside the interval
            QuantizedModel.Wrapped<? extends Model> start = PostTrainingQuantizer.qatStart(run.result().model(), run.result().plan(),
                    rc.quantization().inputs().mode());
            Trainer.setWeightDecay(start.network(), rc.train().weightDecay());
            String augmentProblem = rc.train().augment().augmentation().problem(io.qat4j.training.ModelInput.of(fp32), data.train().getFeatures());
            if (augmentProblem != null) {
                throw new io.qat4j.training.BadInputException("variant " + v.name() + ": " + augmentProblem);
            }
            Trainer trainer = rc.distillation() == null ? new Trainer()
                    : new Trainer(new Trainer.Distillation(fp32, rc.distillation().weight(), rc.distillation().temperature()));
            long tt = System.nanoTime();
            QuantizationWarnings.drain();   // this variant's warnings only (layer names repeat across variants)
            Trainer.Result<? extends Model> r = trainer.train(start.network(), data.train(), data.validation(), rc.train().toSpec(config.seed()),
                    dir, resume,
                    m -> {
                        log.printf("  %s epoch %d/%d: loss %.4f, accuracy %.4f, %.1f s%n", v.name(), m.epoch(), rc.train().epochs(),
                                m.trainLoss(), m.validationAccuracy(), m.seconds());
                        log.flush();
                    }, progress);
            double trainSeconds = (System.nanoTime() - tt) / 1e9;
            Checkpoint trained = Checkpoint.read(dir);   // which epoch the exported network is, and which best.zip holds
            for (String warning : QuantizationWarnings.drain()) {
                log.println("  " + v.name() + " warning: " + warning);
            }
            String method = "QAT " + rc.quantization().weights().mode() + "/" + rc.quantization().inputs().mode()
                    + (rc.distillation() != null ? " + KD" : "") + " from PTQ plan";
            return evaluate(v, method, weightsLabel(p, run.result().plan()), inputsLabel(p, rc.quantization().inputs().bits()),
                    r.network(), start.keptInFloat(), run, dir, fp32, calSeconds, trainSeconds, t0, trained);
        }

        /**
         * The variant's per-layer diagnostics ({@link LayerAnalysis}, {@code dir/diagnostics.json} and {@code .csv}) on the
         * validation split when there is one, else the test set, against {@code reference}: the float network the PTQ
         * passes started from (batch norms folded, layers equalized), whose tensors the quantizers were calibrated on. Run
         * after the variant's timing is taken; a failure is logged, never fatal to the variant.
         */
        private void diagnose(ExperimentConfig.Variant v, Model reference, Model network, INDArray calibration, boolean exportable,
                              Path dir) {
            try {
                // an earlier run's files (--force, a changed config) must not pass for this run's
                Files.deleteIfExists(dir.resolve(LayerAnalysis.JSON_FILE));
                Files.deleteIfExists(dir.resolve(LayerAnalysis.CSV_FILE));
                ExperimentConfig.Diagnostics d = config.diagnostics();
                if (!d.enabled()) {
                    return;
                }
                LayerAnalysis a = LayerAnalysis.run(reference, network, calibration, data.validation(), data.validationName(),
                        d.samples(), d.bins(), exportable);
                a.write(dir);
            } catch (IOException | RuntimeException e) {
                log.printf("  %s: per-layer diagnostics failed: %s%n", v.name(), e.getMessage());
                log.flush();
            }
        }

        /**
         * Evaluates the variant's network and exports it when it can; {@code trained} is a QAT variant's
         * committed training state (which epoch {@code network} and {@code best.zip} are), null for PTQ.
         * The total time counts a reused shared calibration pass too, as {@code calSeconds} does.
         */
        private VariantResult evaluate(ExperimentConfig.Variant v, String method, String weights, String inputs, Model network,
                                       Map<String, String> keptInFloat, PtqPlanner.Planned run, Path dir, Model fp32, double calSeconds,
                                       Double trainSeconds, long t0, Checkpoint trained) throws IOException {
            double shared = reusedCalibrationSeconds;
            QuantPlan plan = run.result().plan();
            SensitivityAnalysis.Report sensitivity = run.sensitivity();
            VariantResult.Quantization q = new VariantResult.Quantization(weights, inputs, PostTrainingQuantizer.weightBits(plan),
                    sensitivity == null ? null : sensitivity.layers(), plan.passes(), keptInFloat,
                    ExperimentResults.relative(out, dir.resolve("plan.json")));
            INDArray calibration = data.calibrationSample();
            if (!keptInFloat.isEmpty()) {
                double acc = Trainer.accuracy(network, data.test());
                VariantResult partial = new VariantResult(v.name(), method, VariantResult.Status.NOT_EXPORTABLE, null, q, acc, null,
                        new VariantResult.Timing(calSeconds, trainSeconds, shared + (System.nanoTime() - t0) / 1e9), null,
                        StageProvenance.now(process, config.seed(), v));
                diagnose(v, run.prepared().model(), network, calibration, false, dir);
                return partial;
            }
            Path modelFile = dir.resolve("model.q4j");
            Int8Evaluation e = Int8Evaluation.evaluate(network, calibration, data.test(), modelFile, fp32.numParams() * 4L);
            VariantResult.Int8 int8 = new VariantResult.Int8(e.runtimeAccuracy(), e.agreement(), e.modelBytes(), e.sizeRatio(),
                    ExperimentResults.relative(out, modelFile), trained == null ? null : trained.epochsDone(),
                    trained == null ? null : trained.bestEpoch());
            VariantResult result = new VariantResult(v.name(), method, VariantResult.Status.EXPORTED, null, q, e.simulatedAccuracy(), int8,
                    new VariantResult.Timing(calSeconds, trainSeconds, shared + (System.nanoTime() - t0) / 1e9), null,
                    StageProvenance.now(process, config.seed(), v));
            diagnose(v, run.prepared().model(), network, calibration, true, dir);
            return result;
        }
    }

    private static String inputsLabel(RunConfig.Ptq p, int bits) {
        return bits + (p.firstLastBits() != null ? " (first/last " + p.firstLastBits() + ")" : "");
    }

    private static String weightsLabel(RunConfig.Ptq p, QuantPlan plan) {
        String firstLast = p.firstLastBits() != null ? " (first/last " + p.firstLastBits() + ")" : "";
        return switch (p.weightQuantizer()) {
            case BINARY, TERNARY -> ConfigChoices.spelling(p.weightQuantizer()) + firstLast;
            case UNIFORM -> p.averageBits() != null
                    ? String.format("mixed %.2f avg", (double) plan.allocation().costBits() / plan.layers().stream()
                            .mapToLong(QuantPlan.LayerPlan::weights).sum())
                    : p.weightBits() + firstLast;
        };
    }
}
