package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;


import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.ModelFormatException;
import io.qat4j.runtime.ModelInputException;
import io.qat4j.training.ModelInput;
import io.qat4j.training.ModelLoader;
import io.qat4j.training.RunData;
import io.qat4j.training.config.ConfigException;
import io.qat4j.training.config.ConfigLoader;
import io.qat4j.training.config.RunConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code qat4j run MODEL.q4j}: integer inference on a test set, accuracy and predictions as JSON. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Run an integer model file on a configuration's test set.",
        footer = {"",
            "Example:  qat4j run runs/qat-w4a4-lsq/model.q4j \\",
            "            --config configs/qat-w4a4-lsq.yaml --json run.json",
            "With --check-reference the exit code is 1 if any image's output bytes differ",
            "between the kernels.",
            "Exit codes: 0 done, 1 failure, 2 bad usage, configuration, model file, or data",
            "that does not fit the model (input shape, number of classes, NaN/Inf values)."})
public final class RunCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "qat4j integer model file (.q4j).")
    Path model;

    @Option(names = "--config", required = true, description = "Run configuration whose test data to use.")
    Path config;

    @Option(names = "--json", description = "Write accuracy, per-class counts and predictions to this JSON file.")
    Path json;

    @Option(names = "--check-reference", description = "Also run the reference kernels (the integer simulation: one plain loop per kernel) "
            + "on the same quantized inputs and compare the output bytes of every test image with the optimized kernels'.")
    boolean checkReference;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        RunConfig c;
        Int8Model m;
        try {
            c = ConfigLoader.load(config);
            m = Int8Model.load(model);
        } catch (ConfigException e) {
            err.println("qat4j run: " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (ModelFormatException e) {
            err.println("qat4j run: " + e.getMessage() + notIntegerModel(model));
            return Qat4jCommand.EXIT_USAGE;
        } catch (java.io.IOException e) {
            err.println("qat4j run: cannot read " + model + ": " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (IllegalArgumentException e) {
            err.println("qat4j run: " + e.getMessage());   // e.g. a malformed -Dqat4j.runtime.max* limit
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            int[] in = m.inputShape();
            ModelInput input = in.length == 3 ? new ModelInput(ModelInput.Kind.IMAGE, new long[] {in[0], in[1], in[2]},
                    org.deeplearning4j.nn.conf.CNN2DFormat.NCHW, "the input of " + model) : null;
            RunData data = RunData.load(c.data(), c.seed(), input);
            int n = io.qat4j.training.Int8Evaluation.checkFits(m, data.test());
            float[] features = data.test().getFeatures().dup('c').data().asFloat();
            long start = System.nanoTime();
            byte[] q = m.quantizeInput(features, n);
            byte[] fast = m.runQuantized(q, n);
            int[] predicted = m.predictions(fast, n);
            double seconds = (System.nanoTime() - start) / 1e9;
            double accuracy = io.qat4j.training.Int8Evaluation.agreement(predicted, data.test().getLabels());
            PrintWriter out = spec.commandLine().getOut();
            String kernels = io.qat4j.runtime.optimized.OptimizedKernels.vectorized() ? "optimized kernels, Vector API"
                    : "optimized kernels, scalar";
            out.printf("%s on %d test images (%s): accuracy %.4f, %.1f images/s (%s)%n", model, n, data.source(), accuracy, n / seconds,
                    kernels);
            Map<String, Object> check = null;
            if (checkReference) {
                byte[] reference = new Int8Model(m.graph(), Int8Model.Kernels.REFERENCE, Runtime.getRuntime().availableProcessors())
                        .runQuantized(q, n);
                int bytes = m.outputBytes();   // int8 codes, or 4 bytes per int32 logit accumulator
                int differing = 0;
                for (int i = 0; i < n; i++) {
                    if (!java.util.Arrays.equals(fast, i * bytes, (i + 1) * bytes, reference, i * bytes, (i + 1) * bytes)) {
                        differing++;
                    }
                }
                int[] referencePredicted = m.predictions(reference, n);
                double referenceAccuracy = io.qat4j.training.Int8Evaluation.agreement(referencePredicted, data.test().getLabels());
                out.printf("reference kernels (integer simulation): accuracy %.4f; output bytes identical on %d of %d images%s%n",
                        referenceAccuracy, n - differing, n, differing == 0 ? "" : " (MISMATCH)");
                check = new LinkedHashMap<>();
                check.put("accuracy", referenceAccuracy);
                check.put("identicalImages", n - differing);
                check.put("differingImages", differing);
                if (differing != 0) {
                    if (json != null) {
                        write(data, n, accuracy, predicted, check);
                    }
                    out.flush();
                    return Qat4jCommand.EXIT_FAILED;
                }
            }
            if (json != null) {
                write(data, n, accuracy, predicted, check);
            }
            out.flush();
            return 0;
        } catch (ModelInputException e) {
            // the data does not fit the model (shape, classes, a NaN): bad input, not a failure of the run
            err.println("qat4j run: " + model + " on " + config + ": " + e.getMessage());
            return Qat4jCommand.EXIT_USAGE;
        } catch (Exception e) {
            err.println("qat4j run: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }

    /** A hint when {@code file} is a DL4J or Keras model rather than a qat4j integer model, else "". */
    private static String notIntegerModel(Path file) {
        try {
            ModelLoader.Format f = ModelLoader.detect(file);
            return "; " + file + " is a " + f.description() + ", not a qat4j integer model: export it first (qat4j export " + file
                    + " --config CONFIG --out model.q4j), or evaluate it as it is with qat4j eval";
        } catch (io.qat4j.training.ModelFileException e) {
            return "";
        }
    }

    private void write(RunData data, int n, double accuracy, int[] predicted, Map<String, Object> check)
            throws java.io.IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", model.toString());
        r.put("data", data.location());
        r.put("examples", n);
        r.put("accuracy", accuracy);
        if (check != null) {
            r.put("referenceCheck", check);
        }
        r.put("predictions", predicted);
        JsonFiles.write(json, r);
    }
}
