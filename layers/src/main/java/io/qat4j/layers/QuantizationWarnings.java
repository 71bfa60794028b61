package io.qat4j.layers;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warnings the quantizers raise while a network trains or calibrates: data that an explicitly
 * unsigned input quantizer clips, learned steps projected back to their floor. Each distinct
 * warning (by its key: layer, parameter, kind) is logged once through SLF4J and kept in a bounded
 * list so that the CLI can report it and tests can check it. Thread-safe.
 */
public final class QuantizationWarnings {

    private static final Logger LOG = LoggerFactory.getLogger(QuantizationWarnings.class);
    /** Most warnings kept; later distinct ones are still logged. */
    public static final int MAX_KEPT = 1000;

    private static final Set<String> SEEN = new LinkedHashSet<>();
    private static final List<String> KEPT = new ArrayList<>();

    private QuantizationWarnings() {
    }

    /** Logs {@code message} unless a warning with the same {@code key} was already raised. */
    public static void warnOnce(String key, String message) {
        synchronized (SEEN) {
            if (!SEEN.add(key)) {
                return;
            }
            if (KEPT.size() < MAX_KEPT) {
                KEPT.add(message);
            }
        }
        LOG.warn(message);
    }

    /** The warnings raised so far (oldest first), without clearing them. */
    public static List<String> raised() {
        synchronized (SEEN) {
            return List.copyOf(KEPT);
        }
    }

    /** The warnings raised so far, then forgets them (and their keys, so they can be raised again). */
    public static List<String> drain() {
        synchronized (SEEN) {
            List<String> out = List.copyOf(KEPT);
            KEPT.clear();
            SEEN.clear();
            return out;
        }
    }
}
