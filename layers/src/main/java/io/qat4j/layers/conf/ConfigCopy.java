package io.qat4j.layers.conf;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

/**
 * Copies every instance field that a DL4J layer configuration class and its superclasses declare
 * from {@code source} into {@code target} (a subclass instance). Used to turn a stock
 * DL4J layer configuration into its quantized subclass without listing (and forgetting) fields.
 */
final class ConfigCopy {

    private ConfigCopy() {
    }

    static <T> void copy(T source, T target, Class<?> upTo) {
        for (Class<?> c = source.getClass(); c != null && upTo.isAssignableFrom(c); c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())) {
                    continue;
                }
                try {
                    f.setAccessible(true);
                    f.set(target, f.get(source));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("cannot copy field " + c.getName() + "." + f.getName(), e);
                }
            }
        }
    }
}
