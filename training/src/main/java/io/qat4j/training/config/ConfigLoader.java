package io.qat4j.training.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

/**
 * Reads a YAML run configuration into a {@link RunConfig} (or an experiment configuration into an
 * {@link ExperimentConfig}). Unknown keys, keys given twice in one mapping, wrong types, missing
 * required keys and invalid values are {@link ConfigException}s naming the file, line and key, in
 * qat4j's words with what to change: the other kind of configuration is named as such and the
 * command that runs it; a misspelled key gets "did you mean" ({@link ConfigMistakes}).
 */
public final class ConfigLoader {

    /**
     * Strict: duplicate keys, unknown keys and trailing content are errors, and a value is never
     * coerced into another type (`epochs: 1.9` is not read as 1, `bits: 4.7` not as 4, `perChannel: 1`
     * not as true, `mode: 0` not as the first constant; found by `ConfigLoaderFuzzTest`).
     */
    private static final ObjectMapper YAML = com.fasterxml.jackson.dataformat.yaml.YAMLMapper.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
            .withCoercionConfig(com.fasterxml.jackson.databind.type.LogicalType.Integer, c -> c
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.String, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail)
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Float, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail))
            .withCoercionConfig(com.fasterxml.jackson.databind.type.LogicalType.Boolean, c -> c
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.String, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail)
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail))
            .withCoercionConfig(com.fasterxml.jackson.databind.type.LogicalType.Enum, c -> c
                    .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer, com.fasterxml.jackson.databind.cfg.CoercionAction.Fail))
            .build();

    private ConfigLoader() {
    }

    public static RunConfig load(Path file) throws ConfigException {
        return load(file, RunConfig.class);
    }

    /** Reads a YAML file into any validated record type (run or experiment configuration). */
    public static <T> T load(Path file, Class<T> type) throws ConfigException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such configuration file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        com.fasterxml.jackson.databind.JsonNode tree = ConfigMistakes.tree(text);
        String wrongKind = ConfigMistakes.wrongKind(file, text, tree, type);
        if (wrongKind != null) {
            throw new ConfigException(wrongKind);
        }
        try {
            T c = YAML.readValue(text, type);
            if (c == null) {
                throw new ConfigException(file + ": the file is empty");
            }
            return c;
        } catch (UnrecognizedPropertyException e) {
            String known = e.getKnownPropertyIds() == null ? "" : e.getKnownPropertyIds().stream().map(Object::toString).sorted()
                    .collect(Collectors.joining(", "));
            throw new ConfigException(where(file, text, e) + "unknown key '" + path(e) + "'"
                    + ConfigMistakes.didYouMean(String.valueOf(e.getPropertyName()), e.getKnownPropertyIds())
                    + (known.isEmpty() ? "" : " (known here: " + known + ")"), e);
        } catch (ValueInstantiationException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new ConfigException(where(file, text, e) + "invalid value in '" + path(e) + "': " + cause.getMessage(), e);
        } catch (JsonMappingException e) {
            if (e.getCause() instanceof JsonProcessingException parse && duplicateKey(parse, path(e)) != null) {
                throw new ConfigException(where(file, parse) + twice(duplicateKey(parse, path(e))), e);   // inside a nested value
            }
            String mistake = e instanceof MismatchedInputException m ? ConfigMistakes.mismatch(file, text, tree, m) : null;
            if (mistake != null) {
                throw new ConfigException(mistake, e);
            }
            throw new ConfigException(where(file, text, e) + "key '" + path(e) + "': " + e.getOriginalMessage(), e);
        } catch (JsonProcessingException e) {
            String dup = duplicateKey(e, "");
            if (dup != null) {
                throw new ConfigException(where(file, e) + twice(dup), e);
            }
            throw new ConfigException(where(file, e) + "not valid YAML: " + e.getOriginalMessage(), e);
        }
    }

    private static String twice(String key) {
        return "key '" + key + "' is given twice in the same mapping; YAML would keep one of the values silently, so delete the one you "
                + "do not mean";
    }

    /**
     * The dotted key path of a duplicate-key error (Jackson's STRICT_DUPLICATE_DETECTION) met while
     * reading the value at {@code mappedPath} ("" at the top), or null for other errors.
     */
    private static String duplicateKey(JsonProcessingException e, String mappedPath) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^Duplicate field '(.*)'$").matcher(String.valueOf(e.getOriginalMessage()));
        if (!m.matches()) {
            return null;
        }
        if (mappedPath.isEmpty() && e.getProcessor() instanceof com.fasterxml.jackson.core.JsonParser p) {
            java.util.List<String> names = new java.util.ArrayList<>();
            for (com.fasterxml.jackson.core.JsonStreamContext c = p.getParsingContext(); c != null; c = c.getParent()) {
                if (c.inObject() && c.getCurrentName() != null) {
                    names.add(0, c.getCurrentName());
                } else if (c.inArray()) {
                    names.add(0, "[" + c.getCurrentIndex() + "]");
                }
            }
            if (!names.isEmpty()) {
                return String.join(".", names);
            }
        }
        return mappedPath.isEmpty() ? m.group(1) : mappedPath + "." + m.group(1);
    }

    private static String where(Path file, JsonProcessingException e) {
        JsonLocation loc = e.getLocation();
        return file + (loc == null ? "" : ":" + loc.getLineNr() + ":" + loc.getColumnNr()) + ": ";
    }

    /** Location of the offending key itself (Jackson reports records' errors where the mapping ends). */
    private static String where(Path file, String text, JsonMappingException e) {
        Integer line = keyLines(text).get(path(e));
        return line == null ? where(file, e) : file + ":" + line + ": ";
    }

    /** Dotted key path -> line of the key, from the YAML token stream. */
    static java.util.Map<String, Integer> keyLines(String text) {
        java.util.Map<String, Integer> lines = new java.util.HashMap<>();
        java.util.Deque<String> stack = new java.util.ArrayDeque<>();
        String pending = null;
        try (com.fasterxml.jackson.core.JsonParser p = YAML.getFactory().createParser(text)) {
            for (com.fasterxml.jackson.core.JsonToken t; (t = p.nextToken()) != null; ) {
                switch (t) {
                    case FIELD_NAME -> {
                        pending = p.currentName();
                        String prefix = stack.isEmpty() ? "" : String.join(".", reversed(stack)) + ".";
                        lines.putIfAbsent(prefix + pending, p.currentTokenLocation().getLineNr());
                    }
                    case START_OBJECT -> {
                        if (pending != null) {
                            stack.push(pending);
                        } else if (!lines.isEmpty() || !stack.isEmpty()) {
                            stack.push("[]");
                        }
                        pending = null;
                    }
                    case END_OBJECT -> {
                        if (!stack.isEmpty()) {
                            stack.pop();
                        }
                    }
                    default -> pending = null;
                }
            }
        } catch (IOException ignored) {
            // a syntax error is reported by the mapper with its own location
        }
        return lines;
    }

    private static java.util.List<String> reversed(java.util.Deque<String> stack) {
        java.util.List<String> l = new java.util.ArrayList<>(stack);
        java.util.Collections.reverse(l);
        return l;
    }

    private static String path(JsonMappingException e) {
        return e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."));
    }
}
