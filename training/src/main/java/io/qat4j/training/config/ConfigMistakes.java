package io.qat4j.training.config;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

/**
 * The configuration mistakes a new user makes first, recognized in the YAML tree and explained in
 * qat4j's words instead of Jackson's: an experiment configuration given where a run configuration
 * is expected (and the reverse), a misspelled key (a required key missing next to a near miss of its
 * name, or an unknown key close to a known one: "did you mean"), and a value of the wrong kind
 * ("must be a whole number, got the text 'two'"), and a second YAML document after the configuration.
 * Every message starts with {@code file:line: }
 * where the line is known. Nothing here throws: a tree it cannot read leaves Jackson's message.
 */
final class ConfigMistakes {

    /** Lenient (duplicates are the strict mapper's to report): only the tree's shape matters here. */
    private static final ObjectMapper TREE = new ObjectMapper(new YAMLFactory());

    private static final Pattern MISSING = Pattern.compile("^Missing required creator property '([^']+)'.*", Pattern.DOTALL);

    /** The top-level keys only a run configuration has. */
    private static final List<String> RUN_ONLY = List.of("train", "ptq", "quantization", "distillation", "model", "spark");

    private ConfigMistakes() {
    }

    /** The document as a tree, or null when it is not a YAML mapping. */
    static JsonNode tree(String text) {
        try {
            JsonNode root = TREE.readTree(text);
            return root != null && root.isObject() ? root : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Why {@code root} is the other kind of configuration than {@code type} asks for, or null: an
     * experiment ({@code variants}) read as a run configuration, or a run configuration (no
     * {@code variants}; {@code train}, {@code ptq}, {@code quantization}, {@code model} or a model
     * file as {@code fp32}) read as an experiment.
     */
    static String wrongKind(Path file, String text, JsonNode root, Class<?> type) {
        if (root == null) {
            return null;
        }
        if (type == RunConfig.class && root.has("variants")) {
            return at(file, text, "variants") + "this is an experiment configuration (it lists 'variants' of an 'fp32' model), not a "
                    + "run configuration: an experiment is run by `qat4j experiment " + file + "`. The other commands (train, ptq, "
                    + "sensitivity, qat, eval, export, run) take a run configuration: one run's 'data' with 'train', 'ptq' or "
                    + "'quantization' at the top (e.g. configs/fp32-bundled.yaml, configs/qat-w4a4-lsq.yaml)";
        }
        if (type == ExperimentConfig.class && !root.has("variants")) {
            String telltale = RUN_ONLY.stream().filter(root::has).findFirst()
                    .orElse(root.path("fp32").isTextual() ? "fp32" : null);
            if (telltale == null) {
                return null;
            }
            String command = root.has("quantization") ? "qat" : root.has("ptq") ? "ptq" : "train";
            return at(file, text, telltale) + "this is a run configuration (it has '" + telltale + "' and no 'variants'), not an "
                    + "experiment configuration: run it with `qat4j " + command + " " + file + "`. An experiment has an 'fp32' stage "
                    + "(fp32: {train: {...}} or fp32: {model: FILE}) and a list of 'variants' (configs/quickstart.yaml is one)";
        }
        return null;
    }

    /**
     * A Jackson mismatch in qat4j's words, or null to keep Jackson's: a required key that is missing
     * (with the near miss of its name that is there instead, if any), or a value of the wrong kind.
     */
    static String mismatch(Path file, String text, JsonNode root, MismatchedInputException e) {
        List<JsonMappingException.Reference> path = e.getPath();
        if (e.getTargetType() != null && e.getTargetType().isEnum()) {
            return null;   // a configuration choice: its own deserializer (ConfigChoices) names the value and lists the spellings
        }
        if (String.valueOf(e.getOriginalMessage()).startsWith("Trailing token")) {
            return file + (e.getLocation() == null ? "" : ":" + e.getLocation().getLineNr()) + ": more YAML after the configuration "
                    + "(a second document after '---'?); a configuration file holds one mapping: delete the rest or move it to its own file";
        }
        Matcher missing = MISSING.matcher(String.valueOf(e.getOriginalMessage()));
        if (missing.matches()) {
            String key = missing.group(1);
            List<JsonMappingException.Reference> parentPath = path.isEmpty() || !key.equals(path.get(path.size() - 1).getFieldName())
                    ? path : path.subList(0, path.size() - 1);
            String parent = dotted(parentPath);
            JsonNode section = root == null ? null : at(root, parentPath);
            List<String> present = new ArrayList<>();
            if (section != null && section.isObject()) {
                section.fieldNames().forEachRemaining(present::add);
            }
            String near = nearest(key, present);
            String full = parent.isEmpty() ? key : parent + "." + key;
            if (near != null) {
                String given = parent.isEmpty() ? near : parent + "." + near;
                return at(file, text, given) + "'" + given + "' is not a key qat4j knows; did you mean '" + key + "'? ('" + full
                        + "' is required" + (parent.isEmpty() ? "" : " in '" + parent + "'") + ")";
            }
            return (parent.isEmpty() ? file + ": the required key '" + key + "' is missing; add it at the top of the file"
                    : at(file, text, parent) + "'" + parent + "' is missing its required key '" + key + "'; add it under '" + parent + "'");
        }
        if (e.getTargetType() == null || root == null || path.isEmpty()) {
            return null;
        }
        JsonNode value = at(root, path);
        if (value == null || isKind(e.getTargetType(), value)) {
            return null;   // the kind is right and something else is wrong (a number out of range): Jackson says what
        }
        String key = dotted(path);
        return at(file, text, key) + "key '" + key + "' must be " + expected(e.getTargetType()) + ", got " + found(value);
    }

    /** " did you mean 'x'?" for an unknown key close to a known one, else "". */
    static String didYouMean(String unknown, Collection<?> known) {
        List<String> names = new ArrayList<>();
        if (known != null) {
            known.forEach(k -> names.add(String.valueOf(k)));
        }
        String near = nearest(unknown, names);
        return near == null ? "" : "; did you mean '" + near + "'?";
    }

    /**
     * The name in {@code candidates} that {@code name} most likely misspells, or null: the same
     * ignoring case, or within 2 edits (1 for names of up to 4 letters), nearest first.
     */
    static String nearest(String name, Collection<String> candidates) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String c : candidates) {
            if (c.equals(name)) {
                continue;
            }
            int d = c.equalsIgnoreCase(name) ? 0 : editDistance(c.toLowerCase(Locale.ROOT), name.toLowerCase(Locale.ROOT));
            int allowed = Math.min(c.length(), name.length()) <= 4 ? 1 : 2;
            if (d <= allowed && d < bestDistance) {
                best = c;
                bestDistance = d;
            }
        }
        return best;
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours, 1 each. */
    static int editDistance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    /** What a value of {@code type} is, in a configuration writer's words. */
    static String expected(Class<?> type) {
        if (type == String.class) {
            return "text";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class || type == Short.class) {
            return "a whole number";
        }
        if (type == Double.class || type == double.class || type == Float.class || type == float.class) {
            return "a number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type.isEnum()) {
            List<String> names = new ArrayList<>();
            for (Object c : type.getEnumConstants()) {
                names.add(((Enum<?>) c).name());
            }
            return "one of " + String.join(", ", names);
        }
        if (Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "a list ([a, b] or one '- item' per line)";
        }
        return "a mapping (a section of keys, {key: value} or one 'key: value' per indented line)";
    }

    /** Whether {@code v} is of the kind {@code type} takes (an enum constant's name is checked by Jackson, so text is never). */
    static boolean isKind(Class<?> type, JsonNode v) {
        if (type == String.class) {
            return v.isTextual();
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class || type == Short.class) {
            return v.isIntegralNumber();
        }
        if (type == Double.class || type == double.class || type == Float.class || type == float.class) {
            return v.isNumber();
        }
        if (type == Boolean.class || type == boolean.class) {
            return v.isBoolean();
        }
        if (type.isEnum()) {
            return false;
        }
        if (Collection.class.isAssignableFrom(type) || type.isArray()) {
            return v.isArray();
        }
        return v.isObject();
    }

    /** What the file holds at a key, in the same words. */
    static String found(JsonNode v) {
        if (v.isObject()) {
            List<String> keys = new ArrayList<>();
            v.fieldNames().forEachRemaining(keys::add);
            return "a mapping" + (keys.isEmpty() ? "" : " (with " + String.join(", ", keys.subList(0, Math.min(4, keys.size())))
                    + (keys.size() > 4 ? ", ..." : "") + ")");
        }
        if (v.isArray()) {
            return "a list of " + v.size();
        }
        if (v.isTextual()) {
            return "the text '" + v.asText() + "'";
        }
        if (v.isNumber()) {
            return "the number " + v.asText();
        }
        if (v.isBoolean()) {
            return v.asText();
        }
        return v.isNull() ? "no value" : v.toString();
    }

    /** The node at a Jackson reference path, or null when the tree does not have it. */
    private static JsonNode at(JsonNode root, List<JsonMappingException.Reference> path) {
        JsonNode n = root;
        for (JsonMappingException.Reference r : path) {
            if (n == null) {
                return null;
            }
            n = r.getFieldName() != null ? n.get(r.getFieldName()) : r.getIndex() >= 0 ? n.get(r.getIndex()) : null;
        }
        return n;
    }

    /** The dotted key path of a Jackson reference path ({@code variants.[0].ptq}, as the loader's other messages write it). */
    static String dotted(List<JsonMappingException.Reference> path) {
        List<String> parts = new ArrayList<>();
        for (JsonMappingException.Reference r : path) {
            parts.add(r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]");
        }
        return String.join(".", parts);
    }

    /** {@code "file:line: "} for the key at a dotted path ({@code variants.[2].ptq.bits}), or {@code "file: "}. */
    static String at(Path file, String text, String dottedKey) {
        Integer line = lineOf(text, dottedKey);
        return file + (line == null ? "" : ":" + line) + ": ";
    }

    /** The line of the key at a dotted path, list elements by index, from the YAML token stream; null when absent. */
    static Integer lineOf(String text, String dottedKey) {
        try (JsonParser p = TREE.getFactory().createParser(text)) {
            for (JsonToken t; (t = p.nextToken()) != null; ) {
                if (t == JsonToken.FIELD_NAME && dottedKey.equals(pathOf(p))) {
                    return p.currentTokenLocation().getLineNr();
                }
            }
        } catch (IOException | RuntimeException e) {
            // a syntax error is reported by the mapper with its own location
        }
        return null;
    }

    private static String pathOf(JsonParser p) {
        List<String> names = new ArrayList<>();
        for (JsonStreamContext c = p.getParsingContext(); c != null && !c.inRoot(); c = c.getParent()) {
            if (c.inObject()) {
                names.add(String.valueOf(c.getCurrentName()));
            } else if (c.inArray()) {
                names.add("[" + c.getCurrentIndex() + "]");
            }
        }
        Collections.reverse(names);
        return String.join(".", names);
    }
}
