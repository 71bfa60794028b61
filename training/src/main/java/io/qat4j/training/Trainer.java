package io.qat4j.training;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.qat4j.distill.DistillationLoss;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.runtime.AtomicFiles;

/**
 * Trains a DL4J network epoch by epoch, reproducibly and resumably: a MultiLayerNetwork or a
 * ComputationGraph (single input and output), through {@link Networks}.
 *
 * <ul>
 *   <li>Seeded: epoch e visits the training set shuffled with seed {@code spec.seed() + e}; a network with
 *       dropout reseeds ND4J's generator (its masks) at the start of every epoch from the seed and the epoch.</li>
 *   <li>The learning rate of each epoch follows {@link TrainSpec#learningRateAt}.</li>
 *   <li>After every epoch: validation accuracy, the best model by validation accuracy as
 *       {@code best.zip} (atomically, in the form {@link #savingBestAs} gives), a line in
 *       {@code metrics.csv} and {@code metrics.jsonl}, then the {@link Checkpoint} commit
 *       ({@code checkpoint.zip} with the updater state, {@code checkpoint.json}).</li>
 *   <li>Without {@code resume} the run starts over in {@code runDir}: the checkpoint, {@code best.zip}
 *       and metrics of an earlier run there are deleted first.</li>
 *   <li>{@code resume}: continues from the committed checkpoint (validated; the metrics files are cut
 *       back to its epochs); the result is bit-identical to an uninterrupted run. A run killed at any
 *       point, the checkpoint write included, loses at most the epoch in flight. A directory with
 *       training files but no {@code checkpoint.json} is refused ({@link Checkpoint#forResume}).</li>
 *   <li>Divergence stops the run with {@link TrainingDivergedException}, the last good checkpoint
 *       staying: a NaN/infinite loss at any step, or, from the run's step
 *       {@value #DIVERGENCE_WARMUP} on, a mean loss over the last {@value #DIVERGENCE_WINDOW} steps
 *       of an epoch above {@link TrainSpec#divergenceFactor} times the reference loss (the loss of
 *       the run's first step, at least {@code ln(classes)}, the loss of a uniform guess). The
 *       warm-up lets the first Adam steps of an untrained network spike (to 13-16 nats at learning
 *       rates 0.01-0.03 on the reference CNN, back under 3 by step 15) without stopping the run; at
 *       learning rate 10 or 1000 the loss stays at 15-22 nats, where DL4J's clipped cross entropy
 *       saturates (at most -ln(1e-10) = 23 nats, so the check needs factor x reference below that).</li>
 *   <li>QAT: FIXED observers and folded batch-norm statistics freeze after the configured epochs.</li>
 *   <li>Optional knowledge distillation from a float teacher ({@link Distillation}).</li>
 *   <li>Optional augmentation of the training images and label smoothing ({@link TrainSpec#augmentation},
 *       {@link TrainSpec#labelSmoothing}, applied by {@code trainingBatch}); validation data is never changed.</li>
 * </ul>
 */
public final class Trainer {

    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Per-epoch numbers. */
    public record EpochMetrics(int epoch, double learningRate, double trainLoss, double validationAccuracy, double seconds) {
    }

    /** The trained network (restored from the checkpoint when resuming) and the metrics of this run's epochs. */
    public record Result<N extends Model>(N network, List<EpochMetrics> epochs, double bestValidationAccuracy, boolean stoppedEarly) {
    }

    /**
     * Knowledge distillation from a float teacher: the student's output layer gets a
     * {@link DistillationLoss} and every batch's labels carry the teacher's logits
     * ({@code log softmax} of its output, which has the same softmax at every temperature).
     *
     * @param teacher  the float network (not trained)
     * @param weight   b, the KD term's weight; the cross entropy gets {@code 1 - weight}; in (0, 1]
     * @param temperature T > 0
     */
    public record Distillation(Model teacher, double weight, double temperature) {
        public Distillation {
            if (teacher == null || !(weight > 0 && weight <= 1) || !(temperature > 0)) {
                throw new IllegalArgumentException("Distillation needs a teacher, a weight in (0, 1] and a temperature > 0, got "
                        + weight + " and " + temperature);
            }
        }
    }

    /** Steps over which the divergence check averages the loss (fewer in an epoch with fewer steps). */
    public static final int DIVERGENCE_WINDOW = 10;
    /** Steps of a run (counted from its first epoch) before the mean-loss divergence check starts. */
    public static final int DIVERGENCE_WARMUP = 20;

    private final int stopAfterEpochs;
    private final Distillation distillation;
    private final java.util.function.UnaryOperator<Model> bestForm;
    private final BatchFitting fitting;

    public Trainer() {
        this(Integer.MAX_VALUE, null, java.util.function.UnaryOperator.identity(), BatchFitting.SEQUENTIAL);
    }

    /** A trainer that distills from {@code distillation.teacher()}. */
    public Trainer(Distillation distillation) {
        this(Integer.MAX_VALUE, distillation, java.util.function.UnaryOperator.identity(), BatchFitting.SEQUENTIAL);
    }

    /** For tests: stop (as if killed) after this many epochs of this run. */
    Trainer(int stopAfterEpochs) {
        this(stopAfterEpochs, null, java.util.function.UnaryOperator.identity(), BatchFitting.SEQUENTIAL);
    }

    /** For tests: distill, and stop (as if killed) after this many epochs of this run. */
    Trainer(int stopAfterEpochs, Distillation distillation) {
        this(stopAfterEpochs, distillation, java.util.function.UnaryOperator.identity(), BatchFitting.SEQUENTIAL);
    }

    private Trainer(int stopAfterEpochs, Distillation distillation, java.util.function.UnaryOperator<Model> bestForm, BatchFitting fitting) {
        this.stopAfterEpochs = stopAfterEpochs;
        this.distillation = distillation;
        this.bestForm = bestForm;
        this.fitting = fitting;
    }

    /**
     * This trainer, writing {@code best.zip} as {@code form} maps the trained network (e.g. the plain
     * DL4J network of one trained through qat4j's layers); the checkpoint keeps the trained form,
     * which resuming needs.
     */
    public Trainer savingBestAs(java.util.function.UnaryOperator<Model> form) {
        return new Trainer(stopAfterEpochs, distillation, form, fitting);
    }

    /**
     * This trainer, fitting each epoch's minibatches through {@code fitting} (e.g. data-parallel on
     * Spark) instead of one after another in this JVM; everything else (epochs, schedule, freezes,
     * distillation, model selection, checkpoints, divergence checks) stays the same.
     */
    public Trainer fittingWith(BatchFitting fitting) {
        if (fitting == null) {
            throw new IllegalArgumentException("fitting must not be null (BatchFitting.SEQUENTIAL fits in this JVM)");
        }
        return new Trainer(stopAfterEpochs, distillation, bestForm, fitting);
    }

    /** Replaces the output layer's loss by the distillation loss (idempotent). */
    private void useDistillationLoss(Model net) {
        org.deeplearning4j.nn.conf.layers.Layer out = Networks.outputLayer(net).conf().getLayer();
        if (!(out instanceof org.deeplearning4j.nn.conf.layers.BaseOutputLayer o)) {
            throw new IllegalArgumentException("distillation needs an output layer with a loss function, got "
                    + out.getClass().getSimpleName());
        }
        o.setLossFn(new DistillationLoss(1 - distillation.weight(), distillation.weight(), distillation.temperature()));
    }

    /**
     * The batch with labels packed as [labels | teacher logits] ({@link DistillationLoss#packLabels}); the teacher sees
     * the batch's own, possibly augmented, images.
     */
    private DataSet withTeacher(DataSet batch) {
        INDArray p = Networks.output(distillation.teacher(), batch.getFeatures());
        INDArray logits = org.nd4j.linalg.ops.transforms.Transforms.log(org.nd4j.linalg.ops.transforms.Transforms.max(p, 1e-12, true), false);
        return new DataSet(batch.getFeatures(), DistillationLoss.packLabels(batch.getLabels(), logits));
    }

    /**
     * What one training step fits on: {@code batch} with {@link TrainSpec#augmentation} applied to its
     * images (draws from {@code augmentRandom}), its hard labels smoothed by
     * {@link TrainSpec#labelSmoothing} ({@link #smoothLabels}), and, when distilling, the teacher's
     * logits on those same (augmented) images packed after the smoothed labels. With neither option
     * and no distillation, {@code batch} itself.
     */
    DataSet trainingBatch(DataSet batch, TrainSpec spec, java.util.Random augmentRandom) {
        DataSet b = batch;
        if (spec.augmentation().active() || spec.labelSmoothing() > 0) {
            b = new DataSet(spec.augmentation().apply(batch.getFeatures(), augmentRandom),
                    spec.labelSmoothing() > 0 ? smoothLabels(batch.getLabels(), spec.labelSmoothing()) : batch.getLabels());
        }
        return distillation == null ? b : withTeacher(b);
    }

    /**
     * Label smoothing (Szegedy et al., CVPR 2016, section 7): {@code (1 - e) y + e / K} for labels
     * {@code y} of shape {@code [N, K]}, a new array of their data type; each row of a one-hot (or any
     * probability) row still sums to 1.
     *
     * @param e the smoothing in [0, 1)
     * @throws IllegalArgumentException when {@code labels} is not [N, K] or e is outside [0, 1)
     */
    public static INDArray smoothLabels(INDArray labels, double e) {
        if (labels.rank() != 2) {
            throw new IllegalArgumentException("label smoothing takes labels [N, classes], got shape " + java.util.Arrays.toString(labels.shape()));
        }
        if (!(e >= 0 && e < 1)) {
            throw new IllegalArgumentException("train.labelSmoothing must be in [0, 1), got " + e);
        }
        return labels.mul(1 - e).addi(e / labels.size(1));
    }

    public <N extends Model> Result<N> train(N net, DataSet train, DataSet validation, TrainSpec spec, Path runDir, boolean resume)
            throws IOException {
        return train(net, train, validation, spec, runDir, resume, m -> { });
    }

    /** As above; {@code onEpoch} sees each epoch's metrics as soon as the epoch ends (progress output). */
    public <N extends Model> Result<N> train(N net, DataSet train, DataSet validation, TrainSpec spec, Path runDir, boolean resume,
                                             java.util.function.Consumer<EpochMetrics> onEpoch) throws IOException {
        return train(net, train, validation, spec, runDir, resume, onEpoch, Progress.NONE);
    }

    /** Per-batch progress of an epoch (a progress bar on a terminal). */
    public interface Progress {
        /** No per-batch output. */
        Progress NONE = new Progress() {
            @Override
            public void startEpoch(int epoch, int steps) {
            }

            @Override
            public void step(double loss) {
            }

            @Override
            public void endEpoch() {
            }
        };

        void startEpoch(int epoch, int steps);

        void step(double loss);

        void endEpoch();
    }

    /** As above with per-batch {@code progress}. */
    public <N extends Model> Result<N> train(N net, DataSet train, DataSet validation, TrainSpec spec, Path runDir, boolean resume,
                                             java.util.function.Consumer<EpochMetrics> onEpoch, Progress progress) throws IOException {
        Networks.checkTrainable(net, "the network");
        Files.createDirectories(runDir);
        Checkpoint state = resume ? Checkpoint.forResume(runDir, spec.epochs()) : null;
        if (state == null) {
            if (resume) {
                LOG.info("no checkpoint in {}; starting from epoch 1", runDir);
            }
            Checkpoint.start(runDir);
            state = Checkpoint.STARTED;
        } else {
            truncateMetrics(runDir, state.epochsDone());
            if (state.epochsDone() > 0) {
                net = Checkpoint.restore(runDir, net);
            }
            LOG.info("resuming {} after epoch {}", runDir, state.epochsDone());
        }
        int startEpoch = state.epochsDone();
        double best = state.bestValidationAccuracy() == null ? Double.NEGATIVE_INFINITY : state.bestValidationAccuracy();
        int sinceBest = state.epochsSinceBest();
        Double reference = state.referenceLoss();
        double chanceLoss = Math.log(Math.max(2, train.getLabels().size(1)));
        if (distillation != null) {
            useDistillationLoss(net);
        }
        List<EpochMetrics> metrics = new java.util.ArrayList<>();
        boolean stoppedEarly = false;
        int ran = 0;
        for (int epoch = startEpoch; epoch < spec.epochs() && ran < stopAfterEpochs; epoch++, ran++) {
            if (spec.earlyStoppingPatience() > 0 && sinceBest >= spec.earlyStoppingPatience()) {
                stoppedEarly = true;
                LOG.info("early stopping: no better validation accuracy for {} epochs", sinceBest);
                break;
            }
            applyFreezes(net, spec, epoch);
            double lr = spec.learningRateAt(epoch);
            Networks.setLearningRate(net, lr);
            if (hasDropout(net)) {
                // dropout masks come from ND4J's global generator: seeded per epoch, so that a resumed run draws what an
                // uninterrupted one draws (a network without dropout draws nothing from it while training)
                Nd4j.getRandom().setSeed(dropoutSeed(spec.seed(), epoch));
            }
            long start = System.nanoTime();
            DataSet shuffled = train.copy();
            shuffled.shuffle(spec.seed() + epoch);
            List<DataSet> batches = shuffled.batchBy(spec.batchSize());
            String lastGood = "the last good checkpoint (" + (epoch == 0 ? "none yet" : "after epoch " + epoch) + ") is in " + runDir;
            LossWatch watch = new LossWatch(spec, epoch, batches.size(), lr, reference, chanceLoss, lastGood, progress);
            progress.startEpoch(epoch + 1, batches.size());
            java.util.Random augmentRandom = Augmentation.epochRandom(spec.seed(), epoch);
            fitting.fitEpoch(net, batches, batch -> trainingBatch(batch, spec, augmentRandom), watch);
            reference = watch.reference;
            double lossSum = watch.lossSum;
            int steps = watch.steps;
            progress.endEpoch();
            double accuracy = accuracy(net, validation);
            double seconds = (System.nanoTime() - start) / 1e9;
            EpochMetrics m = new EpochMetrics(epoch + 1, lr, lossSum / Math.max(1, steps), accuracy, seconds);
            metrics.add(m);
            LOG.info("epoch {}/{}: loss {}, validation accuracy {}, lr {}, {} s", m.epoch(), spec.epochs(),
                    String.format("%.4f", m.trainLoss()), String.format("%.4f", accuracy), lr, String.format("%.1f", seconds));
            // epoch end, in this order so that a kill anywhere loses at most this epoch: best model, metrics line,
            // then the checkpoint commit (a resume truncates the metrics to the committed epochs and redoes this one)
            if (accuracy > best) {
                best = accuracy;
                sinceBest = 0;
                atomicModel(bestForm.apply(net), runDir.resolve("best.zip"));
            } else {
                sinceBest++;
            }
            appendMetrics(runDir, m);
            onEpoch.accept(m);
            new Checkpoint(epoch + 1, best, sinceBest, reference, null).commit(runDir, net).install();
        }
        return new Result<>(net, metrics, best, stoppedEarly);
    }

    /**
     * Sets the decoupled weight decay of every weighted layer (not applied to biases, batch-norm or
     * quantizer parameters, and, as in {@link ReferenceCnn}, not scaled by the learning rate); 0
     * removes it. A network wrapped for QAT inherits the FP32 configuration's decay, which after
     * batch-norm folding shrinks the function itself (no batch norm rescales it any more) and at a
     * fine-tuning learning rate dominates the updates; QAT runs therefore set their own
     * ({@code train.weightDecay}, default 0).
     */
    public static void setWeightDecay(Model net, double coefficient) {
        for (org.deeplearning4j.nn.api.Layer layer : Networks.layers(net)) {
            if (layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer b) {
                List<org.nd4j.linalg.learning.regularization.Regularization> r = new java.util.ArrayList<>();
                if (coefficient > 0) {
                    r.add(new org.nd4j.linalg.learning.regularization.WeightDecay(coefficient, false));
                }
                b.setRegularization(r);
            }
        }
    }

    /**
     * The per-step checks of one epoch: a NaN/infinite loss, and from the run's step
     * {@value #DIVERGENCE_WARMUP} on, the mean of the last {@value #DIVERGENCE_WINDOW} losses against
     * {@link TrainSpec#divergenceFactor} times the reference loss; also the epoch's loss sum and the
     * per-step progress.
     */
    private static final class LossWatch implements java.util.function.DoubleConsumer {
        private final TrainSpec spec;
        private final int epoch;
        private final int epochSteps;
        private final double lr;
        private final double chanceLoss;
        private final String lastGood;
        private final Progress progress;
        private final double[] window;
        private double windowSum;
        Double reference;
        double lossSum;
        int steps;

        LossWatch(TrainSpec spec, int epoch, int epochSteps, double lr, Double reference, double chanceLoss, String lastGood,
                  Progress progress) {
            this.spec = spec;
            this.epoch = epoch;
            this.epochSteps = epochSteps;
            this.lr = lr;
            this.reference = reference;
            this.chanceLoss = chanceLoss;
            this.lastGood = lastGood;
            this.progress = progress;
            this.window = new double[Math.max(1, Math.min(DIVERGENCE_WINDOW, epochSteps))];
        }

        @Override
        public void accept(double loss) {
            if (!Double.isFinite(loss)) {
                throw new TrainingDivergedException("the loss became " + loss + " in epoch " + (epoch + 1) + ", step " + (steps + 1)
                        + " (learning rate " + lr + "); " + lastGood + "; lower the learning rate (train.learningRate) or check the data");
            }
            if (reference == null) {
                reference = Math.max(loss, chanceLoss);
            }
            windowSum += loss - window[steps % window.length];
            window[steps % window.length] = loss;
            lossSum += loss;
            steps++;
            progress.step(loss);
            double recent = windowSum / Math.min(steps, window.length);
            boolean checked = steps >= window.length && (long) epoch * epochSteps + steps >= DIVERGENCE_WARMUP;
            if (spec.divergenceFactor() > 0 && checked && recent > spec.divergenceFactor() * reference) {
                throw new TrainingDivergedException(String.format(java.util.Locale.ROOT, "training diverged in epoch %d, step %d: the mean "
                        + "loss of the last %d steps is %.4g, more than %s x the reference loss %.4g (the run's first step, at least "
                        + "ln(classes)); lower the learning rate (train.learningRate, now %s) or, if such a loss is expected, raise "
                        + "train.divergenceFactor (0 switches the check off); %s", epoch + 1, steps, window.length, recent,
                        spec.divergenceFactor(), reference, lr, lastGood));
            }
        }
    }

    /** Whether any layer of {@code net} applies dropout in training (DL4J's {@code IDropout} on its input). */
    static boolean hasDropout(Model net) {
        for (org.deeplearning4j.nn.api.Layer layer : Networks.layers(net)) {
            if (layer.conf().getLayer().getIDropout() != null) {
                return true;
            }
        }
        return false;
    }

    /** The seed of ND4J's generator at the start of epoch {@code epoch} (0-based) of a network with dropout. */
    static long dropoutSeed(long seed, int epoch) {
        return seed * 0x2545F4914F6CDD1DL + 0x9E3779B97F4A7C15L * (epoch + 1L);
    }

    /** Applies the QAT freezes that are due at the start of {@code epoch} (0-based). */
    static void applyFreezes(Model net, TrainSpec spec, int epoch) {
        if (spec.freezeObserversAfterEpoch() >= 0 && epoch >= spec.freezeObserversAfterEpoch()) {
            QuantizedModel.setObserversEnabled(net, false);
        }
        if (spec.freezeBatchNormAfterEpoch() >= 0 && epoch >= spec.freezeBatchNormAfterEpoch()) {
            for (org.deeplearning4j.nn.api.Layer layer : Networks.layers(net)) {
                if (layer.conf().getLayer() instanceof QuantizedConvBatchNormLayer bn) {
                    bn.setFreezeBatchNorm(true);
                }
            }
        }
    }

    /** Top-1 accuracy of {@code net} on a labelled set, in batches of 256. */
    public static double accuracy(Model net, DataSet data) {
        return Int8Evaluation.agreement(predictions(net, data.getFeatures()), data.getLabels());
    }

    /** Argmax class of {@code net}'s output per sample, in batches of 256. */
    public static int[] predictions(Model net, INDArray features) {
        int n = (int) features.size(0);
        int[] out = new int[n];
        for (int start = 0; start < n; start += 256) {
            int end = Math.min(n, start + 256);
            INDArray classes = Networks.output(net, features.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(start, end))).argMax(1);
            for (int i = start; i < end; i++) {
                out[i] = classes.getInt(i - start);
            }
        }
        return out;
    }

    /**
     * Cuts {@code metrics.csv} and {@code metrics.jsonl} back to the lines of epochs 1..{@code epochs}
     * (lines of an uncommitted epoch, and a last line a kill left unfinished, go).
     */
    static void truncateMetrics(Path runDir, int epochs) throws IOException {
        for (String name : new String[] {"metrics.csv", "metrics.jsonl"}) {
            Path f = runDir.resolve(name);
            if (!Files.exists(f)) {
                continue;
            }
            String text = Files.readString(f, StandardCharsets.UTF_8);
            StringBuilder kept = new StringBuilder();
            int end;
            for (int from = 0; (end = text.indexOf('\n', from)) >= 0; from = end + 1) {
                String line = text.substring(from, end);
                Integer epoch = metricsEpoch(line, name.endsWith(".csv"));
                if (epoch == null ? from == 0 && name.endsWith(".csv") : epoch >= 1 && epoch <= epochs) {
                    kept.append(line).append('\n');
                }
            }
            if (!kept.toString().equals(text)) {
                AtomicFiles.write(f, kept.toString().getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    /** The epoch of a metrics line, or null for the CSV header or an unreadable line. */
    private static Integer metricsEpoch(String line, boolean csv) {
        try {
            if (csv) {
                String[] fields = line.split(",", -1);
                return fields.length == 5 ? Integer.valueOf(fields[0]) : null;
            }
            org.nd4j.shade.jackson.databind.JsonNode node = JSON.readTree(line);
            org.nd4j.shade.jackson.databind.JsonNode epoch = node == null ? null : node.get("epoch");
            return epoch != null && epoch.isInt() ? epoch.intValue() : null;
        } catch (IOException | NumberFormatException e) {
            return null;
        }
    }

    private static void appendMetrics(Path runDir, EpochMetrics m) throws IOException {
        Path csv = runDir.resolve("metrics.csv");
        boolean header = !Files.exists(csv);
        try (Writer w = Files.newBufferedWriter(csv, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            if (header) {
                w.write("epoch,learning_rate,train_loss,validation_accuracy,seconds\n");
            }
            w.write(m.epoch() + "," + m.learningRate() + "," + m.trainLoss() + "," + m.validationAccuracy() + "," + m.seconds() + "\n");
        }
        try (Writer w = Files.newBufferedWriter(runDir.resolve("metrics.jsonl"), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND)) {
            w.write(JSON.writeValueAsString(m) + "\n");
        }
    }

    static void atomicModel(Model net, Path target) throws IOException {
        AtomicFiles.write(target, out -> ModelSerializer.writeModel(net, out, true));
    }

    /** Seeds ND4J's global generator (dropout, initialization done after this call). */
    public static void seed(long seed) {
        Nd4j.getRandom().setSeed(seed);
    }
}
