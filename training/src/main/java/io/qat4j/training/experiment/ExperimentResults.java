package io.qat4j.training.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import io.qat4j.ptq.QuantPlan;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.config.ExperimentConfig;

/**
 * Everything an experiment produced, as {@code results.json} holds it: the FP32 stage and every
 * variant in configuration order, each with its own provenance; paths relative to the output
 * directory. {@link #read} also reads the flat {@code results.json} and {@code result.json} files
 * of qat4j before typed results (status "ok"/"failed", absolute paths, no per-stage provenance).
 *
 * @param experiment the experiment's name
 * @param provenance the invocation that wrote this file: versions, machine, git revision, configuration file, seed, data
 *                   ({@link io.qat4j.training.Provenance#writeRunFiles}); each stage's own is in its result
 * @param fp32       the FP32 stage
 * @param variants   the variants, in configuration order
 * @param seconds           wall-clock seconds of the whole experiment: the sum of {@code invocationSeconds}
 * @param invocationSeconds wall-clock seconds of each invocation that produced these results, in order: the first run, then
 *                          each {@code --resume} ({@link Experiment#resume}); a file without it (qat4j before it was recorded)
 *                          reads as one invocation of {@code seconds}
 */
@JsonPropertyOrder({"experiment", "provenance", "fp32", "variants", "seconds", "invocationSeconds"})
public record ExperimentResults(String experiment, Map<String, Object> provenance, Fp32Result fp32, List<VariantResult> variants,
                                double seconds, List<Double> invocationSeconds) {

    /** The file name in the output directory. */
    public static final String FILE = "results.json";

    static final ObjectMapper JSON = new ObjectMapper();

    public ExperimentResults {
        Objects.requireNonNull(experiment, "experiment");
        provenance = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(provenance, "provenance")));
        Objects.requireNonNull(fp32, "fp32");
        variants = List.copyOf(variants);
        invocationSeconds = invocationSeconds == null ? List.of(seconds) : List.copyOf(invocationSeconds);
        if (invocationSeconds.isEmpty()) {
            throw new IllegalArgumentException("invocationSeconds: at least the invocation that wrote the results");
        }
    }

    /**
     * Results of an experiment whose earlier invocations took {@code earlier} seconds each (empty for the
     * first run) and this one {@code thisInvocation} seconds so far.
     */
    static ExperimentResults of(String experiment, Map<String, Object> provenance, Fp32Result fp32, List<VariantResult> variants,
                                List<Double> earlier, double thisInvocation) {
        List<Double> all = new ArrayList<>(earlier);
        all.add(thisInvocation);
        return new ExperimentResults(experiment, provenance, fp32, variants, all.stream().mapToDouble(Double::doubleValue).sum(), all);
    }

    /** Writes {@code dir/results.json}, atomically. */
    public void write(Path dir) throws IOException {
        AtomicFiles.write(dir.resolve(FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(this));
    }

    /**
     * Reads a {@code results.json}. A file of qat4j before typed results is converted: its statuses
     * become {@link VariantResult.Status}, its paths relative ones, and its stages get
     * {@link StageProvenance#legacy} provenance with the configuration and seed of the
     * {@code resolved-config.yaml} beside it (which that qat4j always wrote).
     *
     * @throws IOException naming the file when it is neither format, or a legacy file lacks its configuration
     */
    public static ExperimentResults read(Path file) throws IOException {
        JsonNode root = tree(file);
        if (!isLegacy(root.path("variants"))) {
            try {
                return JSON.treeToValue(root, ExperimentResults.class);
            } catch (JacksonException e) {
                throw new IOException(file + " is not a qat4j results file: " + e.getOriginalMessage(), e);
            }
        }
        Path configFile = file.resolveSibling("resolved-config.yaml");
        if (!Files.isRegularFile(configFile)) {
            throw new IOException(file + " was written by a qat4j without typed results; reading it needs the resolved-config.yaml "
                    + "written beside it, which is missing");
        }
        ExperimentConfig config;
        try {
            ObjectMapper yaml = new ObjectMapper(new YAMLFactory()).disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
            JsonNode tree = yaml.readTree(configFile.toFile());
            // before signedness from the data, a resolved configuration recorded an absent firstLayerSigned as false, which
            // today's validation refuses next to a ptq section (the resume check skips it alike); derived entries (qat) are ignored
            for (JsonNode v : tree.path("variants")) {
                JsonNode q = v.path("quantization");
                if (q.isObject() && !q.path("firstLayerSigned").asBoolean(false)) {
                    ((ObjectNode) q).remove("firstLayerSigned");
                }
            }
            config = yaml.treeToValue(tree, ExperimentConfig.class);
        } catch (JacksonException e) {
            throw new IOException(configFile + " is unreadable: " + e.getOriginalMessage(), e);
        }
        Map<String, ExperimentConfig.Variant> byName = new LinkedHashMap<>();
        config.variants().forEach(v -> byName.put(v.name(), v));
        List<VariantResult> variants = new ArrayList<>();
        for (JsonNode v : root.path("variants")) {
            ExperimentConfig.Variant vc = byName.get(v.path("name").asText());
            if (vc == null) {
                throw new IOException(file + " lists variant '" + v.path("name").asText() + "', which " + configFile + " does not have");
            }
            variants.add(legacyVariant(v, config.seed(), vc));
        }
        Map<String, Object> provenance = JSON.convertValue(root.path("provenance"), new TypeReference<Map<String, Object>>() { });
        return new ExperimentResults(root.path("experiment").asText(), provenance,
                legacyFp32(root.path("fp32"), null, config.seed(), config.fp32()), variants, root.path("seconds").asDouble(), null);
    }

    /** Writes a stage's {@code result.json} (an {@link Fp32Result} or {@link VariantResult}), atomically. */
    static void writeStage(Path file, Object result) throws IOException {
        AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(result));
    }

    /**
     * Reads a variant's {@code result.json}; one written before typed results gets the seed and
     * configuration it is resumed with (a resume checks both equal to the ones it ran with).
     */
    static VariantResult readVariant(Path file, long seed, ExperimentConfig.Variant config) throws IOException {
        JsonNode node = tree(file);
        try {
            return isLegacyVariant(node) ? legacyVariant(node, seed, config) : JSON.treeToValue(node, VariantResult.class);
        } catch (JacksonException | IllegalArgumentException e) {
            throw new IOException(file + " is not a variant result: " + e.getMessage(), e);
        }
    }

    /** Reads the FP32 stage's {@code result.json} in {@code out}/fp32; one written before typed results is converted. */
    static Fp32Result readFp32(Path file, Path out, long seed, ExperimentConfig.Fp32 config) throws IOException {
        JsonNode node = tree(file);
        try {
            return node.has("provenance") ? JSON.treeToValue(node, Fp32Result.class) : legacyFp32(node, out, seed, config);
        } catch (JacksonException | IllegalArgumentException e) {
            throw new IOException(file + " is not an FP32 result: " + e.getMessage(), e);
        }
    }

    private static JsonNode tree(Path file) throws IOException {
        try {
            return JSON.readTree(file.toFile());
        } catch (JacksonException e) {
            throw new IOException(file + " is not JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static boolean isLegacy(JsonNode variants) {
        for (JsonNode v : variants) {
            if (isLegacyVariant(v)) {
                return true;
            }
        }
        return false;
    }

    /** Before typed results a variant's status was "ok" or "failed"; now it is a {@link VariantResult.Status} name. */
    private static boolean isLegacyVariant(JsonNode v) {
        String status = v.path("status").asText();
        return status.equals("ok") || status.equals("failed");
    }

    /** "PTQ percentile, 1 most sensitive in float (not exportable: [conv1] in float)": how that qat4j marked such variants. */
    private static final Pattern NOT_EXPORTABLE = Pattern.compile(" \\(not exportable: \\[(.*)\\] in float\\)$");

    private static VariantResult legacyVariant(JsonNode v, long seed, ExperimentConfig.Variant config) {
        String name = v.path("name").asText();
        StageProvenance<ExperimentConfig.Variant> provenance = StageProvenance.legacy(seed, config);
        Double calibration = number(v, "calibrationSeconds");
        Double train = number(v, "trainSeconds");
        double total = v.path("totalSeconds").asDouble();
        String method = v.path("method").asText();
        if (v.path("status").asText().equals("failed")) {
            return VariantResult.failed(name, method, v.path("error").asText(), total, provenance);
        }
        Map<String, String> keptInFloat = new LinkedHashMap<>();
        Matcher m = NOT_EXPORTABLE.matcher(method);
        if (m.find()) {
            for (String layer : m.group(1).split(", ")) {
                keptInFloat.put(layer, "kept in float (the reason was not recorded)");
            }
            method = method.substring(0, m.start());
        }
        Map<String, Integer> layerBits = JSON.convertValue(v.path("layerBits"), new TypeReference<LinkedHashMap<String, Integer>>() { });
        Map<String, QuantPlan.Sensitivity> sensitivity = v.has("sensitivity")
                ? JSON.convertValue(v.path("sensitivity"), new TypeReference<LinkedHashMap<String, QuantPlan.Sensitivity>>() { }) : null;
        List<String> passes = JSON.convertValue(v.path("passes"), new TypeReference<List<String>>() { });
        VariantResult.Quantization q = new VariantResult.Quantization(v.path("weights").asText(), v.path("inputs").asText(), layerBits,
                sensitivity, passes == null ? List.of() : passes, keptInFloat, "variants/" + name + "/plan.json");
        Double int8Accuracy = number(v, "int8Accuracy");
        VariantResult.Int8 int8 = int8Accuracy == null ? null : new VariantResult.Int8(int8Accuracy, v.path("agreement").asDouble(),
                v.path("modelBytes").asLong(), v.path("sizeRatio").asDouble(), "variants/" + name + "/model.q4j");
        VariantResult.TargetCheck target = v.hasNonNull("target")
                ? new VariantResult.TargetCheck(v.path("target").asText(), v.path("targetMet").asBoolean()) : null;
        return new VariantResult(name, method, int8 != null ? VariantResult.Status.EXPORTED : VariantResult.Status.NOT_EXPORTABLE, null, q,
                v.path("simulatedAccuracy").asDouble(), int8, new VariantResult.Timing(calibration, train, total), target, provenance);
    }

    /**
     * That qat4j wrote trainSeconds 0 for a loaded model and the absolute path of fp32/best.zip for a
     * trained one (the output directory may since have moved, or come from another machine).
     */
    private static Fp32Result legacyFp32(JsonNode f, Path out, long seed, ExperimentConfig.Fp32 config) {
        double trainSeconds = f.path("trainSeconds").asDouble();
        boolean trained = config.model() == null;
        String model = trained ? "fp32/best.zip" : relative(out, Path.of(f.path("model").asText()));
        return new Fp32Result(f.path("accuracy").asDouble(), f.path("parameterBytes").asLong(), trained ? trainSeconds : null, model,
                StageProvenance.legacy(seed, config));
    }

    private static Double number(JsonNode n, String field) {
        return n.hasNonNull(field) ? n.get(field).asDouble() : null;
    }

    /**
     * {@code file} relative to {@code out} when it lies inside it (with '/' separators, as results files
     * are read on any system), else as given.
     */
    static String relative(Path out, Path file) {
        if (out != null) {
            Path base = out.toAbsolutePath().normalize();
            Path f = file.toAbsolutePath().normalize();
            if (f.startsWith(base)) {
                return base.relativize(f).toString().replace(java.io.File.separatorChar, '/');
            }
        }
        return file.toString();
    }
}
