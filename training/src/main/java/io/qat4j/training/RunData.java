package io.qat4j.training;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.datasets.CsvDataSets;
import io.qat4j.datasets.DataSplits;
import io.qat4j.datasets.FashionMnist;
import io.qat4j.datasets.ImageFolderDataSets;
import io.qat4j.datasets.ImageFolderException;
import io.qat4j.training.config.RunConfig;

/**
 * Training, validation (for model selection) and test data of a run, as a configuration's
 * {@code data} section selects them.
 *
 * @param source            where the examples come from: a {@link FashionMnist.Source} name, {@code IMAGES} or {@code CSV}
 * @param location          the directory or files, in words
 * @param train             training examples (features [N, C, H, W] or [N, F], one-hot labels [N, classes])
 * @param validation        held-out training examples for model selection, or the test set itself (validationFraction 0)
 * @param test              test examples
 * @param classesFromLabels the class count is the largest label + 1 of the files (IDX), where CSV files and image
 *                          folders declare their classes (data.csv.classes, the class folders)
 */
public record RunData(String source, String location, DataSet train, DataSet validation, DataSet test, boolean classesFromLabels) {

    /** Training images the integer export and the diagnostics take their calibration from: the first 256 (or all, if fewer). */
    public static final int CALIBRATION_SAMPLES = 256;

    /** True when model selection uses the test set (validationFraction 0). */
    public boolean selectsOnTest() {
        return validation == test;
    }

    /**
     * The first {@value #CALIBRATION_SAMPLES} training images (all of them when there are fewer), features only, in the
     * training set's shape ([n, C, H, W] or [n, F]): the calibration sample of the integer export and of the per-layer
     * diagnostics, the same in every command.
     */
    public INDArray calibrationSample() {
        return train.getFeatures().get(NDArrayIndex.interval(0, Math.min(CALIBRATION_SAMPLES, train.numExamples())));
    }

    /** What {@link #validation()} is, in words: "validation split", or "test set" when validationFraction is 0. */
    public String validationName() {
        return selectsOnTest() ? "test set" : "validation split";
    }

    /**
     * The data of {@code d} (data.source chosen by {@link FashionMnist#load(FashionMnist.Search, FashionMnist.Options)}, limits
     * and the validation split by {@link DataSplits}); {@code seed} shuffles the validation split; {@code model} (null when there
     * is none yet) gives the size image folders are read at when {@code data.images.shape} does not
     * (and must agree with it when both do). Checked right after loading: training and test examples
     * of one shape and class count, and CSV labels that use every one of {@code data.csv.classes}.
     *
     * @throws BadInputException naming both files, or the key to change
     * @throws IOException       when a file cannot be read, or data.source is 'full' and the full dataset is not installed
     */
    public static RunData load(RunConfig.Data d, long seed, ModelInput model) throws IOException {
        FashionMnist.Located all;
        String trainFile;
        String testFile;
        boolean fromLabels = false;
        if (d.images() != null) {
            int[] shape = imageShape(d.images(), model);
            Path trainDir = Path.of(d.images().train());
            Path testDir = Path.of(d.images().test());
            DataSet imagesTrain;
            DataSet imagesTest;
            try {
                List<String> classes = ImageFolderDataSets.classes(trainDir);
                imagesTrain = ImageFolderDataSets.read(trainDir, classes, shape[0], shape[1], shape[2]);
                imagesTest = ImageFolderDataSets.read(testDir, classes, shape[0], shape[1], shape[2]);
            } catch (ImageFolderException e) {
                throw new BadInputException("data.images: " + e.getMessage());
            }
            all = new FashionMnist.Located(null, "image folders " + trainDir + ", " + testDir, imagesTrain, imagesTest);
            trainFile = trainDir.toString();
            testFile = testDir.toString();
        } else if (d.csv() != null) {
            DataSet csvTrain = CsvDataSets.read(Path.of(d.csv().train()), d.csv().format());
            int used = csvTrain.getLabels().argMax(1).maxNumber().intValue() + 1;
            if (used < d.csv().classes()) {
                throw new BadInputException("data.csv.classes is " + d.csv().classes() + " but the labels in " + d.csv().train() + " are 0.."
                        + (used - 1) + "; set data.csv.classes: " + used + " (one output per class; every class needs training examples)");
            }
            DataSet csvTest = CsvDataSets.read(Path.of(d.csv().test()), d.csv().format());
            all = new FashionMnist.Located(null, "CSV " + d.csv().train() + ", " + d.csv().test(), csvTrain, csvTest);
            trainFile = d.csv().train();
            testFile = d.csv().test();
        } else {
            all = FashionMnist.load(d.source(), FashionMnist.Options.standard(d.dir() == null ? null : Path.of(d.dir())));
            boolean bundled = all.source() == FashionMnist.Source.BUNDLED_SUBSET;
            fromLabels = true;
            trainFile = bundled ? "the bundled training subset" : Path.of(all.location(), FashionMnist.TRAIN_IMAGES) + "[.gz]";
            testFile = bundled ? "the bundled test subset" : Path.of(all.location(), FashionMnist.TEST_IMAGES) + "[.gz]";
        }
        String trainShape = describe(all.train());
        String testShape = describe(all.test());
        if (!trainShape.equals(testShape)) {
            throw new BadInputException("the training and test data do not fit together: " + trainFile + " holds " + trainShape + ", "
                    + testFile + " holds " + testShape + "; a model trained on one cannot be tested on the other: use files of the same "
                    + "image size and classes");
        }
        String source = all.source() != null ? all.source().name() : d.images() != null ? "IMAGES" : "CSV";
        DataSet train = d.trainLimit() == null ? all.train() : DataSplits.head(all.train(), d.trainLimit());
        DataSet test = d.testLimit() == null ? all.test() : DataSplits.head(all.test(), d.testLimit());
        if (d.validationFraction() == 0) {
            return new RunData(source, all.location(), train, test, test, fromLabels);
        }
        DataSplits.TrainValidation split;
        try {
            split = DataSplits.holdOut(train, d.validationFraction(), seed);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("data.validationFraction: " + e.getMessage().replace("DataSplits.holdOut: ", ""));
        }
        return new RunData(source, all.location(), split.train(), split.validation(), test, fromLabels);
    }

    /** [C, H, W] image folders are read at: data.images.shape, else the model's input size; both must agree. */
    private static int[] imageShape(RunConfig.Images images, ModelInput model) throws BadInputException {
        int[] fromModel = model == null ? null : model.imageShape();
        int[] given = images.shape() == null ? null : images.shape().stream().mapToInt(Long::intValue).toArray();
        if (given != null && fromModel != null && !Arrays.equals(given, fromModel)) {
            throw new BadInputException("data.images.shape is " + Arrays.toString(given) + " but the model takes "
                    + model.describe() + " (from " + model.from() + "); give data.images.shape " + Arrays.toString(fromModel)
                    + " or leave it out");
        }
        if (given == null && fromModel == null) {
            throw new BadInputException("data.images: give shape: [channels, height, width], the size the images are read at; the model "
                    + (model == null ? "is sized from the data" : "does not fix its image size (it takes " + model.describe() + ")"));
        }
        if (given == null && fromModel[0] != 1 && fromModel[0] != 3) {
            throw new BadInputException("the model takes " + model.describe() + ", but image folders are read with 1 (grayscale) or 3 (RGB) "
                    + "channels");
        }
        return given != null ? given : fromModel;
    }

    /** "examples of shape [c, h, w] in k classes": what a network must take. */
    public static String describe(DataSet ds) {
        long[] shape = ds.getFeatures().shape();
        return "examples of shape " + Arrays.toString(Arrays.copyOfRange(shape, 1, shape.length)) + " in "
                + ds.getLabels().size(1) + " classes";
    }

    /**
     * This data as {@code net} (the model {@code model}, in the user's words) takes it, checked: the
     * examples' shape against the network's input ({@link ModelInput#fit}: permuted to NHWC or flattened
     * where the network takes that), one forward pass on a test example, and one output per class: the
     * data's class count (from the labels, or declared) must equal the network's outputs.
     *
     * @param config where the data comes from (a configuration file), for messages
     * @throws BadInputException naming both shapes or both counts
     */
    public RunData fit(Model net, ModelInput input, String model, Object config) throws BadInputException {
        String what = "the data of " + config + " (" + describe(test) + ")";
        DataSet fitTrain;
        DataSet fitTest;
        DataSet fitValidation;
        try {
            fitTrain = input.fit(train, what, model);
            fitTest = input.fit(test, what, model);
            fitValidation = selectsOnTest() ? fitTest : input.fit(validation, what, model);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage());
        }
        INDArray y;
        try {
            y = Networks.output(net, fitTest.getFeatures().get(NDArrayIndex.interval(0, 1)));
        } catch (RuntimeException e) {
            throw new BadInputException(model + " does not take " + what + ": the network fails on them (" + e.getMessage()
                    + "); it takes " + input.describe() + "; use data of the shape the model was built for");
        }
        long classes = test.getLabels().size(1);
        if (y.rank() != 2) {
            throw new BadInputException(model + " gives outputs of shape " + Arrays.toString(y.shape()) + " per batch; qat4j "
                    + "takes classifiers with one output per class ([N, classes])");
        }
        long outputs = y.size(1);
        if (outputs != classes) {
            throw new BadInputException(model + " has " + outputs + " outputs but " + what + " has " + classes + " classes"
                    + (classesFromLabels ? " (its largest label is " + (classes - 1) + ")" : "")
                    + "; use the data the model was trained for, or a model with one output per class");
        }
        return new RunData(source, location, fitTrain, fitValidation, fitTest, classesFromLabels);
    }

}
