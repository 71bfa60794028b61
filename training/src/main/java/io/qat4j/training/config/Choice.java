package io.qat4j.training.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import com.fasterxml.jackson.annotation.JacksonAnnotationsInside;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;

/**
 * Marks a configuration key whose value is one constant of an enum: read by its name in any case,
 * with '-' and '_' alike ({@code moving_average}, {@code Moving-Average}), written in its
 * {@linkplain ConfigChoices#spelling configuration spelling}; any other value is an error that lists
 * the choices. On the record component, so that every mapper (configuration files, resolved
 * configurations, results with their provenance) reads and writes it alike.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.METHOD, ElementType.PARAMETER})
@JacksonAnnotationsInside
@JsonDeserialize(using = ConfigChoices.Reader.class)
@JsonSerialize(using = ConfigChoices.Writer.class)
public @interface Choice {
}
