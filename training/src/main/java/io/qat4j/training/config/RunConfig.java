package io.qat4j.training.config;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonProperty;

import io.qat4j.datasets.FashionMnist;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.ptq.AdaRound;
import io.qat4j.ptq.BitAllocator;
import io.qat4j.ptq.PtqPolicy;
import io.qat4j.ptq.PtqRecipe;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.ptq.SensitivityAnalysis;
import io.qat4j.ptq.WeightRangeMethod;
import io.qat4j.ptq.calibration.CalibrationMethod;
import io.qat4j.ste.BitWidths;
import io.qat4j.training.Architecture;
import io.qat4j.training.TrainSpec;

/**
 * One run: data, model, training and (for QAT) quantization. Every section validates itself with
 * messages naming the key; defaults are documented on each field. Keys whose value is a choice are
 * enums marked {@link Choice}: read in any case with '-' and '_' alike, written in their
 * {@linkplain ConfigChoices#spelling spelling}, and any other value is an error listing the choices.
 *
 * @param name         run name (used for output directories), required
 * @param seed         seed of data order and initialization (default 1)
 * @param data         where the data comes from (default: the standard search)
 * @param model        the network an FP32 run trains (default: the reference CNN)
 * @param train        training schedule, required
 * @param fp32         QAT and PTQ runs: path of the trained FP32 model to start from (DL4J zip of either network kind, or
 *                     Keras .h5); null for FP32 runs
 * @param quantization QAT runs: what to quantize how; null for FP32 and PTQ runs
 * @param distillation QAT runs: distill from the FP32 model (optional)
 * @param ptq          PTQ runs: the post-training recipe; in a QAT run, the PTQ plan that initializes QAT (optional)
 * @param spark        FP32 and QAT runs: train data-parallel on Apache Spark (module {@code spark}); null (default) trains
 *                     in this JVM
 */
public record RunConfig(@JsonProperty(required = true) String name, Long seed, Data data, Model model,
                        Train train, String fp32, Quantization quantization, Distillation distillation, Ptq ptq, Spark spark) {

    public RunConfig {
        if (name == null || !name.matches("[A-Za-z0-9._+-]+")) {
            throw new IllegalArgumentException("name must be a non-empty word of letters, digits and . _ + -, got " + name);
        }
        seed = seed == null ? 1L : seed;
        data = data == null ? new Data(null, null, null, null, null, null, null) : data;
        model = model == null ? new Model(null, null, null, null) : model;
        if (distillation != null && quantization == null) {
            throw new IllegalArgumentException("distillation needs a QAT run (fp32 teacher and quantization)");
        }
        if (quantization != null && fp32 == null) {
            throw new IllegalArgumentException("a QAT run needs 'fp32' (the float model to start from) besides 'quantization'");
        }
        if (ptq != null && fp32 == null) {
            throw new IllegalArgumentException("a PTQ run needs 'fp32' (the trained float model to quantize) besides 'ptq'");
        }
        if (fp32 != null && quantization == null && ptq == null) {
            throw new IllegalArgumentException("'fp32' names a model to quantize: add 'quantization' (QAT) or 'ptq' (post-training); "
                    + "an FP32 training run has neither");
        }
        if (train == null && (fp32 == null || quantization != null)) {
            throw new IllegalArgumentException("'train' is missing; FP32 and QAT runs need a training schedule (only PTQ runs have none)");
        }
        if (ptq != null && quantization != null && ptq.weightQuantizer() != quantization.weights().ptqQuantizer()) {
            throw new IllegalArgumentException("ptq.weightQuantizer " + ConfigChoices.spelling(ptq.weightQuantizer())
                    + " does not fit quantization.weights.mode " + quantization.weights().mode()
                    + " (uniform goes with LSQ, binary with BINARY, ternary with TERNARY)");
        }
        if (ptq != null && quantization != null && quantization.firstLayerSigned() != null) {
            throw new IllegalArgumentException("quantization.firstLayerSigned has no effect when QAT starts from a PTQ plan ('ptq' section): "
                    + "the plan takes every layer's input signedness from the calibration data; remove firstLayerSigned");
        }
        if (ptq != null && quantization != null && ptq.averageBits() == null
                && (ptq.weightBits() != quantization.weights().bits() || ptq.inputBits() != quantization.inputs().bits())) {
            throw new IllegalArgumentException("ptq.weightBits/inputBits (" + ptq.weightBits() + "/" + ptq.inputBits()
                    + ") must equal quantization.weights.bits/inputs.bits (" + quantization.weights().bits() + "/"
                    + quantization.inputs().bits() + ") when the PTQ plan initializes QAT");
        }
        if (spark != null && train == null) {
            throw new IllegalArgumentException("spark trains data-parallel; a post-training run ('ptq' without 'quantization') has no "
                    + "training: remove the spark section");
        }
    }

    /** This configuration with another {@code model} section (the command line's {@code --model} on {@code qat4j train}). */
    public RunConfig withModel(Model m) {
        return new RunConfig(name, seed, data, m, train, fp32, quantization, distillation, ptq, spark);
    }

    /**
     * This configuration training on the Spark master {@code master} (the command line's {@code --spark MASTER}):
     * the spark section's master replaced, or a new section with every other key at its default.
     *
     * @throws IllegalArgumentException naming {@code --spark} when the master is not one Spark takes, or the run has no training
     */
    public RunConfig withSparkMaster(String master) {
        Spark s = spark == null ? new Spark(master, null, null, null, null, null)
                : new Spark(master, spark.workers(), spark.batchPerWorker(), spark.averagingFrequency(), spark.saveUpdater(),
                        spark.scaleLearningRate());
        return new RunConfig(name, seed, data, model, train, fp32, quantization, distillation, ptq, s);
    }

    /** True for a post-training-only run (fp32 + ptq, no training). */
    public boolean isPtqOnly() {
        return ptq != null && quantization == null;
    }

    public boolean isQat() {
        return quantization != null;
    }

    /**
     * @param source     {@link FashionMnist.Search}: auto (default: QAT4J_DATA, Debian package, cache, bundled subset), full
     *                   (the same search without the bundled fallback: an error when the full dataset is not installed) or
     *                   bundled
     * @param dir        explicit directory holding the IDX files (overrides the search), or null
     * @param trainLimit use only the first n training examples (default: all)
     * @param testLimit  use only the first n test examples (default: all)
     * @param validationFraction share of the training examples held out (seeded) for model selection
     *                   and early stopping, in [0, 0.5]; default 0 selects on the test set (quick runs only)
     * @param csv        your own data as labelled CSV files instead of Fashion-MNIST (optional)
     * @param images     your own data as image folders, one subfolder per class, instead of Fashion-MNIST (optional)
     */
    public record Data(@Choice FashionMnist.Search source, String dir, Integer trainLimit, Integer testLimit, Double validationFraction,
                       Csv csv, Images images) {
        public Data {
            // source auto (the default, as a resolved configuration records it) goes with csv and images too
            boolean fashionMnist = (source != null && source != FashionMnist.Search.AUTO) || dir != null;
            if (csv != null && fashionMnist) {
                throw new IllegalArgumentException("data.csv replaces Fashion-MNIST: remove data.source and data.dir");
            }
            if (images != null && (fashionMnist || csv != null)) {
                throw new IllegalArgumentException("data.images replaces Fashion-MNIST and CSV files: remove data.source, data.dir and "
                        + "data.csv");
            }
            validationFraction = validationFraction == null ? 0.0 : validationFraction;
            if (!(validationFraction >= 0 && validationFraction <= 0.5)) {
                throw new IllegalArgumentException("data.validationFraction must be in [0, 0.5], got " + validationFraction);
            }
            if ((trainLimit != null && trainLimit < 1) || (testLimit != null && testLimit < 1)) {
                throw new IllegalArgumentException("data.trainLimit and data.testLimit must be >= 1 when given");
            }
            source = source == null ? FashionMnist.Search.AUTO : source;
            if (dir != null && source == FashionMnist.Search.BUNDLED) {
                throw new IllegalArgumentException("data.dir and data.source: bundled contradict each other; remove one");
            }
        }

        /**
         * The bundled Fashion-MNIST subset (5,000 training / 1,000 test images in the datasets jar), model
         * selection on the test set; {@code trainLimit}, {@code testLimit}: the first n examples, or null for all.
         */
        public static Data bundled(Integer trainLimit, Integer testLimit) {
            return new Data(FashionMnist.Search.BUNDLED, null, trainLimit, testLimit, null, null, null);
        }
    }

    /**
     * Labelled numeric CSV files read through DataVec ({@code io.qat4j.datasets.CsvDataSets}).
     *
     * @param train       training file, required
     * @param test        test file, required
     * @param labelColumn column of the class index (default 0; -1 = last)
     * @param classes     number of classes, 2..{@value #MAX_CLASSES}, required; the training file's labels must use
     *                    class classes-1 (checked after reading)
     * @param skipLines   header lines (default 1)
     * @param delimiter   column separator (default ",")
     * @param shape       per-example image shape [channels, height, width], required (the reference CNN takes images)
     * @param scale       factor on every feature (default 1/255 for 8-bit pixels)
     */
    public record Csv(@JsonProperty(required = true) String train, @JsonProperty(required = true) String test, Integer labelColumn,
                      @JsonProperty(required = true) Integer classes, Integer skipLines, String delimiter,
                      @JsonProperty(required = true) List<Long> shape, Double scale) {
        /** Most classes a CSV run takes: the one-hot labels take examples x classes floats. */
        public static final int MAX_CLASSES = 65536;

        public Csv {
            if (classes != null && classes > MAX_CLASSES) {
                throw new IllegalArgumentException("data.csv.classes must be 2.." + MAX_CLASSES + " (the number of distinct labels), got "
                        + classes);
            }
            labelColumn = labelColumn == null ? 0 : labelColumn;
            skipLines = skipLines == null ? 1 : skipLines;
            delimiter = delimiter == null ? "," : delimiter;
            scale = scale == null ? 1.0 / 255 : scale;
            if (delimiter.length() != 1) {
                throw new IllegalArgumentException("data.csv.delimiter must be one character, got '" + delimiter + "'");
            }
            if (shape == null || shape.size() != 3) {
                throw new IllegalArgumentException("data.csv.shape must be [channels, height, width] (the reference CNN takes images), got "
                        + shape);
            }
            format(labelColumn, classes, skipLines, delimiter, shape, scale);   // validates now
        }

        public io.qat4j.datasets.CsvDataSets.Format format() {
            return format(labelColumn, classes, skipLines, delimiter, shape, scale);
        }

        private static io.qat4j.datasets.CsvDataSets.Format format(int labelColumn, int classes, int skipLines, String delimiter,
                                                                   List<Long> shape, double scale) {
            try {
                return new io.qat4j.datasets.CsvDataSets.Format(labelColumn, classes, skipLines, delimiter.charAt(0),
                        shape.stream().mapToLong(Long::longValue).toArray(), scale);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage().replace("csv: ", "data.csv."));
            }
        }
    }

    /**
     * Image folders read through DataVec's image record reader ({@code io.qat4j.datasets.ImageFolderDataSets}):
     * one subfolder per class (class index = position of the folder name in sorted order, taken from the
     * training folder), every image resized to the shape and scaled to [0, 1].
     *
     * @param train folder of training images, required
     * @param test  folder of test images with the same class folders (some may be missing), required
     * @param shape [channels, height, width] the images are read at: channels 1 (grayscale) or 3 (RGB); optional when the
     *              model fixes its input size (a zoo architecture's model.inputShape, a Keras file's input layer, a
     *              flat-input network), and must then agree with it
     */
    public record Images(@JsonProperty(required = true) String train, @JsonProperty(required = true) String test, List<Long> shape) {
        public Images {
            if (shape != null) {
                if (shape.size() != 3 || shape.stream().anyMatch(d -> d == null || d < 1)) {
                    throw new IllegalArgumentException("data.images.shape must be [channels, height, width] with each >= 1, got " + shape);
                }
                if (shape.get(0) != 1 && shape.get(0) != 3) {
                    throw new IllegalArgumentException("data.images.shape: channels must be 1 (grayscale) or 3 (RGB), got " + shape.get(0));
                }
                if (shape.get(1) > 8192 || shape.get(2) > 8192) {
                    throw new IllegalArgumentException("data.images.shape: height and width must be at most 8192, got " + shape);
                }
                shape = List.copyOf(shape);
            }
        }
    }

    /**
     * @param weight      KD term weight b in (0, 1] (the cross entropy gets 1 - b), default 0.5
     * @param temperature T > 0, default 4
     */
    public record Distillation(Double weight, Double temperature) {
        public Distillation {
            weight = weight == null ? 0.5 : weight;
            temperature = temperature == null ? 4.0 : temperature;
            if (!(weight > 0 && weight <= 1) || !(temperature > 0)) {
                throw new IllegalArgumentException("distillation.weight must be in (0, 1] and distillation.temperature > 0, got "
                        + weight + " and " + temperature);
            }
        }
    }

    /**
     * The network an FP32 run ({@code qat4j train}) trains: one of
     * <ul>
     *   <li>{@code architecture: reference-cnn} (the default): qat4j's reference CNN sized to the data;</li>
     *   <li>{@code architecture: <zoo name>} ({@link io.qat4j.training.ZooArchitecture}: lenet, simplecnn, alexnet, vgg16,
     *       vgg19, resnet50, squeezenet, darknet19, xception) with {@code inputShape}, built by deeplearning4j-zoo
     *       with random initialization (no pretrained weights), one output per class of the data;</li>
     *   <li>{@code file}: a DL4J configuration JSON (as MultiLayerConfiguration/ComputationGraphConfiguration.toJson()
     *       writes it; initialized with the run's seed), or an untrained DL4J zip or Keras .h5 to start from.</li>
     * </ul>
     *
     * @param architecture {@link Architecture}: reference-cnn [default] or a zoo name; absent when {@code file} is given
     * @param inputShape   zoo architectures: [channels, height, width] the network is built for; default: the data's
     *                     example shape (IDX, CSV, or data.images.shape)
     * @param file         path of a configuration JSON, DL4J zip or Keras .h5; excludes architecture and inputShape
     * @param referenceCnn reference-cnn only: its widths and dropout ({@link ReferenceCnnOptions}; default the
     *                     reference CNN's [16, 32] channels, 128 dense units, no dropout)
     */
    public record Model(@Choice Architecture architecture, List<Long> inputShape, String file, ReferenceCnnOptions referenceCnn) {
        public Model {
            if (referenceCnn != null && (file != null || (architecture != null && architecture != Architecture.REFERENCE_CNN))) {
                throw new IllegalArgumentException("model.referenceCnn sizes the reference CNN; remove it, or use architecture: reference-cnn"
                        + (file != null ? " instead of model.file" : " (not " + architecture + ")"));
            }
            if (file != null && (architecture != null || inputShape != null)) {
                throw new IllegalArgumentException("model.file gives the network with its own input; remove model.architecture and "
                        + "model.inputShape");
            }
            if (file != null && file.isBlank()) {
                throw new IllegalArgumentException("model.file is empty; give the path of a DL4J configuration JSON, zip or Keras .h5");
            }
            if (file == null) {
                architecture = architecture == null ? Architecture.REFERENCE_CNN : architecture;
                if (architecture == Architecture.REFERENCE_CNN && referenceCnn == null) {
                    referenceCnn = new ReferenceCnnOptions(null, null, null);
                }
                if (inputShape != null && architecture == Architecture.REFERENCE_CNN) {
                    throw new IllegalArgumentException("model.inputShape applies to zoo architectures; the reference CNN takes the data's "
                            + "shape (for image folders: data.images.shape)");
                }
            }
            if (inputShape != null) {
                if (inputShape.size() != 3 || inputShape.stream().anyMatch(d -> d == null || d < 1 || d > 8192)) {
                    throw new IllegalArgumentException("model.inputShape must be [channels, height, width], each 1..8192, got " + inputShape);
                }
                inputShape = List.copyOf(inputShape);
            }
        }

        /** The zoo architecture, or null for the reference CNN and for a file. */
        public io.qat4j.training.ZooArchitecture zoo() {
            return architecture == null ? null : architecture.zoo();
        }

        /**
         * The section for the command line's {@code --model SPEC} and {@code --input-shape}: "reference-cnn",
         * a zoo name, or else a file path.
         */
        public static Model of(String spec, List<Long> inputShape) {
            Architecture named = ConfigChoices.parse(Architecture.class, spec);
            return named != null ? new Model(named, inputShape, null, null) : new Model(null, inputShape, spec, null);
        }
    }

    /**
     * The reference CNN's width and dropout ({@code model.referenceCnn} of a run, {@code fp32.referenceCnn} of an
     * experiment; {@link io.qat4j.layers.ReferenceCnn.Options}). The defaults build the reference CNN as it always was.
     *
     * @param channels output channels of each Conv3x3-BN-ReLU-MaxPool2 block, 1 to 4 blocks, each 1..4096 (default [16, 32])
     * @param dense    units of the hidden dense layer, 1..65536 (default 128)
     * @param dropout  probability of dropping each input of the dense and output layers in training, [0, 1) (default 0 = none)
     */
    public record ReferenceCnnOptions(List<Integer> channels, Integer dense, Double dropout) {
        public ReferenceCnnOptions {
            io.qat4j.layers.ReferenceCnn.Options d = io.qat4j.layers.ReferenceCnn.Options.DEFAULT;
            channels = channels == null ? d.channels() : channels;
            dense = dense == null ? d.dense() : dense;
            dropout = dropout == null ? d.dropout() : dropout;
            channels = options(channels, dense, dropout).channels();   // validates now
        }

        /** The options {@link io.qat4j.layers.ReferenceCnn#build} takes. */
        public io.qat4j.layers.ReferenceCnn.Options options() {
            return options(channels, dense, dropout);
        }

        private static io.qat4j.layers.ReferenceCnn.Options options(List<Integer> channels, int dense, double dropout) {
            try {
                return new io.qat4j.layers.ReferenceCnn.Options(channels, dense, dropout);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage().replace("ReferenceCnn.", "referenceCnn."), e);
            }
        }
    }

    /**
     * @param epochs                     >= 1, required
     * @param batchSize                  default 64
     * @param learningRate               Adam learning rate, required
     * @param schedule                   {@link TrainSpec.Schedule}: constant (default), cosine or step
     * @param stepEvery                  step schedule: epochs per decay (default 1)
     * @param stepGamma                  step schedule: decay factor (default 0.1)
     * @param weightDecay                decoupled weight decay on weights (default 0)
     * @param earlyStoppingPatience      epochs without improvement before stopping (default 0 = off)
     * @param freezeObserversAfterEpoch  QAT (default -1 = never)
     * @param freezeBatchNormAfterEpoch  QAT (default -1 = never; exporting needs frozen statistics)
     * @param nativeLayers               FP32 runs: train through qat4j's layers with quantization off (native oneDNN
     *                                   convolutions, ~3.7x faster per step here), then copy the parameters back into
     *                                   the plain DL4J network (default true); false trains DL4J's own layers
     * @param divergenceFactor           stop as diverged when, after the run's first 20 steps, the mean loss of the last
     *                                   10 steps exceeds this many times the run's first-step loss (at least ln(classes));
     *                                   > 1, or 0 = stop only on NaN (default 5, {@link TrainSpec#DEFAULT_DIVERGENCE_FACTOR})
     * @param augment                    random shifts and horizontal flips of the training images ({@link Augment}; default
     *                                   none); validation, test and calibration data are never augmented
     * @param labelSmoothing             e in [0, 1): hard training labels become (1 - e) y + e / classes (default 0 = none);
     *                                   with distillation, only the hard labels
     */
    public record Train(@JsonProperty(required = true) Integer epochs, Integer batchSize,
                        @JsonProperty(required = true) Double learningRate, @Choice TrainSpec.Schedule schedule, Integer stepEvery,
                        Double stepGamma,
                        Double weightDecay, Integer earlyStoppingPatience, Integer freezeObserversAfterEpoch,
                        Integer freezeBatchNormAfterEpoch, Boolean nativeLayers, Double divergenceFactor, Augment augment,
                        Double labelSmoothing) {
        public Train {
            augment = augment == null ? new Augment(null, null) : augment;
            labelSmoothing = labelSmoothing == null ? 0.0 : labelSmoothing;
            if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
                throw new IllegalArgumentException("train.labelSmoothing must be in [0, 1) (0 = none, typically 0.1), got " + labelSmoothing);
            }
            nativeLayers = nativeLayers == null || nativeLayers;
            divergenceFactor = divergenceFactor == null ? TrainSpec.DEFAULT_DIVERGENCE_FACTOR : divergenceFactor;
            batchSize = batchSize == null ? 64 : batchSize;
            schedule = schedule == null ? TrainSpec.Schedule.CONSTANT : schedule;
            stepEvery = stepEvery == null ? 1 : stepEvery;
            stepGamma = stepGamma == null ? 0.1 : stepGamma;
            weightDecay = weightDecay == null ? 0.0 : weightDecay;
            earlyStoppingPatience = earlyStoppingPatience == null ? 0 : earlyStoppingPatience;
            freezeObserversAfterEpoch = freezeObserversAfterEpoch == null ? -1 : freezeObserversAfterEpoch;
            freezeBatchNormAfterEpoch = freezeBatchNormAfterEpoch == null ? -1 : freezeBatchNormAfterEpoch;
            if (!(weightDecay >= 0)) {
                throw new IllegalArgumentException("train.weightDecay must be >= 0, got " + weightDecay);
            }
            // the fields are assigned after this body: validate through the parameters
            spec(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, 0, freezeObserversAfterEpoch,
                    freezeBatchNormAfterEpoch, divergenceFactor);
        }

        /** {@code epochs} at a constant {@code learningRate} (Adam), every other key at its default. */
        public static Train of(int epochs, double learningRate) {
            return new Train(epochs, null, learningRate, null, null, null, null, null, null, null, null, null, null, null);
        }

        /** This schedule with {@code augment} and {@code labelSmoothing} (null: the default, none). */
        public Train withRegularization(Augment augment, Double labelSmoothing) {
            return new Train(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, weightDecay, earlyStoppingPatience,
                    freezeObserversAfterEpoch, freezeBatchNormAfterEpoch, nativeLayers, divergenceFactor, augment, labelSmoothing);
        }

        public TrainSpec toSpec(long seed) {
            return spec(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, seed,
                    freezeObserversAfterEpoch, freezeBatchNormAfterEpoch, divergenceFactor).withRegularization(augment.augmentation(),
                    labelSmoothing);
        }

        private static TrainSpec spec(int epochs, int batchSize, double learningRate, TrainSpec.Schedule schedule, int stepEvery,
                                      double stepGamma, int earlyStoppingPatience, long seed, int freezeObserversAfterEpoch,
                                      int freezeBatchNormAfterEpoch, double divergenceFactor) {
            try {
                return new TrainSpec(epochs, batchSize, learningRate, schedule, stepEvery, stepGamma, earlyStoppingPatience, seed,
                        freezeObserversAfterEpoch, freezeBatchNormAfterEpoch, divergenceFactor);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage().replace("TrainSpec.", "train."), e);
            }
        }
    }

    /**
     * Data-parallel training on Apache Spark through DL4J's parameter averaging
     * ({@code ParameterAveragingTrainingMaster}; module {@code spark}, commands {@code qat4j train|qat CONFIG --spark MASTER}).
     * Each averaging round, every worker fits {@code averagingFrequency} minibatches of {@code batchPerWorker} examples
     * from the same starting point; the driver then averages the workers' parameters (and updater state), which
     * include every quantizer's learned steps, PACT clipping values, observer ranges and the batch-norm running
     * statistics. Epochs, learning-rate schedule, freezes, model selection and checkpoints are the single-JVM
     * trainer's. One epoch visits every training example once, so it makes {@code workers} times fewer averaged
     * steps than a single-JVM epoch of the same batch.
     *
     * @param master             Spark master URL: {@code local}, {@code local[N]}, {@code local[*]}, {@code spark://host:port}
     *                           (standalone), {@code yarn} or {@code k8s://https://host:port}; null (default) takes the one
     *                           {@code spark-submit --master} sets (the {@code spark.master} system property)
     * @param workers            data-parallel workers, each fitting its own minibatches between averagings, &gt;= 1; default:
     *                           the Spark context's default parallelism (N of {@code local[N]}; on a cluster, its executor
     *                           cores)
     * @param batchPerWorker     examples per worker minibatch, &gt;= 1 (default {@code train.batchSize}, so that a worker's step
     *                           is the single-JVM step)
     * @param averagingFrequency minibatches each worker fits between two parameter averagings, &gt;= 1 (default 5): each
     *                           averaging ships the parameters to every worker and back, so a higher value trades accuracy
     *                           for less communication
     * @param saveUpdater        average the workers' updater state (Adam's moment estimates) and start the next round from
     *                           it, as DL4J's {@code saveUpdater(true)} does (default true). Measured on the reference CNN, QAT
     *                           W4A4 LSQ, 3 epochs on the bundled subset, local[2], batch 32, averaging every 5: 0.858 test
     *                           accuracy with it, 0.810 without (the workers' Adam restarts from zero moments every round),
     *                           0.856 in a single JVM (notes/spark-probe)
     * @param scaleLearningRate  multiply {@code train.learningRate} by {@code workers} (the linear scaling rule, Goyal et al.
     *                           2017, "Accurate, Large Minibatch SGD"), default true: averaging W workers' steps moves the
     *                           parameters about as far as one worker's steps, so an epoch of W workers makes W times fewer
     *                           averaged steps than a single-JVM epoch; a W times larger rate makes up for it. Measured
     *                           (same run as saveUpdater, averaging every 5): 0.844 with it, 0.830 without, single JVM
     *                           0.856 (spark module's SparkQatAccuracyTest; README "Data-parallel QAT on Spark")
     */
    public record Spark(String master, Integer workers, Integer batchPerWorker, Integer averagingFrequency, Boolean saveUpdater,
                        Boolean scaleLearningRate) {

        /** Default {@link #averagingFrequency}. */
        public static final int DEFAULT_AVERAGING_FREQUENCY = 5;

        private static final java.util.regex.Pattern LOCAL = java.util.regex.Pattern.compile("local(\\[(\\*|[0-9]{1,6})(,[0-9]+)?])?");

        public Spark {
            if (master != null) {
                master = master.strip();
                boolean cluster = master.startsWith("spark://") || master.startsWith("k8s://") || master.startsWith("mesos://")
                        || master.equals("yarn");
                if (!cluster && !LOCAL.matcher(master).matches()) {
                    throw new IllegalArgumentException("spark.master must be a Spark master URL: local, local[N], local[*], "
                            + "spark://HOST:PORT, yarn or k8s://https://HOST:PORT; got '" + master + "'");
                }
                java.util.regex.Matcher m = LOCAL.matcher(master);
                if (m.matches() && m.group(2) != null && !m.group(2).equals("*") && Integer.parseInt(m.group(2)) < 1) {
                    throw new IllegalArgumentException("spark.master " + master + " has no threads; use local[N] with N >= 1");
                }
            }
            if (workers != null && workers < 1) {
                throw new IllegalArgumentException("spark.workers must be >= 1 (the number of data-parallel workers), got " + workers);
            }
            if (batchPerWorker != null && batchPerWorker < 1) {
                throw new IllegalArgumentException("spark.batchPerWorker must be >= 1 (examples per worker minibatch), got "
                        + batchPerWorker);
            }
            averagingFrequency = averagingFrequency == null ? DEFAULT_AVERAGING_FREQUENCY : averagingFrequency;
            if (averagingFrequency < 1) {
                throw new IllegalArgumentException("spark.averagingFrequency must be >= 1 (minibatches per worker between two "
                        + "parameter averagings), got " + averagingFrequency);
            }
            saveUpdater = saveUpdater == null || saveUpdater;
            scaleLearningRate = scaleLearningRate == null || scaleLearningRate;
        }
    }

    /**
     * The {@code train.augment} section ({@link io.qat4j.training.Augmentation}): per training image, a
     * horizontal flip with probability 1/2 and a shift by up to {@code shift} pixels along each axis,
     * zero filled; seeded by the run's seed and the epoch. Needs image data in NCHW (the reference CNN's).
     *
     * @param shift          largest shift in pixels, 0..16 (default 0 = none)
     * @param flipHorizontal mirror images left-right at random (default false)
     */
    public record Augment(Integer shift, Boolean flipHorizontal) {
        public Augment {
            shift = shift == null ? 0 : shift;
            flipHorizontal = flipHorizontal != null && flipHorizontal;
            augmentation(shift, flipHorizontal);   // validates now
        }

        /** The augmentation the trainer applies. */
        public io.qat4j.training.Augmentation augmentation() {
            return augmentation(shift, flipHorizontal);
        }

        private static io.qat4j.training.Augmentation augmentation(int shift, boolean flip) {
            try {
                return new io.qat4j.training.Augmentation(shift, flip);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage().replace("augment.", "train.augment."), e);
            }
        }
    }

    /**
     * What a QAT run quantizes how. A QAT run ends in the integer export, so the settings must be ones
     * the exporter takes ({@link io.qat4j.export.Int8Exporter#exportProblem}); they are checked
     * here, before any training.
     *
     * @param weights          weight quantizer, required
     * @param inputs           activation (input) quantizer, required
     * @param firstLayerSigned whether the network input is signed; absent (default): every input quantizer takes its
     *                         signedness from the data (signed as soon as a calibration range or training batch holds a
     *                         negative value); true/false forces the first layer (false on negative data logs a warning)
     */
    public record Quantization(@JsonProperty(required = true) Weights weights, @JsonProperty(required = true) Inputs inputs,
                               Boolean firstLayerSigned) {
        public Quantization {
            if (weights != null && inputs != null) {
                QuantSettings first = settings(weights, inputs).clone();   // validates bits and combinations now
                first.setInputSigned(firstLayerSigned != null && firstLayerSigned);
                try {
                    first.validate("first");   // what wrapping the first layer checks, before any data is read
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("quantization.firstLayerSigned is true (signed network input), but "
                            + e.getMessage().replace("layer 'first': ", ""), e);
                }
            }
        }

        /** Settings for every layer (the first layer's signedness is applied by the caller). */
        public QuantSettings settings() {
            return settings(weights, inputs);
        }

        private static QuantSettings settings(Weights weights, Inputs inputs) {
            QuantSettings s = QuantSettings.of(weights.mode(), weights.bits(), inputs.mode(), inputs.bits());
            s.setWeightPerChannel(weights.perChannel());
            s.validate("quantization (config)");
            String problem = io.qat4j.export.Int8Exporter.exportProblem(s);
            if (problem != null) {
                throw new IllegalArgumentException("quantization.weights/inputs (mode " + weights.mode() + ", " + weights.bits()
                        + " bits / mode " + inputs.mode() + ", " + inputs.bits() + " bits): " + problem
                        + "; a QAT run ends in the INT8 export, so change them before training");
            }
            return s;
        }
    }

    /**
     * @param mode       FIXED, LSQ, BINARY or TERNARY (exportable)
     * @param bits       FIXED/LSQ: {@link BitWidths} for the INT8 runtime, 2..8 (default 8)
     * @param perChannel default true
     */
    public record Weights(@JsonProperty(required = true) @Choice WeightQuantMode mode, Integer bits, Boolean perChannel) {
        public Weights {
            bits = bits == null ? 8 : bits;
            perChannel = perChannel == null || perChannel;
        }

        /** The PTQ weight quantizer of these weights: a PTQ plan that initializes QAT quantizes the same way. */
        public QuantPlan.WeightQuantizer ptqQuantizer() {
            return switch (mode) {
                case BINARY -> QuantPlan.WeightQuantizer.BINARY;
                case TERNARY -> QuantPlan.WeightQuantizer.TERNARY;
                case NONE, FIXED, LSQ, LSQ_PLUS -> QuantPlan.WeightQuantizer.UNIFORM;
            };
        }
    }

    /**
     * @param mode FIXED, LSQ or PACT (exportable)
     * @param bits {@link BitWidths} for the INT8 runtime, 1..8 (default 8)
     */
    public record Inputs(@JsonProperty(required = true) @Choice InputQuantMode mode, Integer bits) {
        public Inputs {
            bits = bits == null ? 8 : bits;
        }
    }

    /**
     * Post-training quantization (module ptq-baseline): the recipe ({@link PtqRecipe}) and the policy
     * ({@link PtqPolicy}) that {@link #policy()} builds, so that a Java program gets what
     * {@code qat4j ptq} does from {@link io.qat4j.ptq.PtqPlanner} without this module. Every run
     * ends in the integer export, so bit widths follow {@link BitWidths} for the INT8 runtime (at most
     * 8). Defaults in brackets.
     *
     * @param weightQuantizer           uniform [uniform], binary or ternary ({@link QuantPlan.WeightQuantizer})
     * @param weightBits                uniform weight bits 2..8 [8]
     * @param perChannel                per-output-channel weight scales [true]
     * @param weightRange               minmax [minmax] or mse ({@link WeightRangeMethod})
     * @param inputBits                 activation bits 1..8 [8]
     * @param calibration               minmax, moving-average, percentile [percentile], entropy, mse, aciq ({@link CalibrationMethod})
     * @param percentile                percentile calibrator's percentile [99.99]
     * @param samples                   calibration samples from the training set [512]
     * @param foldBatchNorm             [true]
     * @param crossLayerEqualization    [false]
     * @param biasCorrection            [true]
     * @param averageBits               mixed precision: average weight bits budget in [1, 8] (e.g. 3.0), at least the smallest
     *                                  candidate width; null [null] = uniform weightBits
     * @param candidateBits             mixed precision / sensitivity candidate weight widths, each 2..8 [2, 3, 4, 8]
     * @param allocation                exact [exact] (knapsack DP; with a validation split, the best of the measured
     *                                  candidates) or greedy ({@link BitAllocator.Method})
     * @param metric                    sensitivity distance: kl [kl] or mse ({@link SensitivityAnalysis.Metric})
     * @param sensitivitySamples        samples the sensitivity analysis runs on [256]
     * @param perChannelSensitivityBits width of the per-channel weight sensitivity, 0 [0] = skip
     * @param keepMostSensitive         partial quantization: keep this many most sensitive layers in float [0]
     * @param firstLastBits             weight and input bits 2..8 of the first and last weighted layers (uniform weights, also in
     *                                  binary/ternary runs), as the LSQ paper and many low-bit papers keep them; null [null] = like
     *                                  the others
     * @param adaRound                  learned weight rounding (AdaRound) instead of nearest rounding and bias correction; null
     *                                  [null] = off. Its keys: iterations [1000] per layer, regularization [0.01], samples [256],
     *                                  batchRows [4096], learningRate [0.01], warmup [0.2]
     */
    public record Ptq(@Choice QuantPlan.WeightQuantizer weightQuantizer, Integer weightBits, Boolean perChannel,
                      @Choice WeightRangeMethod weightRange, Integer inputBits, @Choice CalibrationMethod calibration, Double percentile,
                      Integer samples, Boolean foldBatchNorm, Boolean crossLayerEqualization, Boolean biasCorrection, Double averageBits,
                      List<Integer> candidateBits, @Choice BitAllocator.Method allocation, @Choice SensitivityAnalysis.Metric metric,
                      Integer sensitivitySamples, Integer perChannelSensitivityBits, Integer keepMostSensitive, Integer firstLastBits,
                      AdaRoundConfig adaRound) {
        public Ptq {
            weightQuantizer = weightQuantizer == null ? QuantPlan.WeightQuantizer.UNIFORM : weightQuantizer;
            weightBits = weightBits == null ? 8 : weightBits;
            perChannel = perChannel == null || perChannel;
            weightRange = weightRange == null ? WeightRangeMethod.MINMAX : weightRange;
            inputBits = inputBits == null ? 8 : inputBits;
            calibration = calibration == null ? CalibrationMethod.PERCENTILE : calibration;
            percentile = percentile == null ? 99.99 : percentile;
            samples = samples == null ? 512 : samples;
            foldBatchNorm = foldBatchNorm == null || foldBatchNorm;
            crossLayerEqualization = crossLayerEqualization != null && crossLayerEqualization;
            biasCorrection = biasCorrection == null || biasCorrection;
            candidateBits = candidateBits == null ? PtqPolicy.DEFAULT_CANDIDATE_BITS : List.copyOf(candidateBits);
            allocation = allocation == null ? BitAllocator.Method.EXACT : allocation;
            metric = metric == null ? SensitivityAnalysis.Metric.KL : metric;
            sensitivitySamples = sensitivitySamples == null ? PtqPolicy.DEFAULT_SENSITIVITY_SAMPLES : sensitivitySamples;
            perChannelSensitivityBits = perChannelSensitivityBits == null ? 0 : perChannelSensitivityBits;
            keepMostSensitive = keepMostSensitive == null ? 0 : keepMostSensitive;
            // every run ends in the INT8 runtime: the one bit-width rule at its limit
            BitWidths.checkInputBits("ptq.inputBits", inputBits, BitWidths.Target.INT8_RUNTIME);
            BitWidths.checkWeightBits("ptq.weightBits", weightBits, BitWidths.Target.INT8_RUNTIME);
            for (int b : candidateBits) {
                BitWidths.checkWeightBits("ptq.candidateBits (each)", b, BitWidths.Target.INT8_RUNTIME);
            }
            if (averageBits != null && !(averageBits >= 1 && averageBits <= BitWidths.INT8_RUNTIME_MAX_BITS)) {
                throw new IllegalArgumentException("ptq.averageBits must be in [1, " + BitWidths.INT8_RUNTIME_MAX_BITS
                        + "] (the INT8 runtime's range), got " + averageBits);
            }
            if (firstLastBits != null) {
                BitWidths.checkWeightBits("ptq.firstLastBits (uniform weights and inputs of the first and last layers)", firstLastBits,
                        BitWidths.Target.INT8_RUNTIME);
            }
            // the fields are assigned after this body: validate through the parameters
            policy(weightQuantizer, weightBits, perChannel, weightRange, inputBits, calibration, percentile, samples, foldBatchNorm,
                    crossLayerEqualization, biasCorrection, averageBits, candidateBits, allocation, metric, sensitivitySamples,
                    perChannelSensitivityBits, keepMostSensitive, firstLastBits, adaRound);
        }

        /** Samples the calibration pass keeps in memory: the sensitivity analysis's and AdaRound's, whichever is larger. */
        public int keptSamples() {
            return policy().keptSamples();
        }

        /** A recipe built in code: every key at its default (listed above) until set; {@link Builder#build} validates. */
        public static Builder builder() {
            return new Builder();
        }

        /** Sets the keys of a {@link Ptq} one by one (names and defaults as in the YAML section); null restores the default. */
        public static final class Builder {
            private QuantPlan.WeightQuantizer weightQuantizer;
            private Integer weightBits;
            private Boolean perChannel;
            private WeightRangeMethod weightRange;
            private Integer inputBits;
            private CalibrationMethod calibration;
            private Double percentile;
            private Integer samples;
            private Boolean foldBatchNorm;
            private Boolean crossLayerEqualization;
            private Boolean biasCorrection;
            private Double averageBits;
            private List<Integer> candidateBits;
            private BitAllocator.Method allocation;
            private SensitivityAnalysis.Metric metric;
            private Integer sensitivitySamples;
            private Integer perChannelSensitivityBits;
            private Integer keepMostSensitive;
            private Integer firstLastBits;
            private AdaRoundConfig adaRound;

            private Builder() {
            }

            public Builder weightQuantizer(QuantPlan.WeightQuantizer v) {
                weightQuantizer = v;
                return this;
            }

            public Builder weightBits(Integer v) {
                weightBits = v;
                return this;
            }

            public Builder perChannel(Boolean v) {
                perChannel = v;
                return this;
            }

            public Builder weightRange(WeightRangeMethod v) {
                weightRange = v;
                return this;
            }

            public Builder inputBits(Integer v) {
                inputBits = v;
                return this;
            }

            public Builder calibration(CalibrationMethod v) {
                calibration = v;
                return this;
            }

            public Builder percentile(Double v) {
                percentile = v;
                return this;
            }

            public Builder samples(Integer v) {
                samples = v;
                return this;
            }

            public Builder foldBatchNorm(Boolean v) {
                foldBatchNorm = v;
                return this;
            }

            public Builder crossLayerEqualization(Boolean v) {
                crossLayerEqualization = v;
                return this;
            }

            public Builder biasCorrection(Boolean v) {
                biasCorrection = v;
                return this;
            }

            public Builder averageBits(Double v) {
                averageBits = v;
                return this;
            }

            public Builder candidateBits(List<Integer> v) {
                candidateBits = v;
                return this;
            }

            public Builder allocation(BitAllocator.Method v) {
                allocation = v;
                return this;
            }

            public Builder metric(SensitivityAnalysis.Metric v) {
                metric = v;
                return this;
            }

            public Builder sensitivitySamples(Integer v) {
                sensitivitySamples = v;
                return this;
            }

            public Builder perChannelSensitivityBits(Integer v) {
                perChannelSensitivityBits = v;
                return this;
            }

            public Builder keepMostSensitive(Integer v) {
                keepMostSensitive = v;
                return this;
            }

            public Builder firstLastBits(Integer v) {
                firstLastBits = v;
                return this;
            }

            public Builder adaRound(AdaRoundConfig v) {
                adaRound = v;
                return this;
            }

            /** @throws IllegalArgumentException naming the {@code ptq.} key, as a configuration file's error would */
            public Ptq build() {
                return new Ptq(weightQuantizer, weightBits, perChannel, weightRange, inputBits, calibration, percentile, samples, foldBatchNorm,
                        crossLayerEqualization, biasCorrection, averageBits, candidateBits, allocation, metric, sensitivitySamples,
                        perChannelSensitivityBits, keepMostSensitive, firstLastBits, adaRound);
            }
        }

        /** True when the run needs the sensitivity analysis (mixed precision or partial quantization). */
        public boolean needsSensitivity() {
            return policy().needsSensitivity();
        }

        /** The passes, widths and calibrator of this section ({@link #policy()}'s recipe). */
        public PtqRecipe recipe() {
            return policy().recipe();
        }

        /** The PTQ policy of this section: what {@code qat4j ptq} carries out with {@link io.qat4j.ptq.PtqPlanner}. */
        public PtqPolicy policy() {
            return policy(weightQuantizer, weightBits, perChannel, weightRange, inputBits, calibration, percentile, samples, foldBatchNorm,
                    crossLayerEqualization, biasCorrection, averageBits, candidateBits, allocation, metric, sensitivitySamples,
                    perChannelSensitivityBits, keepMostSensitive, firstLastBits, adaRound);
        }

        public SensitivityAnalysis.Options sensitivityOptions() {
            return policy().sensitivityOptions();
        }

        private static PtqPolicy policy(QuantPlan.WeightQuantizer weightQuantizer, int weightBits, boolean perChannel,
                                        WeightRangeMethod weightRange, int inputBits, CalibrationMethod calibration, double percentile,
                                        int samples, boolean fold, boolean cle, boolean biasCorrection, Double averageBits,
                                        List<Integer> candidateBits, BitAllocator.Method allocation, SensitivityAnalysis.Metric metric,
                                        int sensitivitySamples, int perChannelSensitivityBits, int keepMostSensitive, Integer firstLastBits,
                                        AdaRoundConfig adaRound) {
            try {
                PtqRecipe recipe = new PtqRecipe(fold, cle, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange, inputBits,
                        calibration, percentile, samples, 2048, java.util.Map.of(), List.of(), java.util.Map.of(),
                        adaRound == null ? null : adaRound.settings());
                return PtqPolicy.builder(recipe).averageBits(averageBits).candidateBits(candidateBits).allocation(allocation).metric(metric)
                        .sensitivitySamples(sensitivitySamples).perChannelSensitivityBits(perChannelSensitivityBits)
                        .keepMostSensitive(keepMostSensitive).firstLastBits(firstLastBits).build();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage().replace("PtqRecipe: calibrationSamples", "ptq.samples")
                        .replace("PtqRecipe: ", "ptq.").replace("PtqPolicy: ", "ptq."), e);
            }
        }

        /**
         * The {@code ptq.adaRound} section ({@link io.qat4j.ptq.AdaRound.Settings}; defaults in brackets).
         *
         * @param iterations     Adam steps per layer [1000]
         * @param regularization weight of the rounding regularizer [0.01]
         * @param samples        calibration samples reconstructed [256], at most {@code ptq.samples}
         * @param batchRows      rows per step [4096]
         * @param learningRate   Adam learning rate [0.01]
         * @param warmup         fraction of the iterations without the regularizer [0.2]
         * @param seed           row sampling seed [0]
         */
        public record AdaRoundConfig(Integer iterations, Double regularization, Integer samples, Integer batchRows, Double learningRate,
                                     Double warmup, Long seed) {
            public AdaRoundConfig {
                AdaRound.Settings d = AdaRound.Settings.defaults();
                iterations = iterations == null ? d.iterations() : iterations;
                regularization = regularization == null ? d.regularization() : regularization;
                samples = samples == null ? d.samples() : samples;
                batchRows = batchRows == null ? d.batchRows() : batchRows;
                learningRate = learningRate == null ? d.learningRate() : learningRate;
                warmup = warmup == null ? d.warmup() : warmup;
                seed = seed == null ? d.seed() : seed;
                try {
                    settings(iterations, regularization, samples, batchRows, learningRate, warmup, seed);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(e.getMessage().replace("AdaRound: ", "ptq.adaRound."));
                }
            }

            public AdaRound.Settings settings() {
                return settings(iterations, regularization, samples, batchRows, learningRate, warmup, seed);
            }

            private static AdaRound.Settings settings(int iterations, double regularization, int samples, int batchRows, double learningRate,
                                                      double warmup, long seed) {
                return new AdaRound.Settings(iterations, regularization, batchRows, learningRate, warmup, samples, seed);
            }
        }
    }
}
