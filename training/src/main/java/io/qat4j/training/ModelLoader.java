package io.qat4j.training;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.modelimport.keras.Hdf5Archive;
import org.deeplearning4j.nn.modelimport.keras.KerasModelImport;
import org.deeplearning4j.nn.modelimport.keras.exceptions.InvalidKerasConfigurationException;
import org.deeplearning4j.nn.modelimport.keras.exceptions.UnsupportedKerasConfigurationException;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The one way qat4j reads a model file, for every command that takes one. What the file is comes
 * from its content, never from trying one reader after another:
 * <ul>
 *   <li>a zip (bytes {@code PK\3\4}): a DL4J model written by {@code ModelSerializer}; its
 *       {@code configuration.json} holds {@code "confs"} for a MultiLayerNetwork or {@code "vertices"}
 *       for a ComputationGraph;</li>
 *   <li>an HDF5 file (bytes {@code \x89HDF\r\n\x1a\n}): a Keras 2 model saved whole ({@code model.save("x.h5")});
 *       its {@code model_config} attribute's {@code class_name} is {@code Sequential} (imported as a
 *       MultiLayerNetwork) or {@code Model}/{@code Functional} (a ComputationGraph), through DL4J's
 *       {@link KerasModelImport} (with the file's training configuration when it has one, which gives
 *       the network its loss layer);</li>
 *   <li>a JSON object: a DL4J configuration as {@code MultiLayerConfiguration.toJson()} or
 *       {@code ComputationGraphConfiguration.toJson()} writes it, without parameters: only
 *       {@link #initialize} (what {@code qat4j train} starts from) takes it.</li>
 * </ul>
 * Every problem is a {@link ModelFileException} naming the file and what was found.
 */
public final class ModelLoader {

    /** What a model file is. */
    public enum Format {
        DL4J_MULTI_LAYER_ZIP("DL4J zip, MultiLayerNetwork"),
        DL4J_GRAPH_ZIP("DL4J zip, ComputationGraph"),
        KERAS_SEQUENTIAL("Keras HDF5, Sequential"),
        KERAS_FUNCTIONAL("Keras HDF5, functional Model"),
        MULTI_LAYER_CONFIGURATION("DL4J MultiLayerConfiguration JSON, no parameters"),
        GRAPH_CONFIGURATION("DL4J ComputationGraphConfiguration JSON, no parameters");

        private final String description;

        Format(String description) {
            this.description = description;
        }

        /** In words, e.g. "DL4J zip, ComputationGraph". */
        public String description() {
            return description;
        }

        /** The kind of network the file gives. */
        public Networks.Kind kind() {
            return switch (this) {
                case DL4J_MULTI_LAYER_ZIP, KERAS_SEQUENTIAL, MULTI_LAYER_CONFIGURATION -> Networks.Kind.MULTI_LAYER;
                case DL4J_GRAPH_ZIP, KERAS_FUNCTIONAL, GRAPH_CONFIGURATION -> Networks.Kind.GRAPH;
            };
        }

        /** Whether the file holds parameters (a trained or initialized network) rather than a configuration only. */
        public boolean hasParameters() {
            return switch (this) {
                case DL4J_MULTI_LAYER_ZIP, DL4J_GRAPH_ZIP, KERAS_SEQUENTIAL, KERAS_FUNCTIONAL -> true;
                case MULTI_LAYER_CONFIGURATION, GRAPH_CONFIGURATION -> false;
            };
        }
    }

    /** The entry of a DL4J model zip that holds the network's configuration. */
    static final String ZIP_CONFIGURATION = "configuration.json";
    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    private static final byte[] HDF5_MAGIC = {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelLoader() {
    }

    /**
     * What {@code file} is, from its content.
     *
     * @throws ModelFileException when it is missing or none of the {@link Format}s, naming what was found
     */
    public static Format detect(Path file) throws ModelFileException {
        byte[] head = head(file);
        if (startsWith(head, ZIP_MAGIC)) {
            return switch (configurationKind(file, zipConfiguration(file), "its " + ZIP_CONFIGURATION)) {
                case MULTI_LAYER -> Format.DL4J_MULTI_LAYER_ZIP;
                case GRAPH -> Format.DL4J_GRAPH_ZIP;
            };
        }
        if (startsWith(head, HDF5_MAGIC)) {
            return switch (kerasClass(file, kerasConfig(file))) {
                case MULTI_LAYER -> Format.KERAS_SEQUENTIAL;
                case GRAPH -> Format.KERAS_FUNCTIONAL;
            };
        }
        int first = 0;
        while (first < head.length && Character.isWhitespace(head[first])) {
            first++;
        }
        if (first < head.length && head[first] == '{') {
            return switch (configurationKind(file, readJson(file), "it")) {
                case MULTI_LAYER -> Format.MULTI_LAYER_CONFIGURATION;
                case GRAPH -> Format.GRAPH_CONFIGURATION;
            };
        }
        throw new ModelFileException(file + " is neither a DL4J model zip, a Keras HDF5 file (.h5) nor a DL4J configuration JSON: it starts "
                + "with " + shown(head) + "; give the best.zip of a qat4j run, a zip written by DL4J's ModelSerializer, or a Keras model "
                + "saved with model.save('model.h5')");
    }

    /** A trained (or at least initialized) network: {@link #load(Path, boolean)} without the updater state. */
    public static LoadedModel load(Path file) throws ModelFileException {
        return load(file, false);
    }

    /**
     * The model at {@code file} ({@link #load(Path)}) that the configuration key {@code key} names; a
     * file it cannot use is bad input, its message prefixed with the key.
     *
     * @throws BadInputException "key: " and what {@link ModelFileException} says
     */
    public static LoadedModel loadConfigured(Path file, String key) throws BadInputException {
        try {
            return load(file);
        } catch (ModelFileException e) {
            throw new BadInputException(key + ": " + e.getMessage());
        }
    }

    /**
     * An FP32 model to quantize must be a plain DL4J network: qat4j's quantized layers in it mean a QAT
     * model or the checkpoint of an FP32 run (which keeps the training form), which PTQ cannot take.
     *
     * @throws BadInputException naming the key and the file, and what to give instead
     */
    public static void checkPlainFp32(Path model, Model net, String key) throws BadInputException {
        if (!io.qat4j.layers.QuantizedModel.quantizedLayers(net).isEmpty()) {
            throw new BadInputException(key + " " + model + " holds qat4j's quantized training layers, not a plain FP32 DL4J network: it is "
                    + "a QAT model or the checkpoint.zip of a training run. Give the best.zip of a `qat4j train` run (one that an earlier "
                    + "qat4j killed or stopped mid-run holds this form too: finish it with `qat4j train CONFIG --out DIR --resume`)");
        }
    }

    /**
     * The network in {@code file}, a DL4J zip or a Keras file.
     *
     * @param loadUpdater restore the updater state of a DL4J zip too (to continue training it)
     * @throws ModelFileException when the file is not a model, is a configuration without parameters, or cannot be restored
     */
    public static LoadedModel load(Path file, boolean loadUpdater) throws ModelFileException {
        Format f = detect(file);
        if (!f.hasParameters()) {
            throw new ModelFileException(file + " is a " + f.description() + ": a network's configuration without its trained "
                    + "parameters; train it first (qat4j train with model.file: " + file + ") and give the best.zip of that run");
        }
        return read(file, f, loadUpdater, 0);
    }

    /**
     * The starting point of a training run: a configuration JSON as a new network with random
     * parameters (every layer's seed set to {@code seed}, so one seed gives one network), or the
     * network of a DL4J zip or Keras file with its updater state.
     */
    public static LoadedModel initialize(Path file, long seed) throws ModelFileException {
        return read(file, detect(file), true, seed);
    }

    private static LoadedModel read(Path file, Format f, boolean loadUpdater, long seed) throws ModelFileException {
        Model net;
        try {
            net = switch (f) {
                case DL4J_MULTI_LAYER_ZIP -> ModelSerializer.restoreMultiLayerNetwork(file.toFile(), loadUpdater);
                case DL4J_GRAPH_ZIP -> ModelSerializer.restoreComputationGraph(file.toFile(), loadUpdater);
                case KERAS_SEQUENTIAL -> KerasModelImport.importKerasSequentialModelAndWeights(file.toString(),
                        hasTrainingConfig(file));
                case KERAS_FUNCTIONAL -> KerasModelImport.importKerasModelAndWeights(file.toString(), hasTrainingConfig(file));
                case MULTI_LAYER_CONFIGURATION -> initialized(MultiLayerConfiguration.fromJson(Files.readString(file)), seed);
                case GRAPH_CONFIGURATION -> initialized(ComputationGraphConfiguration.fromJson(Files.readString(file)), seed);
            };
        } catch (InvalidKerasConfigurationException | UnsupportedKerasConfigurationException e) {
            throw new ModelFileException(file + " (" + f.description() + "): DL4J's Keras import cannot read it: " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            throw new ModelFileException(file + " (" + f.description() + "): DL4J cannot restore it: " + e, e);
        }
        ModelInput input = ModelInput.of(net);
        if (f == Format.KERAS_SEQUENTIAL || f == Format.KERAS_FUNCTIONAL) {
            input = withKerasImageSize(file, input, kerasConfig(file));
        }
        return new LoadedModel(file, f, net, input);
    }

    private static MultiLayerNetwork initialized(MultiLayerConfiguration conf, long seed) {
        for (NeuralNetConfiguration c : conf.getConfs()) {
            c.setSeed(seed);
        }
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static ComputationGraph initialized(ComputationGraphConfiguration conf, long seed) {
        conf.getDefaultConfiguration().setSeed(seed);
        conf.getVertices().values().forEach(v -> {
            if (v instanceof LayerVertex lv) {
                lv.getLayerConf().setSeed(seed);
            }
        });
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /** The kind a DL4J configuration JSON describes: "confs" (MultiLayerConfiguration) or "vertices" (ComputationGraphConfiguration). */
    private static Networks.Kind configurationKind(Path file, JsonNode json, String where) throws ModelFileException {
        boolean confs = json.has("confs");
        boolean vertices = json.has("vertices");
        if (confs == vertices) {
            List<String> keys = new ArrayList<>();
            json.fieldNames().forEachRemaining(keys::add);
            throw new ModelFileException(file + ": " + where + " is " + (json.isObject() ? "a JSON object with top-level keys " + keys
                    : "JSON " + json.getNodeType()) + ", not a DL4J network configuration: a MultiLayerConfiguration has 'confs', a "
                    + "ComputationGraphConfiguration 'vertices'");
        }
        return confs ? Networks.Kind.MULTI_LAYER : Networks.Kind.GRAPH;
    }

    private static JsonNode zipConfiguration(Path file) throws ModelFileException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry e = zip.getEntry(ZIP_CONFIGURATION);
            if (e == null) {
                List<String> names = zip.stream().map(ZipEntry::getName).limit(8).toList();
                throw new ModelFileException(file + " is a zip file but not a DL4J model: it has no " + ZIP_CONFIGURATION + " (entries: "
                        + (names.isEmpty() ? "none" : String.join(", ", names) + (zip.size() > 8 ? ", ..." : "")) + ")");
            }
            try (InputStream in = zip.getInputStream(e)) {
                return JSON.readTree(in);
            }
        } catch (JacksonException e) {
            throw new ModelFileException(file + ": its " + ZIP_CONFIGURATION + " is not JSON (" + e.getOriginalMessage() + "); the zip is "
                    + "damaged or was not written by DL4J", e);
        } catch (ModelFileException e) {
            throw e;
        } catch (IOException e) {
            throw new ModelFileException(file + " starts like a zip file but cannot be read as one (" + e.getMessage() + "); it is "
                    + "truncated or damaged", e);
        }
    }

    private static JsonNode readJson(Path file) throws ModelFileException {
        try {
            return JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (JacksonException e) {
            throw new ModelFileException(file + " starts like JSON but is not valid JSON (" + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new ModelFileException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /** The Keras {@code model_config} attribute of an HDF5 file, parsed. */
    private static JsonNode kerasConfig(Path file) throws ModelFileException {
        String json;
        synchronized (Hdf5Archive.LOCK_OBJECT) {
            try (Hdf5Archive archive = new Hdf5Archive(file.toString())) {
                if (!archive.hasAttribute("model_config")) {
                    throw new ModelFileException(file + " is an HDF5 file without a 'model_config' attribute: weights only (Keras "
                            + "model.save_weights) or not a Keras model; save the whole model with model.save('model.h5')");
                }
                json = archive.readAttributeAsJson("model_config");
            } catch (UnsupportedKerasConfigurationException | RuntimeException e) {
                throw new ModelFileException(file + ": cannot read its HDF5 attribute 'model_config' (" + e.getMessage() + ")", e);
            }
        }
        try {
            return JSON.readTree(json);
        } catch (JacksonException e) {
            throw new ModelFileException(file + ": its Keras model_config is not JSON (" + e.getOriginalMessage() + ")", e);
        }
    }

    private static boolean hasTrainingConfig(Path file) {
        synchronized (Hdf5Archive.LOCK_OBJECT) {
            try (Hdf5Archive archive = new Hdf5Archive(file.toString())) {
                return archive.hasAttribute("training_config");
            }
        }
    }

    /** Sequential -> MULTI_LAYER, Model/Functional -> GRAPH. */
    private static Networks.Kind kerasClass(Path file, JsonNode config) throws ModelFileException {
        String cls = config.path("class_name").asText("");
        return switch (cls) {
            case "Sequential" -> Networks.Kind.MULTI_LAYER;
            case "Model", "Functional" -> Networks.Kind.GRAPH;
            default -> throw new ModelFileException(file + ": its Keras model_config has class_name '" + cls + "'; qat4j imports "
                    + "'Sequential' and functional models ('Model', 'Functional')");
        };
    }

    /** {@code input} with the image height and width of the Keras input layer's {@code batch_input_shape}, checked against its channels. */
    private static ModelInput withKerasImageSize(Path file, ModelInput input, JsonNode config) throws ModelFileException {
        JsonNode c = config.path("config");
        JsonNode layers = c.isArray() ? c : c.path("layers");
        String inputName = c.path("input_layers").path(0).path(0).asText(null);
        JsonNode shape = null;
        for (JsonNode l : layers) {
            JsonNode s = l.path("config").path("batch_input_shape");
            String name = l.path("name").asText(l.path("config").path("name").asText(""));
            if (s.isArray() && (inputName == null || inputName.equals(name))) {
                shape = s;
                break;
            }
        }
        if (shape == null || shape.size() != 4 || (input.kind() != ModelInput.Kind.IMAGE && input.kind() != ModelInput.Kind.FLAT_IMAGE)) {
            return input;
        }
        long[] d = {shape.path(1).asLong(ModelInput.UNKNOWN), shape.path(2).asLong(ModelInput.UNKNOWN), shape.path(3).asLong(ModelInput.UNKNOWN)};
        long[] chw = switch (input.format()) {
            case NHWC -> new long[] {d[2], d[0], d[1]};
            case NCHW -> d;
        };
        if (chw[0] != input.shape()[0]) {
            throw new ModelFileException(file + ": its Keras input shape " + shape + " has " + chw[0] + " channels but DL4J imported a "
                    + "network whose " + input.from() + " takes " + input.shape()[0]);
        }
        return input.withImageSize(chw[1], chw[2]);
    }

    private static byte[] head(Path file) throws ModelFileException {
        if (!Files.isRegularFile(file)) {
            throw new ModelFileException("model " + file + (Files.isDirectory(file) ? " is a directory, not a model file" : " does not exist"));
        }
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(64);
        } catch (IOException e) {
            throw new ModelFileException("model " + file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    private static boolean startsWith(byte[] head, byte[] magic) {
        return head.length >= magic.length && Arrays.equals(head, 0, magic.length, magic, 0, magic.length);
    }

    /** The first bytes of a file, as text when printable, else in hex. */
    private static String shown(byte[] head) {
        if (head.length == 0) {
            return "nothing (the file is empty)";
        }
        byte[] first = Arrays.copyOf(head, Math.min(head.length, 16));
        boolean printable = true;
        for (byte b : first) {
            printable &= b >= 0x20 && b < 0x7f || b == '\n' || b == '\r' || b == '\t';
        }
        if (printable) {
            return "'" + new String(first, StandardCharsets.US_ASCII).replace("\n", "\\n").replace("\r", "\\r") + "'";
        }
        StringBuilder sb = new StringBuilder("bytes");
        for (byte b : first) {
            sb.append(String.format(" %02x", b));
        }
        return sb.toString();
    }
}
