package io.qat4j.layers;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * What {@link QuantizedModel#wrap} does to each layer of a float network: default
 * {@link QuantSettings}, per-layer overrides (by DL4J layer name, e.g. {@code "layer0"} or the
 * name given in the configuration), calibrated input ranges that initialize the input quantizers
 * (the PTQ baseline produces them), weight scales that initialize LSQ/LSQ+ weight steps (per output
 * channel or one per tensor; a PTQ plan's calibrated scales), and layers to keep in float.
 * The activation quantizers {@link QuantizedModel#wrap} places are layers too, named
 * {@code <tensor>_aq} ({@link InsertedQuantizer}): overrides give their settings (their input part;
 * the defaults otherwise, and an input mode NONE places none) and input ranges (e.g. from PTQ
 * calibration of that tensor) initialize them by that name. A separable convolution's second
 * weight tensor and its quantizer between the depthwise and pointwise parts are named
 * {@code <layer>/pointwise} (weight scales) and {@code <layer>/mid} (input range)
 * ({@code QuantizedSeparableConvolutionLayer.pointwiseName}, {@code midQuantizerName}). Immutable once built.
 */
public final class QuantizationPlan {

    /** A calibrated input range {@code [min, max]} of one layer. */
    public record Range(double min, double max) {
        public Range {
            if (!Double.isFinite(min) || !Double.isFinite(max) || min > max) {
                throw new IllegalArgumentException("QuantizationPlan.Range: need finite min <= max, got [" + min + ", " + max + "]");
            }
        }
    }

    private final QuantSettings defaults;
    private final Map<String, QuantSettings> overrides;
    private final Map<String, Range> inputRanges;
    private final Map<String, double[]> weightScales;
    private final Set<String> keepFloat;

    private QuantizationPlan(Builder b) {
        Map<String, double[]> scales = new LinkedHashMap<>();
        b.weightScales.forEach((k, v) -> scales.put(k, v.clone()));
        this.weightScales = Collections.unmodifiableMap(scales);
        this.defaults = b.defaults.clone();
        this.overrides = Collections.unmodifiableMap(new LinkedHashMap<>(b.overrides));
        this.inputRanges = Collections.unmodifiableMap(new LinkedHashMap<>(b.inputRanges));
        this.keepFloat = Collections.unmodifiableSet(new LinkedHashSet<>(b.keepFloat));
    }

    /** The same settings for every layer. */
    public static QuantizationPlan uniform(QuantSettings settings) {
        return builder(settings).build();
    }

    public static Builder builder(QuantSettings defaults) {
        return new Builder(defaults);
    }

    /** Settings for a layer (a copy): its override, or the defaults. */
    public QuantSettings settingsFor(String layerName) {
        return overrides.getOrDefault(layerName, defaults).clone();
    }

    public Range inputRange(String layerName) {
        return inputRanges.get(layerName);
    }

    /** Weight scales for a layer's LSQ/LSQ+ steps (a copy), or null to initialize them from the weights. */
    public double[] weightScales(String layerName) {
        double[] s = weightScales.get(layerName);
        return s == null ? null : s.clone();
    }

    public boolean keepsFloat(String layerName) {
        return keepFloat.contains(layerName);
    }

    public Map<String, QuantSettings> overrides() {
        return overrides;
    }

    public Map<String, Range> inputRanges() {
        return inputRanges;
    }

    public Set<String> keepFloat() {
        return keepFloat;
    }

    public QuantSettings defaults() {
        return defaults.clone();
    }

    /** Builder of a {@link QuantizationPlan}. */
    public static final class Builder {
        private final QuantSettings defaults;
        private final Map<String, QuantSettings> overrides = new LinkedHashMap<>();
        private final Map<String, Range> inputRanges = new LinkedHashMap<>();
        private final Map<String, double[]> weightScales = new LinkedHashMap<>();
        private final Set<String> keepFloat = new LinkedHashSet<>();

        private Builder(QuantSettings defaults) {
            if (defaults == null) {
                throw new IllegalArgumentException("QuantizationPlan: default settings must not be null");
            }
            this.defaults = defaults.clone();
        }

        public Builder layer(String name, QuantSettings settings) {
            overrides.put(name, settings.clone());
            return this;
        }

        public Builder inputRange(String name, double min, double max) {
            inputRanges.put(name, new Range(min, max));
            return this;
        }

        /** Initial weight steps (LSQ/LSQ+ weight modes): one per output channel, or one per tensor; each finite and > 0. */
        public Builder weightScales(String name, double[] scales) {
            for (double v : scales) {
                if (!(v > 0) || Double.isInfinite(v)) {
                    throw new IllegalArgumentException("QuantizationPlan: layer '" + name + "' weight scale " + v + " must be finite and > 0");
                }
            }
            weightScales.put(name, scales.clone());
            return this;
        }

        public Builder keepFloat(String name) {
            keepFloat.add(name);
            return this;
        }

        public QuantizationPlan build() {
            return new QuantizationPlan(this);
        }
    }
}
