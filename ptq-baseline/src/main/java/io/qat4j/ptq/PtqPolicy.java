package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import io.qat4j.ste.BitWidths;

/**
 * What post-training quantization decides beyond its {@link PtqRecipe}: which layers get which
 * widths (mixed precision by sensitivity and bit allocation, first and last layers at their own
 * width) and which stay in float (partial quantization). {@link PtqPlanner} carries it out; the
 * {@code ptq} section of a qat4j configuration is read into one (same names, same defaults).
 * Immutable; validated in the constructor with messages naming the field. Defaults in brackets.
 *
 * <p>Explicit per-layer settings stay in the recipe ({@link PtqRecipe#layerWeightBits},
 * {@link PtqRecipe#layerInputBits}, {@link PtqRecipe#keepFloat}) and are kept: {@code firstLastBits}
 * adds the first and last layers to them (an explicit entry for either must agree),
 * {@code keepMostSensitive} keeps that many more layers in float. A bit allocation chooses every
 * layer's weight width, so it excludes explicit weight widths.
 *
 * @param recipe                    passes, uniform widths, calibrator and explicit per-layer settings, required
 * @param averageBits               mixed precision: the average weight-bit budget {@code B / sum n_l}, at least the smallest
 *                                  candidate width; null [null] = the recipe's widths
 * @param candidateBits             weight widths the sensitivity analysis measures and the allocation chooses from, each
 *                                  {@link BitWidths} 2..16 [2, 3, 4, 8]
 * @param allocation                how the budget is met: {@link BitAllocator.Method#EXACT} [EXACT] or GREEDY
 * @param allocationCandidates      EXACT with a validation set: the allocations of least predicted sensitivity quantized and
 *                                  measured, besides the uniform one that fits (then the most accurate is kept), >= 1 [4]
 * @param metric                    sensitivity distance: KL [KL] or MSE ({@link SensitivityAnalysis.Metric})
 * @param sensitivitySamples        calibration samples the sensitivity analysis runs on, >= 1 [256]
 * @param perChannelSensitivityBits width of the per-output-channel weight sensitivity, 0 [0] = skip (one forward pass per
 *                                  channel)
 * @param keepMostSensitive         partial quantization: keep this many most sensitive layers (weights at their width plus
 *                                  input) in float, >= 0 [0]
 * @param firstLastBits             uniform weight and input bits of the first and last weighted layers (also in binary/ternary
 *                                  networks), as the LSQ paper and many low-bit papers keep them, {@link BitWidths} 2..16;
 *                                  null [null] = like the others; excludes {@code averageBits}
 */
public record PtqPolicy(PtqRecipe recipe, Double averageBits, List<Integer> candidateBits, BitAllocator.Method allocation,
                        int allocationCandidates, SensitivityAnalysis.Metric metric, int sensitivitySamples,
                        int perChannelSensitivityBits, int keepMostSensitive, Integer firstLastBits) {

    /** Default {@link #candidateBits}. */
    public static final List<Integer> DEFAULT_CANDIDATE_BITS = List.of(2, 3, 4, 8);
    /** Default {@link #allocationCandidates}. */
    public static final int DEFAULT_ALLOCATION_CANDIDATES = 4;
    /** Default {@link #sensitivitySamples}. */
    public static final int DEFAULT_SENSITIVITY_SAMPLES = 256;

    public PtqPolicy {
        if (recipe == null) {
            throw new IllegalArgumentException("PtqPolicy: recipe must be set (PtqRecipe.defaults() for W8A8 percentile)");
        }
        if (candidateBits == null || candidateBits.isEmpty() || candidateBits.stream().anyMatch(java.util.Objects::isNull)) {
            throw new IllegalArgumentException("PtqPolicy: candidateBits must list at least one weight width (default "
                    + DEFAULT_CANDIDATE_BITS + "), got " + candidateBits);
        }
        candidateBits = List.copyOf(candidateBits);
        for (int b : candidateBits) {
            BitWidths.checkWeightBits("PtqPolicy: candidateBits (each)", b, BitWidths.Target.SIMULATION);
        }
        if (allocation == null || metric == null) {
            throw new IllegalArgumentException("PtqPolicy: allocation (EXACT or GREEDY) and metric (KL or MSE) must be set");
        }
        if (averageBits != null) {
            if (!(averageBits > 0) || averageBits.isInfinite()) {
                throw new IllegalArgumentException("PtqPolicy: averageBits must be finite and > 0 (e.g. 3.0), got " + averageBits);
            }
            int smallest = candidateBits.stream().mapToInt(Integer::intValue).min().orElseThrow();
            if (averageBits < smallest) {
                throw new IllegalArgumentException("PtqPolicy: averageBits " + averageBits + " is below the smallest candidate width "
                        + candidateBits + "; no allocation fits");
            }
            if (!recipe.layerWeightBits().isEmpty()) {
                throw new IllegalArgumentException("PtqPolicy: averageBits chooses every layer's weight width, but the recipe fixes "
                        + recipe.layerWeightBits() + "; remove averageBits or the recipe's layerWeightBits");
            }
        }
        if (allocationCandidates < 1) {
            throw new IllegalArgumentException("PtqPolicy: allocationCandidates must be >= 1 (default " + DEFAULT_ALLOCATION_CANDIDATES
                    + "), got " + allocationCandidates);
        }
        if (sensitivitySamples < 1) {
            throw new IllegalArgumentException("PtqPolicy: sensitivitySamples must be >= 1 (default " + DEFAULT_SENSITIVITY_SAMPLES
                    + "), got " + sensitivitySamples);
        }
        if (perChannelSensitivityBits != 0) {
            BitWidths.checkWeightBits("PtqPolicy: perChannelSensitivityBits (0 = skip)", perChannelSensitivityBits,
                    BitWidths.Target.SIMULATION);
        }
        if (keepMostSensitive < 0) {
            throw new IllegalArgumentException("PtqPolicy: keepMostSensitive must be >= 0 (0 = quantize every layer), got "
                    + keepMostSensitive);
        }
        if (firstLastBits != null) {
            // uniform weights and inputs at one width: the weight rule (from 2 bits) is the stricter one
            BitWidths.checkWeightBits("PtqPolicy: firstLastBits (weights and inputs of the first and last layers)", firstLastBits,
                    BitWidths.Target.SIMULATION);
            if (averageBits != null) {
                throw new IllegalArgumentException("PtqPolicy: firstLastBits and averageBits exclude each other: the bit allocation "
                        + "chooses every layer's width, the first and last included (remove one)");
            }
        }
    }

    /** The recipe with every policy option at its default: the recipe's widths for every layer, nothing kept in float. */
    public static PtqPolicy of(PtqRecipe recipe) {
        return builder(recipe).build();
    }

    /** Options set one by one, each at its default (listed on the record) until set. */
    public static Builder builder(PtqRecipe recipe) {
        return new Builder(recipe);
    }

    /** True when the plan needs the sensitivity analysis (mixed precision or partial quantization). */
    public boolean needsSensitivity() {
        return averageBits != null || keepMostSensitive > 0;
    }

    /** Samples the calibration pass keeps in memory: the sensitivity analysis's and AdaRound's, whichever is larger. */
    public int keptSamples() {
        return Math.max(needsSensitivity() ? sensitivitySamples : 0,
                recipe.adaRound() == null ? 0 : Math.min(recipe.adaRound().samples(), recipe.calibrationSamples()));
    }

    /** The sensitivity analysis this policy runs: weights at {@link #candidateBits}, inputs at 2, 4, 8 and the recipe's width. */
    public SensitivityAnalysis.Options sensitivityOptions() {
        return new SensitivityAnalysis.Options(candidateBits.stream().mapToInt(Integer::intValue).toArray(),
                IntStream.of(2, 4, 8, recipe.inputBits()).distinct().sorted().toArray(), metric, perChannelSensitivityBits);
    }

    /** Builds a {@link PtqPolicy}; {@link #build} validates. */
    public static final class Builder {
        private PtqRecipe recipe;
        private Double averageBits;
        private List<Integer> candidateBits = DEFAULT_CANDIDATE_BITS;
        private BitAllocator.Method allocation = BitAllocator.Method.EXACT;
        private int allocationCandidates = DEFAULT_ALLOCATION_CANDIDATES;
        private SensitivityAnalysis.Metric metric = SensitivityAnalysis.Metric.KL;
        private int sensitivitySamples = DEFAULT_SENSITIVITY_SAMPLES;
        private int perChannelSensitivityBits;
        private int keepMostSensitive;
        private Integer firstLastBits;

        private Builder(PtqRecipe recipe) {
            this.recipe = recipe;
        }

        public Builder recipe(PtqRecipe v) {
            recipe = v;
            return this;
        }

        /** Mixed precision at this average weight width; null for the recipe's widths. */
        public Builder averageBits(Double v) {
            averageBits = v;
            return this;
        }

        public Builder candidateBits(List<Integer> v) {
            candidateBits = v == null ? null : new ArrayList<>(v);
            return this;
        }

        public Builder allocation(BitAllocator.Method v) {
            allocation = v;
            return this;
        }

        public Builder allocationCandidates(int v) {
            allocationCandidates = v;
            return this;
        }

        public Builder metric(SensitivityAnalysis.Metric v) {
            metric = v;
            return this;
        }

        public Builder sensitivitySamples(int v) {
            sensitivitySamples = v;
            return this;
        }

        public Builder perChannelSensitivityBits(int v) {
            perChannelSensitivityBits = v;
            return this;
        }

        public Builder keepMostSensitive(int v) {
            keepMostSensitive = v;
            return this;
        }

        /** The first and last weighted layers at this width (weights and inputs); null like the others. */
        public Builder firstLastBits(Integer v) {
            firstLastBits = v;
            return this;
        }

        /** @throws IllegalArgumentException naming the option, as the constructor does */
        public PtqPolicy build() {
            return new PtqPolicy(recipe, averageBits, candidateBits, allocation, allocationCandidates, metric, sensitivitySamples,
                    perChannelSensitivityBits, keepMostSensitive, firstLastBits);
        }
    }
}
