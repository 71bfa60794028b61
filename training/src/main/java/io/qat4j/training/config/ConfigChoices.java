package io.qat4j.training.config;

import java.io.IOException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.BeanProperty;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.ContextualDeserializer;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;

/**
 * How configuration values that are choices ({@link Choice}) are read, written and listed: the
 * constant's name in lower case with '-' for '_' ({@code moving-average}, {@code reference-cnn},
 * {@code lsq-plus}) is its spelling; reading ignores case and takes '-' and '_' alike, so every
 * spelling that configurations used before choices were enums still reads.
 */
public final class ConfigChoices {

    private ConfigChoices() {
    }

    /** The configuration spelling of {@code choice}: lower case, '-' for '_'. */
    public static String spelling(Enum<?> choice) {
        return choice.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The spellings of every constant of {@code type}, in declaration order, comma-separated: for messages and help texts. */
    public static String choices(Class<? extends Enum<?>> type) {
        return Arrays.stream(type.getEnumConstants()).map(ConfigChoices::spelling).collect(Collectors.joining(", "));
    }

    /** The constant of {@code type} that {@code text} names (any case, '-' or '_'), or null when none does. */
    public static <E extends Enum<E>> E parse(Class<E> type, String text) {
        String name = text.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(name)) {
                return e;
            }
        }
        return null;
    }

    /** "'x' is not one of a, b, c (...)": the one wording of a value that names no choice. */
    static String notAChoice(Class<? extends Enum<?>> type, String value) {
        return value + " is not one of " + choices(type) + " (case does not matter, and '-' and '_' are the same)";
    }

    /** Reads a {@link Choice} key (the enum type comes from the property it annotates). */
    public static final class Reader extends JsonDeserializer<Enum<?>> implements ContextualDeserializer {
        private final Class<? extends Enum<?>> type;

        /** For Jackson, which then asks {@link #createContextual} for the property's reader. */
        public Reader() {
            this(null);
        }

        private Reader(Class<? extends Enum<?>> type) {
            this.type = type;
        }

        @Override
        @SuppressWarnings("unchecked")
        public JsonDeserializer<?> createContextual(DeserializationContext ctxt, BeanProperty property) throws JsonMappingException {
            Class<?> raw = property == null ? null : property.getType().getRawClass();
            if (raw == null || !raw.isEnum()) {
                return ctxt.reportBadDefinition(property == null ? ctxt.constructType(Object.class) : property.getType(),
                        "@Choice marks keys of an enum type, not " + raw);
            }
            return new Reader((Class<? extends Enum<?>>) raw);
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        public Enum<?> deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                String got = switch (p.currentToken()) {
                    case START_OBJECT -> "a mapping";
                    case START_ARRAY -> "a list";
                    case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "the number " + p.getText();
                    case VALUE_TRUE, VALUE_FALSE -> "the boolean " + p.getText();
                    default -> "'" + p.getText() + "'";
                };
                throw InvalidFormatException.from(p, notAChoice(type, got), p.getText(), type);
            }
            String text = p.getText();
            Enum<?> e = parse((Class) type, text);
            if (e == null) {
                throw InvalidFormatException.from(p, notAChoice(type, "'" + text + "'"), text, type);
            }
            return e;
        }
    }

    /** Writes a {@link Choice} key in its {@linkplain #spelling spelling}. */
    public static final class Writer extends StdSerializer<Enum<?>> {
        private static final long serialVersionUID = 1L;

        @SuppressWarnings({"unchecked", "rawtypes"})
        public Writer() {
            super((Class) Enum.class);
        }

        @Override
        public void serialize(Enum<?> value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeString(spelling(value));
        }
    }
}
