package io.qat4j.layers.params;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.WeightQuantMode;

/**
 * The quantizer parameters a layer carries after its DL4J parameters, in this order:
 * weight step {@link #WEIGHT_STEP_KEY} and offset {@link #WEIGHT_OFFSET_KEY} (one per weight group),
 * then the input quantizer's {@link #INPUT_MIN_KEY}/{@link #INPUT_MAX_KEY} (FIXED observer state),
 * {@link #INPUT_STEP_KEY}/{@link #INPUT_OFFSET_KEY} (LSQ/LSQ+), {@link #INPUT_ALPHA_KEY} (PACT) and
 * {@link #INPUT_COUNT_KEY} (batches observed / initialized). Each is a rank-1 {@code [n]} view of the
 * layer's flattened parameters. The layout depends on the modes only, never on
 * {@link QuantSettings#isEnabled()}, so switching quantization on and off keeps the parameters.
 *
 * <p>A layer with a second weight tensor or a second activation quantizer (a separable
 * convolution's pointwise weights and its quantizer between the depthwise and pointwise parts)
 * carries another copy of the weight or input part under a prefix ({@link #POINTWISE_PREFIX},
 * {@link #MID_PREFIX}); {@link #unprefixed} hands such a copy to the quantizer code under the
 * standard keys.
 */
public final class QuantizerParams {

    public static final String WEIGHT_STEP_KEY = "Ws";
    public static final String WEIGHT_OFFSET_KEY = "Wo";
    public static final String INPUT_MIN_KEY = "Xmin";
    public static final String INPUT_MAX_KEY = "Xmax";
    public static final String INPUT_STEP_KEY = "Xs";
    public static final String INPUT_OFFSET_KEY = "Xo";
    public static final String INPUT_ALPHA_KEY = "Xa";
    public static final String INPUT_COUNT_KEY = "Xn";

    /** Prefix of the weight-quantizer keys of a second weight tensor (a separable convolution's pointwise {@code pW}). */
    public static final String POINTWISE_PREFIX = "p";
    /** Prefix of the input-quantizer keys of a quantizer inside a layer (a separable convolution's depthwise output). */
    public static final String MID_PREFIX = "mid";

    private static final List<String> WEIGHT_KEYS = List.of(WEIGHT_STEP_KEY, WEIGHT_OFFSET_KEY);
    private static final List<String> INPUT_KEYS = List.of(INPUT_MIN_KEY, INPUT_MAX_KEY, INPUT_STEP_KEY, INPUT_OFFSET_KEY, INPUT_ALPHA_KEY,
            INPUT_COUNT_KEY);
    private static final List<String> INPUT_STATE_KEYS = List.of(INPUT_MIN_KEY, INPUT_MAX_KEY, INPUT_COUNT_KEY);

    /** Quantizer state updated by the layer itself, never by the optimizer (NoOp updater, zero gradient). */
    private static final Set<String> STATE = prefixed(INPUT_STATE_KEYS, "", MID_PREFIX);
    private static final Set<String> ALL = union(prefixed(WEIGHT_KEYS, "", POINTWISE_PREFIX), prefixed(INPUT_KEYS, "", MID_PREFIX));

    private static Set<String> prefixed(List<String> keys, String... prefixes) {
        Set<String> out = new java.util.HashSet<>();
        for (String p : prefixes) {
            for (String k : keys) {
                out.add(p + k);
            }
        }
        return Set.copyOf(out);
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> out = new java.util.HashSet<>(a);
        out.addAll(b);
        return Set.copyOf(out);
    }

    /** One parameter: key and length. */
    public record Entry(String key, long length) {
    }

    private QuantizerParams() {
    }

    public static boolean isQuantizerParam(String key) {
        return ALL.contains(key);
    }

    public static boolean isStateParam(String key) {
        return STATE.contains(key);
    }

    /** The quantizer parameters for these settings, {@code weightGroups} entries per weight step. */
    public static List<Entry> layout(QuantSettings s, long weightGroups) {
        List<Entry> e = new ArrayList<>(weightLayout(s, weightGroups, ""));
        e.addAll(inputLayout(s, ""));
        return e;
    }

    /** The weight quantizer's part of {@link #layout}, each key prefixed with {@code prefix}. */
    public static List<Entry> weightLayout(QuantSettings s, long weightGroups, String prefix) {
        List<Entry> e = new ArrayList<>();
        switch (s.getWeightMode()) {
            case LSQ -> e.add(new Entry(prefix + WEIGHT_STEP_KEY, weightGroups));
            case LSQ_PLUS -> {
                e.add(new Entry(prefix + WEIGHT_STEP_KEY, weightGroups));
                e.add(new Entry(prefix + WEIGHT_OFFSET_KEY, weightGroups));
            }
            case NONE, FIXED, BINARY, TERNARY -> {
            }
        }
        return e;
    }

    /** The input quantizer's part of {@link #layout}, each key prefixed with {@code prefix}. */
    public static List<Entry> inputLayout(QuantSettings s, String prefix) {
        List<Entry> e = new ArrayList<>();
        switch (s.getInputMode()) {
            case FIXED -> {
                e.add(new Entry(prefix + INPUT_MIN_KEY, 1));
                e.add(new Entry(prefix + INPUT_MAX_KEY, 1));
                e.add(new Entry(prefix + INPUT_COUNT_KEY, 1));
            }
            case LSQ -> {
                e.add(new Entry(prefix + INPUT_STEP_KEY, 1));
                e.add(new Entry(prefix + INPUT_COUNT_KEY, 1));
            }
            case LSQ_PLUS -> {
                e.add(new Entry(prefix + INPUT_STEP_KEY, 1));
                e.add(new Entry(prefix + INPUT_OFFSET_KEY, 1));
                e.add(new Entry(prefix + INPUT_COUNT_KEY, 1));
            }
            case PACT -> e.add(new Entry(prefix + INPUT_ALPHA_KEY, 1));
            case NONE -> {
            }
        }
        return e;
    }

    /**
     * The entries of {@code params} whose key is {@code prefix} followed by a standard quantizer key,
     * under the standard key (the same arrays, not copies): how a prefixed quantizer's parameters or
     * gradient views are handed to {@code WeightQuantization} and {@code InputQuantization}.
     */
    public static Map<String, INDArray> unprefixed(Map<String, INDArray> params, String prefix) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (List<String> keys : List.of(WEIGHT_KEYS, INPUT_KEYS)) {
            for (String k : keys) {
                INDArray v = params.get(prefix + k);
                if (v != null) {
                    out.put(k, v);
                }
            }
        }
        return out;
    }

    /** Rank-1 {@code [n]} views of {@code flat} for {@code entries}, starting at {@code offset}, in order. */
    public static Map<String, INDArray> views(List<Entry> entries, INDArray flat, long offset) {
        Map<String, INDArray> views = new LinkedHashMap<>();
        if (entries.isEmpty()) {
            return views;
        }
        long at = offset;
        INDArray row = flat.reshape(1, flat.length());
        for (Entry e : entries) {
            views.put(e.key(), row.get(NDArrayIndex.point(0), NDArrayIndex.interval(at, at + e.length())));
            at += e.length();
        }
        return views;
    }

    /** The summed length of {@code entries}. */
    public static long count(List<Entry> entries) {
        long n = 0;
        for (Entry e : entries) {
            n += e.length();
        }
        return n;
    }

    public static long count(QuantSettings s, long weightGroups) {
        return count(layout(s, weightGroups));
    }

    public static List<String> keys(QuantSettings s, long weightGroups) {
        List<String> keys = new ArrayList<>();
        for (Entry e : layout(s, weightGroups)) {
            keys.add(e.key());
        }
        return keys;
    }

    /** Rank-1 {@code [n]} views of {@code flat} starting at {@code offset}, in layout order (DL4J's bias convention). */
    public static Map<String, INDArray> views(QuantSettings s, long weightGroups, INDArray flat, long offset) {
        return views(layout(s, weightGroups), flat, offset);   // empty layout: DL4J hands parameter-less layers a null view
    }

    /**
     * Initial values: weight steps/offsets from the current weights (LSQ: {@code 2 mean|w|/sqrt(Qp)};
     * LSQ+: the min-max range), observer state 0, input step 1 (replaced from the first training
     * batch, since the count is 0), PACT alpha {@link QuantSettings#getPactInitAlpha()}.
     */
    public static void initialize(Map<String, INDArray> params, QuantSettings s, INDArray weights, int outAxis) {
        if (weights != null) {
            io.qat4j.layers.impl.WeightQuantization.initialize(s, weights, outAxis, params);
        }
        assignIfPresent(params, INPUT_MIN_KEY, 0);
        assignIfPresent(params, INPUT_MAX_KEY, 0);
        assignIfPresent(params, INPUT_COUNT_KEY, 0);
        assignIfPresent(params, INPUT_STEP_KEY, 1);
        assignIfPresent(params, INPUT_OFFSET_KEY, 0);
        assignIfPresent(params, INPUT_ALPHA_KEY, s.getPactInitAlpha());
    }

    private static void assignIfPresent(Map<String, INDArray> params, String key, double value) {
        INDArray p = params.get(key);
        if (p != null) {
            p.assign(value);
        }
    }

    /** Number of weight groups: output channels when per-channel, else 1. */
    public static long weightGroups(QuantSettings s, long outChannels) {
        return s.isWeightPerChannel() ? outChannels : 1;
    }

    /** Whether the mode uses a learned weight step. */
    public static boolean learnsWeightStep(WeightQuantMode m) {
        return m == WeightQuantMode.LSQ || m == WeightQuantMode.LSQ_PLUS;
    }

    /** Whether the mode keeps a count of observed batches. */
    public static boolean countsInputs(InputQuantMode m) {
        return m == InputQuantMode.FIXED || m == InputQuantMode.LSQ || m == InputQuantMode.LSQ_PLUS;
    }
}
