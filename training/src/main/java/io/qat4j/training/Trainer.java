package io.qat4j.training;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
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

/**
 * Trains a DL4J network epoch by epoch, reproducibly and resumably.
 *
 * <ul>
 *   <li>Seeded: epoch e visits the training set shuffled with seed {@code spec.seed() + e}.</li>
 *   <li>The learning rate of each epoch follows {@link TrainSpec#learningRateAt}.</li>
 *   <li>After every epoch: validation accuracy, a line in {@code metrics.csv} and
 *       {@code metrics.jsonl}, and an atomic checkpoint ({@code checkpoint.zip} with the updater
 *       state plus {@code checkpoint.json}; written to a temporary file, then renamed). The best
 *       model by validation accuracy is kept as {@code best.zip}.</li>
 *   <li>{@code resume}: continues from the checkpoint; the result is bit-identical to an
 *       uninterrupted run. A run killed mid-epoch loses at most that epoch.</li>
 *   <li>A NaN/infinite loss stops the run with {@link TrainingDivergedException}; the last good
 *       checkpoint stays.</li>
 *   <li>QAT: FIXED observers and folded batch-norm statistics freeze after the configured epochs.</li>
 *   <li>Optional knowledge distillation from a float teacher ({@link Distillation}).</li>
 * </ul>
 */
public final class Trainer {

    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Per-epoch numbers. */
    public record EpochMetrics(int epoch, double learningRate, double trainLoss, double validationAccuracy, double seconds) {
    }

    /** The trained network (restored from the checkpoint when resuming) and the metrics of this run's epochs. */
    public record Result(MultiLayerNetwork network, List<EpochMetrics> epochs, double bestValidationAccuracy, boolean stoppedEarly) {
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
    public record Distillation(MultiLayerNetwork teacher, double weight, double temperature) {
        public Distillation {
            if (teacher == null || !(weight > 0 && weight <= 1) || !(temperature > 0)) {
                throw new IllegalArgumentException("Distillation needs a teacher, a weight in (0, 1] and a temperature > 0, got "
                        + weight + " and " + temperature);
            }
        }
    }

    private final int stopAfterEpochs;
    private final Distillation distillation;

    public Trainer() {
        this(Integer.MAX_VALUE, null);
    }

    /** A trainer that distills from {@code distillation.teacher()}. */
    public Trainer(Distillation distillation) {
        this(Integer.MAX_VALUE, distillation);
    }

    /** For tests: stop (as if killed) after this many epochs of this run. */
    Trainer(int stopAfterEpochs) {
        this(stopAfterEpochs, null);
    }

    private Trainer(int stopAfterEpochs, Distillation distillation) {
        this.stopAfterEpochs = stopAfterEpochs;
        this.distillation = distillation;
    }

    /** Replaces the output layer's loss by the distillation loss (idempotent). */
    private void useDistillationLoss(MultiLayerNetwork net) {
        org.deeplearning4j.nn.conf.layers.Layer out = net.getOutputLayer().conf().getLayer();
        if (!(out instanceof org.deeplearning4j.nn.conf.layers.BaseOutputLayer o)) {
            throw new IllegalArgumentException("distillation needs an output layer with a loss function, got "
                    + out.getClass().getSimpleName());
        }
        o.setLossFn(new DistillationLoss(1 - distillation.weight(), distillation.weight(), distillation.temperature()));
    }

    /** The batch with labels packed as [labels | teacher logits]. */
    private DataSet withTeacher(DataSet batch) {
        INDArray p = distillation.teacher().output(batch.getFeatures(), false);
        INDArray logits = org.nd4j.linalg.ops.transforms.Transforms.log(org.nd4j.linalg.ops.transforms.Transforms.max(p, 1e-12, true), false);
        return new DataSet(batch.getFeatures(), DistillationLoss.packLabels(batch.getLabels(), logits));
    }

    public Result train(MultiLayerNetwork net, DataSet train, DataSet validation, TrainSpec spec, Path runDir, boolean resume)
            throws IOException {
        return train(net, train, validation, spec, runDir, resume, m -> { });
    }

    /** As above; {@code onEpoch} sees each epoch's metrics as soon as the epoch ends (progress output). */
    public Result train(MultiLayerNetwork net, DataSet train, DataSet validation, TrainSpec spec, Path runDir, boolean resume,
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
    public Result train(MultiLayerNetwork net, DataSet train, DataSet validation, TrainSpec spec, Path runDir, boolean resume,
                        java.util.function.Consumer<EpochMetrics> onEpoch, Progress progress) throws IOException {
        Files.createDirectories(runDir);
        Path checkpoint = runDir.resolve("checkpoint.zip");
        Path state = runDir.resolve("checkpoint.json");
        int startEpoch = 0;
        double best = Double.NEGATIVE_INFINITY;
        int sinceBest = 0;
        if (resume && Files.isRegularFile(checkpoint) && Files.isRegularFile(state)) {
            net = ModelSerializer.restoreMultiLayerNetwork(checkpoint.toFile(), true);
            @SuppressWarnings("unchecked")
            Map<String, Object> s = JSON.readValue(state.toFile(), Map.class);
            startEpoch = ((Number) s.get("epochsDone")).intValue();
            best = ((Number) s.get("bestValidationAccuracy")).doubleValue();
            sinceBest = ((Number) s.get("epochsSinceBest")).intValue();
            LOG.info("resuming {} after epoch {}", runDir, startEpoch);
        } else if (resume) {
            LOG.info("no checkpoint in {}; starting from epoch 0", runDir);
        }
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
            net.setLearningRate(lr);
            long start = System.nanoTime();
            DataSet shuffled = train.copy();
            shuffled.shuffle(spec.seed() + epoch);
            double lossSum = 0;
            int steps = 0;
            List<DataSet> batches = shuffled.batchBy(spec.batchSize());
            progress.startEpoch(epoch + 1, batches.size());
            for (DataSet batch : batches) {
                net.fit(distillation == null ? batch : withTeacher(batch));
                double loss = net.score();
                if (!Double.isFinite(loss)) {
                    throw new TrainingDivergedException("the loss became " + loss + " in epoch " + epoch + ", step " + steps
                            + " (learning rate " + lr + "); the last good checkpoint ("
                            + (epoch == 0 ? "none yet" : "after epoch " + epoch) + ") is in " + runDir
                            + "; lower the learning rate or check the data");
                }
                lossSum += loss;
                steps++;
                progress.step(loss);
            }
            progress.endEpoch();
            double accuracy = accuracy(net, validation);
            double seconds = (System.nanoTime() - start) / 1e9;
            EpochMetrics m = new EpochMetrics(epoch + 1, lr, lossSum / Math.max(1, steps), accuracy, seconds);
            metrics.add(m);
            LOG.info("epoch {}/{}: loss {}, validation accuracy {}, lr {}, {} s", m.epoch(), spec.epochs(),
                    String.format("%.4f", m.trainLoss()), String.format("%.4f", accuracy), lr, String.format("%.1f", seconds));
            if (accuracy > best) {
                best = accuracy;
                sinceBest = 0;
                atomicModel(net, runDir.resolve("best.zip"));
            } else {
                sinceBest++;
            }
            appendMetrics(runDir, m);
            onEpoch.accept(m);
            atomicModel(net, checkpoint);
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("epochsDone", epoch + 1);
            s.put("bestValidationAccuracy", best);
            s.put("epochsSinceBest", sinceBest);
            AtomicFiles.write(state, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(s));
        }
        return new Result(net, metrics, best, stoppedEarly);
    }

    /**
     * Sets the decoupled weight decay of every weighted layer (not applied to biases, batch-norm or
     * quantizer parameters, and, as in {@link ReferenceCnn}, not scaled by the learning rate); 0
     * removes it. A network wrapped for QAT inherits the FP32 configuration's decay, which after
     * batch-norm folding shrinks the function itself (no batch norm rescales it any more) and at a
     * fine-tuning learning rate dominates the updates; QAT runs therefore set their own
     * ({@code train.weightDecay}, default 0).
     */
    public static void setWeightDecay(MultiLayerNetwork net, double coefficient) {
        for (int i = 0; i < net.getnLayers(); i++) {
            if (net.getLayer(i).conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer b) {
                List<org.nd4j.linalg.learning.regularization.Regularization> r = new java.util.ArrayList<>();
                if (coefficient > 0) {
                    r.add(new org.nd4j.linalg.learning.regularization.WeightDecay(coefficient, false));
                }
                b.setRegularization(r);
            }
        }
    }

    /** Applies the QAT freezes that are due at the start of {@code epoch} (0-based). */
    static void applyFreezes(MultiLayerNetwork net, TrainSpec spec, int epoch) {
        if (spec.freezeObserversAfterEpoch() >= 0 && epoch >= spec.freezeObserversAfterEpoch()) {
            QuantizedModel.setObserversEnabled(net, false);
        }
        if (spec.freezeBatchNormAfterEpoch() >= 0 && epoch >= spec.freezeBatchNormAfterEpoch()) {
            for (int i = 0; i < net.getnLayers(); i++) {
                if (net.getLayer(i).conf().getLayer() instanceof QuantizedConvBatchNormLayer bn) {
                    bn.setFreezeBatchNorm(true);
                }
            }
        }
    }

    /** Top-1 accuracy of {@code net} on a labelled set, in batches of 256. */
    public static double accuracy(MultiLayerNetwork net, DataSet data) {
        return Int8Evaluation.agreement(predictions(net, data.getFeatures()), data.getLabels());
    }

    /** Argmax class of {@code net}'s output per sample, in batches of 256. */
    public static int[] predictions(MultiLayerNetwork net, INDArray features) {
        int n = (int) features.size(0);
        int[] out = new int[n];
        for (int start = 0; start < n; start += 256) {
            int end = Math.min(n, start + 256);
            INDArray classes = net.output(features.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(start, end))).argMax(1);
            for (int i = start; i < end; i++) {
                out[i] = classes.getInt(i - start);
            }
        }
        return out;
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

    static void atomicModel(MultiLayerNetwork net, Path target) throws IOException {
        Path tmp = AtomicFiles.temporaryFor(target);
        ModelSerializer.writeModel(net, tmp.toFile(), true);
        AtomicFiles.commit(tmp, target);
    }

    /** Seeds ND4J's global generator (dropout, initialization done after this call). */
    public static void seed(long seed) {
        Nd4j.getRandom().setSeed(seed);
    }
}
