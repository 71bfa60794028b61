package io.qat4j.runtime;

import java.util.Locale;

/**
 * How much memory and work loading and running one model may take, checked against its
 * {@link ModelCost} (computed from the header's shapes) before anything large is allocated, so that a
 * small hostile or mistaken file (six 1-bit 65536x1024 dense layers in 50 MB, a few-KB convolution
 * padded to 8192 x 8192) is refused with a message instead of exhausting memory or running for
 * minutes. The defaults hold real CNNs with room to spare: ResNet-50 v1.5 at 224 x 224 (25.5 M
 * weights, 4.1 G operations per sample) needs 233 MB of model bytes (a ninth of the limit), 29 MB per
 * sample (a ninth) and a quarter of the operation limit ({@code ModelLimitsTest}). Each default can be changed with a system
 * property or per load ({@link Int8Model#load(java.nio.file.Path, ModelLimits)}).
 *
 * @param maxModelBytes   largest {@link ModelCost#modelBytes()}: default 2 GiB (2147483648), system
 *                        property {@value #MAX_MODEL_BYTES}; the JVM's heap must hold it too
 * @param maxSampleBytes  largest {@link ModelCost#sampleBytes()}: default 256 MiB (268435456),
 *                        system property {@value #MAX_SAMPLE_BYTES}; also what one pass over a batch
 *                        holds: a batch runs in passes of {@code maxSampleBytes / sampleBytes} samples
 *                        (at least one, at most 1 GiB of them)
 * @param maxOpsPerSample largest {@link ModelCost#opsPerSample()}: default 2^34 (17179869184, about
 *                        four ResNet-50s or one VGG-16), system property {@value #MAX_OPS_PER_SAMPLE}
 */
public record ModelLimits(long maxModelBytes, long maxSampleBytes, long maxOpsPerSample) {

    /** System property overriding the default {@link #maxModelBytes}, in bytes. */
    public static final String MAX_MODEL_BYTES = "qat4j.runtime.maxModelBytes";
    /** System property overriding the default {@link #maxSampleBytes}, in bytes. */
    public static final String MAX_SAMPLE_BYTES = "qat4j.runtime.maxSampleBytes";
    /** System property overriding the default {@link #maxOpsPerSample}, in operations. */
    public static final String MAX_OPS_PER_SAMPLE = "qat4j.runtime.maxOpsPerSample";

    static final long DEFAULT_MODEL_BYTES = 1L << 31;
    static final long DEFAULT_SAMPLE_BYTES = 1L << 28;
    static final long DEFAULT_OPS_PER_SAMPLE = 1L << 34;

    public ModelLimits {
        positive("maxModelBytes", maxModelBytes);
        positive("maxSampleBytes", maxSampleBytes);
        positive("maxOpsPerSample", maxOpsPerSample);
    }

    private static void positive(String name, long v) {
        if (v < 1) {
            throw new IllegalArgumentException("ModelLimits." + name + " must be >= 1, got " + v);
        }
    }

    /** The defaults, each replaced by its system property where that is set. */
    public static ModelLimits defaults() {
        return new ModelLimits(property(MAX_MODEL_BYTES, DEFAULT_MODEL_BYTES), property(MAX_SAMPLE_BYTES, DEFAULT_SAMPLE_BYTES),
                property(MAX_OPS_PER_SAMPLE, DEFAULT_OPS_PER_SAMPLE));
    }

    private static long property(String name, long fallback) {
        String v = System.getProperty(name);
        if (v == null) {
            return fallback;
        }
        try {
            long parsed = Long.parseLong(v.trim());
            if (parsed >= 1) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("system property " + name + "=" + v + " is not a whole number >= 1; write e.g. -D" + name
                + "=" + fallback * 2 + " (the default is " + fallback + ")");
    }

    /** Refuses a model whose prepared bytes so far exceed {@link #maxModelBytes} (the reader checks node by node). */
    void checkModelBytes(long bytes, String where) {
        if (bytes > maxModelBytes) {
            throw new IllegalArgumentException(over(where + "the model needs at least " + grouped(bytes)
                    + " bytes for its weights and the kernels' layouts of them", maxModelBytes, "maxModelBytes", MAX_MODEL_BYTES));
        }
    }

    /**
     * Refuses a model that exceeds a limit.
     *
     * @throws IllegalArgumentException naming the cost, the limit and how to raise it
     */
    public void check(ModelCost cost) {
        checkModelBytes(cost.modelBytes(), "");
        if (cost.sampleBytes() > maxSampleBytes) {
            throw new IllegalArgumentException(over("one sample needs " + grouped(cost.sampleBytes())
                    + " bytes of activations and kernel scratch", maxSampleBytes, "maxSampleBytes", MAX_SAMPLE_BYTES));
        }
        if (cost.opsPerSample() > maxOpsPerSample) {
            throw new IllegalArgumentException(over("one sample needs " + grouped(cost.opsPerSample()) + " operations (node "
                    + cost.heaviestNode() + " the most)", maxOpsPerSample, "maxOpsPerSample", MAX_OPS_PER_SAMPLE));
        }
        if (cost.largestArray() > Integer.MAX_VALUE - 8) {
            // a hard limit of the JVM, whatever the settings
            throw new IllegalArgumentException("a kernel would need an array of " + grouped(cost.largestArray())
                    + " elements for one sample; Java arrays hold at most " + grouped(Integer.MAX_VALUE - 8));
        }
    }

    private static String over(String need, long limit, String field, String property) {
        return need + ", above the limit of " + grouped(limit) + " (ModelLimits." + field + "); if the model is what you meant to "
                + "load, raise it with -D" + property + "=N or pass ModelLimits to Int8Model.load / ModelFile.read";
    }

    static String grouped(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }
}
