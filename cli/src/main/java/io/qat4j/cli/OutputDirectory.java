package io.qat4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;


/**
 * The checks of a command's output directory before any work ({@code --out}, {@code --resume},
 * {@code --force}): whether it may take the command's outputs, and whether a resumed run has the
 * configuration its files come from.
 */
final class OutputDirectory {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private OutputDirectory() {
    }

    /**
     * Why {@code dir} cannot take the outputs of {@code command}, or null; checked before any work.
     * A new or empty directory is fine. {@code resume} ({@code resumable} commands: train, qat,
     * experiment) needs the run there to have the same resolved configuration and, for a training run
     * of {@code epochs} epochs (non-null), a checkpoint that
     * {@link io.qat4j.training.Checkpoint#forResume} accepts (or no training files yet). {@code force}
     * writes into a non-empty directory, except that only a training command (non-null {@code epochs})
     * writes where a training run's files are: others would replace that run's provenance.
     */
    static String problem(Path dir, String command, Object resolved, boolean resumable, boolean resume, boolean force, Integer epochs)
            throws IOException {
        if (resume && force) {
            return "--resume continues the run in " + dir + " and --force replaces it: give one of them";
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            return "--out " + dir + " is a file, not a directory";
        }
        java.util.List<String> entries = new java.util.ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (java.util.stream.Stream<Path> s = Files.list(dir)) {
                s.map(p -> p.getFileName().toString()).sorted().forEach(entries::add);
            }
        }
        java.util.List<String> trainingFiles = io.qat4j.training.Checkpoint.RUN_FILES.stream().filter(entries::contains).toList();
        if (resume) {
            String changed = configChange(dir.resolve("resolved-config.yaml"), resolved);
            if (changed != null) {
                return changed;
            }
            if (epochs != null) {
                try {
                    io.qat4j.training.Checkpoint.forResume(dir, epochs);
                } catch (io.qat4j.training.Checkpoint.InvalidCheckpointException e) {
                    return e.getMessage();
                }
            }
            return null;
        }
        if (entries.isEmpty()) {
            return null;
        }
        String listed = String.join(", ", entries.subList(0, Math.min(8, entries.size()))) + (entries.size() > 8 ? ", ..." : "");
        if (epochs == null && !trainingFiles.isEmpty()) {
            return dir + " holds a training run (" + String.join(", ", trainingFiles) + "); `qat4j " + command + "` would replace its "
                    + "provenance.json and resolved-config.yaml: choose another --out";
        }
        if (!force) {
            return dir + " already holds files (" + listed + "); " + (resumable
                    ? "continue that run with --resume, choose another --out, or add --force to start over there"
                    : "choose another --out, or add --force to replace them");
        }
        // --force replaces the earlier run: its results must not survive next to the new run's provenance
        // (only the files qat4j commands write; nothing else in the directory is touched)
        for (String f : FORCE_REPLACED) {
            Files.deleteIfExists(dir.resolve(f));
        }
        return null;
    }

    /** The single-run outputs a forced run deletes first (training files are removed by the trainer itself). */
    static final java.util.List<String> FORCE_REPLACED = java.util.List.of("model.q4j", "summary.json", "plan.json", "ptq-float.zip",
            "sensitivity.csv", "sensitivity.json", "provenance.json", "resolved-config.yaml");

    /**
     * Why {@code resolved} may not continue the run whose configuration is {@code stored}, or null.
     * The stored file is read into the current configuration type, so keys added since (with their
     * defaults) do not count as changes, and derived entries the file also holds ({@code qat},
     * {@code ptqOnly}) are skipped. A run configuration must be equal; an
     * experiment's seed, data and FP32 stage must be, and each variant it shares with the stored one
     * (by name), except its {@code target}, which only annotates the report: variants may be added or dropped.
     */
    static String configChange(Path stored, Object resolved) throws IOException {
        if (!Files.isRegularFile(stored)) {
            return null;
        }
        Object before;
        try {
            before = YAML.copy().disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                    .readValue(stored.toFile(), resolved.getClass());
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            return "--resume cannot compare this configuration with the run's: " + stored + " is unreadable (" + e.getOriginalMessage()
                    + "); start again with --force";
        }
        com.fasterxml.jackson.databind.JsonNode was = YAML.readTree(YAML.writeValueAsBytes(before));
        com.fasterxml.jackson.databind.JsonNode now = YAML.readTree(YAML.writeValueAsBytes(resolved));
        String diff;
        if (resolved instanceof io.qat4j.training.config.ExperimentConfig) {
            diff = firstDifference("", without(was, "variants"), without(now, "variants"));
            for (com.fasterxml.jackson.databind.JsonNode v : now.path("variants")) {
                for (com.fasterxml.jackson.databind.JsonNode w : was.path("variants")) {
                    if (diff == null && w.path("name").equals(v.path("name"))) {
                        // a target only annotates the report: no result depends on it, so it may change on resume
                        diff = firstDifference("variants." + v.path("name").asText(), without(w, "target"), without(v, "target"));
                    }
                }
            }
        } else {
            diff = firstDifference("", was, now);
        }
        return diff == null ? null : "--resume continues the run in " + stored.getParent() + " with the configuration its results come "
                + "from, but this configuration differs from " + stored + " at " + diff + "; resume with that configuration, or start "
                + "again with --force";
    }

    /** A copy of the YAML mapping {@code node} without its entry {@code key} (the node itself is left as it is). */
    private static com.fasterxml.jackson.databind.JsonNode without(com.fasterxml.jackson.databind.JsonNode node, String key) {
        return ((com.fasterxml.jackson.databind.node.ObjectNode) node.deepCopy()).without(key);
    }

    /** The dotted path of the first difference between two YAML trees, or null when equal. */
    private static String firstDifference(String path, com.fasterxml.jackson.databind.JsonNode a, com.fasterxml.jackson.databind.JsonNode b) {
        if (a.equals(b)) {
            return null;
        }
        if (a.isObject() && b.isObject()) {
            java.util.Set<String> names = new java.util.LinkedHashSet<>();
            a.fieldNames().forEachRemaining(names::add);
            b.fieldNames().forEachRemaining(names::add);
            for (String n : names) {
                com.fasterxml.jackson.databind.JsonNode x = a.path(n);
                com.fasterxml.jackson.databind.JsonNode y = b.path(n);
                if (n.equals("firstLayerSigned") && unsetOrFalse(x) && unsetOrFalse(y)) {
                    continue;   // runs resolved before 0.1's signedness-from-data recorded an absent value as false
                }
                String d = firstDifference(path.isEmpty() ? n : path + "." + n, x, y);
                if (d != null) {
                    return d;
                }
            }
        }
        if (a.isArray() && b.isArray() && a.size() == b.size()) {
            for (int i = 0; i < a.size(); i++) {
                String d = firstDifference(path + "[" + i + "]", a.get(i), b.get(i));
                if (d != null) {
                    return d;
                }
            }
        }
        return "'" + (path.isEmpty() ? "(the whole file)" : path) + "' (" + (a.isMissingNode() ? "absent" : a.toString()) + " there, "
                + (b.isMissingNode() ? "absent" : b.toString()) + " here)";
    }

    private static boolean unsetOrFalse(com.fasterxml.jackson.databind.JsonNode v) {
        return v.isMissingNode() || v.isNull() || (v.isBoolean() && !v.booleanValue());
    }
}
