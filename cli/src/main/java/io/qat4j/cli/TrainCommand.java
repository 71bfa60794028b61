package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.ReferenceCnn;
import io.qat4j.training.BadInputException;
import io.qat4j.training.FloatTraining;
import io.qat4j.training.LoadedModel;
import io.qat4j.training.ModelFileException;
import io.qat4j.training.ModelInput;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.Networks;
import io.qat4j.training.RunData;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j train CONFIG}: trains the FP32 model a config describes: the reference CNN, a zoo architecture or a network from a file. */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train the FP32 model of a configuration.",
        footer = {"",
            "Example:  qat4j train configs/fp32.yaml --out runs/fp32",
            "          qat4j train configs/fp32.yaml --model resnet50 \\",
            "            --input-shape 3,64,64 --out runs/resnet50",
            "          qat4j train configs/fp32.yaml --model my-network.json \\",
            "            --out runs/mine",
            "The network (the config's 'model' section, or --model): reference-cnn (default;",
            "sized to the data), a zoo architecture (lenet, simplecnn, alexnet, vgg16,",
            "vgg19, resnet50, squeezenet, darknet19, xception) built by deeplearning4j-zoo",
            "with random initialization (never pretrained weights) at --input-shape /",
            "model.inputShape (default: the data's shape), one output per class, or a file:",
            "a DL4J configuration JSON (MultiLayerConfiguration or",
            "ComputationGraphConfiguration .toJson(), initialized from the run's seed) or an",
            "untrained DL4J zip or Keras .h5 to start from (its updater is kept;",
            "train.learningRate sets the rate, train.weightDecay replaces its regularization",
            "when > 0).",
            "Writes best.zip (the epoch with the best validation accuracy), checkpoint.zip",
            "(+ .json), metrics.csv/.jsonl, resolved-config.yaml (with the model),",
            "provenance.json.",
            "The output directory must be new or empty; --resume continues the run there,",
            "--force starts it over.",
            "--spark local[2] (or the config's spark section) trains data-parallel on Apache",
            "Spark.",
            "Exit codes: 0 done, 1 training failed, 2 bad usage, configuration, model file",
            "or data that does not fit the model."})
public final class TrainCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG", description = "YAML run configuration without a quantization section.")
    Path config;

    @Option(names = "--model", paramLabel = "SPEC", description = "The network to train, replacing the config's model section: "
            + "reference-cnn, a zoo architecture (e.g. lenet, resnet50), a DL4J configuration JSON file, or an untrained DL4J zip or "
            + "Keras .h5.")
    String model;

    @Option(names = "--input-shape", paramLabel = "C,H,W", split = ",", description = "Zoo architectures: the input shape "
            + "[channels, height, width] to build the network for (default: the data's example shape).")
    List<Long> inputShape;

    @Mixin
    RunOptions.Training options;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        RunConfig c = RunInputs.loadConfig(config, err, "train");
        if (c == null) {
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            c = SparkRuns.withOption(c, options.spark);
        } catch (SparkRuns.BadUsage e) {
            err.println("qat4j train: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        }
        if (c.isQat() || c.isPtqOnly()) {
            err.println("qat4j train: " + config + " quantizes a trained model; run it with `qat4j " + (c.isQat() ? "qat" : "ptq") + "`");
            return Qat4jCommand.EXIT_USAGE;
        }
        if (model != null || inputShape != null) {
            try {
                RunConfig.Model m = model != null ? RunConfig.Model.of(model, inputShape)
                        : new RunConfig.Model(c.model().architecture(), inputShape, c.model().file(), c.model().referenceCnn());
                if (m.referenceCnn() != null && c.model().referenceCnn() != null) {
                    // --model reference-cnn keeps the configuration's model.referenceCnn widths
                    m = new RunConfig.Model(m.architecture(), m.inputShape(), m.file(), c.model().referenceCnn());
                }
                c = c.withModel(m);
            } catch (IllegalArgumentException e) {
                err.println("qat4j train: --model/--input-shape: " + e.getMessage());
                return Qat4jCommand.EXIT_USAGE;
            }
        }
        Path dir = options.outFor(c.name());
        try {
            String problem = OutputDirectory.problem(dir, "train", c, true, options.resume, options.force, c.train().epochs());
            if (problem != null) {
                err.println("qat4j train: " + problem);
                return Qat4jCommand.EXIT_USAGE;
            }
            Trainer.seed(c.seed());
            LoadedModel fromFile = null;
            ModelInput declared = null;
            RunConfig.Model m = c.model();
            if (m.file() != null) {
                try {
                    fromFile = ModelLoader.initialize(Path.of(m.file()), c.seed());
                } catch (ModelFileException e) {
                    throw new BadInputException("model.file: " + e.getMessage());
                }
                declared = fromFile.input();
            } else if (m.zoo() != null && m.inputShape() != null) {
                declared = new ModelInput(ModelInput.Kind.IMAGE, m.inputShape().stream().mapToLong(Long::longValue).toArray(), CNN2DFormat.NCHW,
                        "model.inputShape");
            }
            RunData data = RunData.load(c.data(), c.seed(), declared);
            out.printf("data: %s (%s), %d train / %s / %d test%n", data.source(), data.location(), data.train().numExamples(),
                    data.selectsOnTest() ? "model selection on the test set" : data.validation().numExamples() + " validation",
                    data.test().numExamples());
            io.qat4j.training.Provenance.writeRunFiles(dir, config.toString(), c, c.seed(), data, options.resume);
            Trainer.seed(c.seed());
            Network n = fromFile != null ? fromFile(fromFile, c) : build(c, data);
            data = data.fit(n.net(), n.input(), n.name(), config);
            try {
                Networks.checkTrainable(n.net(), n.name());
            } catch (IllegalArgumentException e) {
                throw new BadInputException(e.getMessage());
            }
            String augmentProblem = c.train().augment().augmentation().problem(n.input(), data.train().getFeatures());
            if (augmentProblem != null) {
                throw new BadInputException(augmentProblem);
            }
            out.printf("model: %s, %s, %d parameters%s%n", n.name(), Networks.describe(n.net()), n.net().numParams(),
                    FloatTraining.usesNativeLayers(n.net(), c.train().nativeLayers()) ? " (trained through qat4j's native-convolution layers)" : "");
            RunConfig run = c;
            RunData fitted = data;
            Trainer.Result<Model> r = SparkRuns.train(c, new Trainer(), dir, out, (trainer, spec) -> FloatTraining.train(trainer, n.net(),
                    fitted.train(), fitted.validation(), spec, dir, options.resume, ProgressBars.epochPrinter(out, run, fitted),
                    ProgressBars.forConsole(), run.train().nativeLayers())).result();
            if (data.selectsOnTest()) {
                out.printf("best test accuracy %.4f; model %s%n", r.bestValidationAccuracy(), dir.resolve("best.zip"));
            } else {
                Model best = ModelLoader.load(dir.resolve("best.zip")).network();
                out.printf("best validation accuracy %.4f, its test accuracy %.4f; model %s%n", r.bestValidationAccuracy(),
                        Trainer.accuracy(best, data.test()), dir.resolve("best.zip"));
            }
            out.flush();
            return 0;
        } catch (BadInputException e) {
            err.println("qat4j train: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j train: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }

    /** The network to train, what it takes, and its name in messages. */
    private record Network(Model net, ModelInput input, String name) {
    }

    private static Network fromFile(LoadedModel m, RunConfig c) {
        if (c.train().weightDecay() > 0) {
            Trainer.setWeightDecay(m.network(), c.train().weightDecay());
        }
        return new Network(m.network(), m.input(), "model.file " + m.describe());
    }

    /** "(channels [32, 64], dense 256, dropout 0.25)" for non-default options, else "" ("the reference CNN" alone). */
    private static String describe(RunConfig.ReferenceCnnOptions o) {
        return o.options().equals(ReferenceCnn.Options.DEFAULT) ? ""
                : "(channels " + o.channels() + ", dense " + o.dense() + (o.dropout() > 0 ? ", dropout " + o.dropout() : "") + ")";
    }

    /** The reference CNN or a zoo architecture, sized to the data (a zoo network's input from model.inputShape when given). */
    private static Network build(RunConfig c, RunData data) throws BadInputException {
        long[] shape = data.train().getFeatures().shape();
        int classes = (int) data.train().getLabels().size(1);
        RunConfig.Model m = c.model();
        if (m.zoo() == null) {
            if (shape.length != 4) {
                throw new BadInputException("the reference CNN takes [channels, height, width] images; the data's examples have shape "
                        + Arrays.toString(Arrays.copyOfRange(shape, 1, shape.length)));
            }
            MultiLayerNetwork net;
            try {
                net = ReferenceCnn.build(c.seed(), new Adam(c.train().learningRate()), c.train().weightDecay(), (int) shape[1],
                        (int) shape[2], (int) shape[3], classes, m.referenceCnn().options());
            } catch (IllegalArgumentException e) {
                throw new BadInputException("model.referenceCnn: " + e.getMessage().replace("ReferenceCnn.", "referenceCnn."));
            }
            return new Network(net, ModelInput.of(net).withImageSize(shape[2], shape[3]), ("the reference CNN " + describe(m.referenceCnn())).strip());
        }
        int[] s;
        if (m.inputShape() != null) {
            s = m.inputShape().stream().mapToInt(Long::intValue).toArray();
        } else if (shape.length == 4) {
            s = new int[] {(int) shape[1], (int) shape[2], (int) shape[3]};
        } else {
            throw new BadInputException("model.architecture " + m.architecture() + " takes images; the data's examples have shape "
                    + Arrays.toString(Arrays.copyOfRange(shape, 1, shape.length)) + ": give model.inputShape [channels, height, width]");
        }
        Model net;
        try {
            net = m.zoo().build(s, classes, c.seed(), new Adam(c.train().learningRate()));
        } catch (RuntimeException e) {
            throw new BadInputException("model.architecture " + m.architecture() + " cannot be built for input " + Arrays.toString(s) + " and "
                    + classes + " classes: " + e.getMessage());
        }
        Trainer.setWeightDecay(net, c.train().weightDecay());
        return new Network(net, ModelInput.of(net).withImageSize(s[1], s[2]), "zoo " + m.architecture() + " " + Arrays.toString(s));
    }
}
