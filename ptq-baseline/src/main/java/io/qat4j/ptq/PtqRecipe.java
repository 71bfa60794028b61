package io.qat4j.ptq;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.qat4j.ptq.calibration.CalibrationMethod;
import io.qat4j.ste.BitWidths;

/**
 * What post-training quantization does, each pass optional (Nagel et al. white-paper order):
 * batch-norm folding, cross-layer equalization, weight scales, bias correction, activation
 * calibration, partial quantization. Immutable; validated on construction.
 *
 * @param foldBatchNorm          fold BN into the preceding conv/dense (default true)
 * @param crossLayerEqualization equalize ReLU-joined layer pairs (default false; helps per-tensor weights)
 * @param biasCorrection         empirical bias correction from the calibration means (default true)
 * @param weightQuantizer        UNIFORM (default), BINARY or TERNARY
 * @param weightBits             uniform weight bits, {@link BitWidths} 2..16 (default 8; the INT8 runtime takes 2..8); per-layer
 *                               overrides in {@code layerWeightBits}
 * @param perChannel             one weight scale per output channel (default true)
 * @param weightRange            MINMAX (default) or MSE weight scales
 * @param inputBits              activation bits, {@link BitWidths} 1..16 (default 8; the INT8 runtime takes 1..8)
 * @param calibration            activation calibrator (default PERCENTILE)
 * @param percentile             PERCENTILE's percentile, (0, 100] (default 99.99)
 * @param calibrationSamples     samples streamed for calibration, >= 1 (default 512)
 * @param histogramBins          bins of the activation histograms, even, >= 16 (default 2048)
 * @param layerWeightBits        per-layer weight bits (e.g. from the bit allocation), by layer name; a layer listed here
 *                               gets uniform weights at these bits even when {@code weightQuantizer} is BINARY or TERNARY
 *                               (e.g. the first and last layers of a binary network at 8 bits)
 * @param keepFloat              layers left in float (partial quantization), by name
 * @param layerInputBits         per-layer activation bits overriding {@code inputBits}, by layer name
 * @param adaRound               learned weight rounding ({@link AdaRound}) for uniform weights instead of nearest rounding, or
 *                               null for nearest (default); it replaces bias correction on the layers it rounds
 */
public record PtqRecipe(boolean foldBatchNorm, boolean crossLayerEqualization, boolean biasCorrection,
                        QuantPlan.WeightQuantizer weightQuantizer, int weightBits, boolean perChannel, WeightRangeMethod weightRange,
                        int inputBits, CalibrationMethod calibration, double percentile, int calibrationSamples, int histogramBins,
                        Map<String, Integer> layerWeightBits, List<String> keepFloat, Map<String, Integer> layerInputBits,
                        AdaRound.Settings adaRound) {

    public PtqRecipe {
        if (weightQuantizer == null || weightRange == null || calibration == null) {
            throw new IllegalArgumentException("PtqRecipe: weightQuantizer, weightRange and calibration must be set");
        }
        BitWidths.checkWeightBits("PtqRecipe: weightBits", weightBits, BitWidths.Target.SIMULATION);
        BitWidths.checkInputBits("PtqRecipe: inputBits", inputBits, BitWidths.Target.SIMULATION);
        if (!(percentile > 0 && percentile <= 100)) {
            throw new IllegalArgumentException("PtqRecipe: percentile must be in (0, 100] (e.g. 99.99), got " + percentile);
        }
        if (calibrationSamples < 1) {
            throw new IllegalArgumentException("PtqRecipe: calibrationSamples must be >= 1 (e.g. 512), got " + calibrationSamples);
        }
        if (histogramBins < 16 || histogramBins % 2 != 0) {
            throw new IllegalArgumentException("PtqRecipe: histogramBins must be even and >= 16 (default 2048), got " + histogramBins);
        }
        layerWeightBits = layerWeightBits == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(layerWeightBits));
        layerWeightBits.forEach((k, v) -> BitWidths.checkWeightBits("PtqRecipe: layerWeightBits." + k, v, BitWidths.Target.SIMULATION));
        keepFloat = keepFloat == null ? List.of() : List.copyOf(keepFloat);
        layerInputBits = layerInputBits == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(layerInputBits));
        layerInputBits.forEach((k, v) -> BitWidths.checkInputBits("PtqRecipe: layerInputBits." + k, v, BitWidths.Target.SIMULATION));
    }

    /** The defaults: BN folding, bias correction, W8 per-channel min-max, A8 percentile 99.99, 512 samples. */
    public static PtqRecipe defaults() {
        return new PtqRecipe(true, false, true, QuantPlan.WeightQuantizer.UNIFORM, 8, true, WeightRangeMethod.MINMAX, 8,
                CalibrationMethod.PERCENTILE, 99.99, 512, 2048, Map.of(), List.of(), Map.of(), null);
    }

    public PtqRecipe withBits(int weights, int inputs) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weights, perChannel, weightRange,
                inputs, calibration, percentile, calibrationSamples, histogramBins, layerWeightBits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withCalibration(CalibrationMethod method) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, method, percentile, calibrationSamples, histogramBins, layerWeightBits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withWeightQuantizer(QuantPlan.WeightQuantizer q) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, q, weightBits, perChannel, weightRange,
                inputBits, calibration, percentile, calibrationSamples, histogramBins, layerWeightBits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withWeightRange(WeightRangeMethod m) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, m,
                inputBits, calibration, percentile, calibrationSamples, histogramBins, layerWeightBits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withPasses(boolean fold, boolean cle, boolean bias) {
        return new PtqRecipe(fold, cle, bias, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, calibration, percentile, calibrationSamples, histogramBins, layerWeightBits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withLayerWeightBits(Map<String, Integer> bits) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, calibration, percentile, calibrationSamples, histogramBins, bits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withKeepFloat(List<String> layers) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, calibration, percentile, calibrationSamples, histogramBins, layerWeightBits, layers, layerInputBits, adaRound);
    }

    public PtqRecipe withCalibrationSamples(int samples) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, calibration, percentile, samples, histogramBins, layerWeightBits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withPercentile(double p) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, calibration, p, calibrationSamples, histogramBins, layerWeightBits, keepFloat, layerInputBits, adaRound);
    }

    public PtqRecipe withLayerInputBits(Map<String, Integer> bits) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, calibration, percentile, calibrationSamples, histogramBins, layerWeightBits, keepFloat, bits, adaRound);
    }

    public PtqRecipe withAdaRound(AdaRound.Settings settings) {
        return new PtqRecipe(foldBatchNorm, crossLayerEqualization, biasCorrection, weightQuantizer, weightBits, perChannel, weightRange,
                inputBits, calibration, percentile, calibrationSamples, histogramBins, layerWeightBits, keepFloat, layerInputBits, settings);
    }

    /** Activation bits of a layer's input: its override or {@link #inputBits}. */
    public int inputBitsFor(String layer) {
        return layerInputBits.getOrDefault(layer, inputBits);
    }

    /** A layer's weight quantizer: UNIFORM where {@code layerWeightBits} lists it, else {@link #weightQuantizer}. */
    public QuantPlan.WeightQuantizer weightQuantizerFor(String layer) {
        return layerWeightBits.containsKey(layer) ? QuantPlan.WeightQuantizer.UNIFORM : weightQuantizer;
    }

    /** Weight bits of a layer: its override or {@link #weightBits}. */
    public int weightBitsFor(String layer) {
        return layerWeightBits.getOrDefault(layer, weightBits);
    }
}
