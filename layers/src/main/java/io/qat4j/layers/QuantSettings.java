package io.qat4j.layers;

import java.io.Serializable;
import java.util.Objects;

import io.qat4j.ste.BitWidths;

/**
 * What a quantized DL4J layer does to its weights and inputs: a mutable JavaBean so that DL4J's
 * JSON mapper can write and read it (every field has a getter and a setter; the round trip of each
 * is tested). {@link #validate(String)} checks a value before a layer uses it.
 *
 * <p>Defaults: weights LSQ 8-bit per output channel, inputs LSQ 8-bit with signedness from the data, quantization and
 * observers on, moving-average constant 0.01, PACT alpha decay 2e-4 and initial alpha 10, LSQ
 * gradient scaling on.
 */
public final class QuantSettings implements Serializable, Cloneable {

    private static final long serialVersionUID = 1L;

    /** Weight quantizer. */
    private WeightQuantMode weightMode = WeightQuantMode.LSQ;
    /** Weight bits for uniform quantizers, {@link BitWidths} ({@code 2..16}; the INT8 runtime takes 2..8); ignored by BINARY/TERNARY. Default 8. */
    private int weightBits = 8;
    /** One scale per output channel (true, default) or per tensor. */
    private boolean weightPerChannel = true;
    /** Input (activation) quantizer. */
    private InputQuantMode inputMode = InputQuantMode.LSQ;
    /** Input bits, {@link BitWidths} ({@code 1..16}; the INT8 runtime takes 1..8). Default 8. */
    private int inputBits = 8;
    /**
     * Signed input codes (e.g. a normalized network input, LeakyReLU/tanh/Add outputs) or unsigned
     * (after ReLU). Default false; with {@link #inputSignFromData} on, the quantizer becomes signed
     * as soon as calibration or training data show a negative value.
     */
    private boolean inputSigned;
    /**
     * Take the input signedness from the data (default true): a plan's calibrated range with
     * {@code min < 0}, or a negative value in a training batch, makes the input quantizer signed
     * (never the reverse). False keeps {@link #inputSigned} as set; an unsigned quantizer that then
     * sees negative values clips them to 0 and logs a warning naming the layer and the minimum.
     */
    private boolean inputSignFromData = true;
    /** Fake quantization on (default) or off (the layer then equals its float DL4J twin). */
    private boolean enabled = true;
    /** Whether training batches still update the FIXED input observer (default on; turn off to freeze scales). */
    private boolean observerEnabled = true;
    /** Moving-average constant of the FIXED input observer, (0, 1]. Default 0.01. */
    private double averagingConstant = 0.01;
    /** PACT's L2 coefficient on alpha, >= 0. Default 2e-4. */
    private double pactAlphaDecay = 2e-4;
    /** PACT's initial alpha, > 0. Default 10. */
    private double pactInitAlpha = 10.0;
    /**
     * LSQ's gradient scale {@code g = 1/sqrt(N Qp)} on step/offset gradients (default on, as in the
     * paper); off gives the plain STE gradient (what a finite-difference check sees).
     */
    private boolean stepGradientScaling = true;
    /**
     * Fake-quantize the bias to the int32 grid {@code s_x s_w} the integer model stores it on
     * (default on; {@link io.qat4j.layers.impl.BiasQuantization}), so that the QAT network computes
     * what its export computes. Off keeps a float bias (the pre-0.1 behaviour).
     */
    private boolean quantizeBias = true;

    public QuantSettings() {
    }

    /** Weights and inputs at the given bits with the given modes, per-channel weights, unsigned inputs. */
    public static QuantSettings of(WeightQuantMode weightMode, int weightBits, InputQuantMode inputMode, int inputBits) {
        QuantSettings s = new QuantSettings();
        s.weightMode = weightMode;
        s.weightBits = weightBits;
        s.inputMode = inputMode;
        s.inputBits = inputBits;
        return s;
    }

    /** No quantization at all (the layer behaves as its float DL4J twin). */
    public static QuantSettings disabled() {
        QuantSettings s = new QuantSettings();
        s.enabled = false;
        return s;
    }

    /**
     * @param layerName used in messages
     * @throws IllegalArgumentException naming the layer, the field and what to change
     */
    public void validate(String layerName) {
        String where = "layer '" + layerName + "': ";
        if (weightMode == null || inputMode == null) {
            throw new IllegalArgumentException(where + "weightMode and inputMode must be set (use NONE for float)");
        }
        boolean uniformWeights = weightMode == WeightQuantMode.FIXED || weightMode == WeightQuantMode.LSQ
                || weightMode == WeightQuantMode.LSQ_PLUS;
        if (uniformWeights) {
            BitWidths.checkWeightBits(where + "weightBits of " + weightMode + " weights", weightBits, BitWidths.Target.SIMULATION);
        }
        if (inputMode != InputQuantMode.NONE) {
            BitWidths.checkInputBits(where + "inputBits", inputBits, BitWidths.Target.SIMULATION);
        }
        if (inputMode != InputQuantMode.NONE && inputSigned && inputBits < 2) {
            throw new IllegalArgumentException(where + "signed inputs need inputBits >= 2 (a 1-bit signed range holds one "
                    + "negative code and 0, or only {0, 2t} symmetric); use inputBits >= 2");
        }
        if (!(averagingConstant > 0 && averagingConstant <= 1)) {
            throw new IllegalArgumentException(where + "averagingConstant must be in (0, 1] (default 0.01), got " + averagingConstant);
        }
        if (!(pactAlphaDecay >= 0) || Double.isInfinite(pactAlphaDecay)) {
            throw new IllegalArgumentException(where + "pactAlphaDecay must be finite and >= 0, got " + pactAlphaDecay);
        }
        if (!(pactInitAlpha > 0) || Double.isInfinite(pactInitAlpha)) {
            throw new IllegalArgumentException(where + "pactInitAlpha must be finite and > 0, got " + pactInitAlpha);
        }
    }

    /** True when weights are fake-quantized in the forward pass. */
    public boolean quantizesWeights() {
        return enabled && weightMode != WeightQuantMode.NONE;
    }

    /** True when inputs are fake-quantized in the forward pass. */
    public boolean quantizesInputs() {
        return enabled && inputMode != InputQuantMode.NONE;
    }

    public WeightQuantMode getWeightMode() {
        return weightMode;
    }

    public void setWeightMode(WeightQuantMode weightMode) {
        this.weightMode = weightMode;
    }

    public int getWeightBits() {
        return weightBits;
    }

    public void setWeightBits(int weightBits) {
        this.weightBits = weightBits;
    }

    public boolean isWeightPerChannel() {
        return weightPerChannel;
    }

    public void setWeightPerChannel(boolean weightPerChannel) {
        this.weightPerChannel = weightPerChannel;
    }

    public InputQuantMode getInputMode() {
        return inputMode;
    }

    public void setInputMode(InputQuantMode inputMode) {
        this.inputMode = inputMode;
    }

    public int getInputBits() {
        return inputBits;
    }

    public void setInputBits(int inputBits) {
        this.inputBits = inputBits;
    }

    public boolean isInputSignFromData() {
        return inputSignFromData;
    }

    public void setInputSignFromData(boolean inputSignFromData) {
        this.inputSignFromData = inputSignFromData;
    }

    public boolean isInputSigned() {
        return inputSigned;
    }

    public void setInputSigned(boolean inputSigned) {
        this.inputSigned = inputSigned;
    }

    public boolean isEnabled() {
        return enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public boolean isObserverEnabled() {
        return observerEnabled;
    }

    public void setObserverEnabled(boolean observerEnabled) {
        this.observerEnabled = observerEnabled;
    }

    public double getAveragingConstant() {
        return averagingConstant;
    }

    public void setAveragingConstant(double averagingConstant) {
        this.averagingConstant = averagingConstant;
    }

    public double getPactAlphaDecay() {
        return pactAlphaDecay;
    }

    public void setPactAlphaDecay(double pactAlphaDecay) {
        this.pactAlphaDecay = pactAlphaDecay;
    }

    public double getPactInitAlpha() {
        return pactInitAlpha;
    }

    public void setPactInitAlpha(double pactInitAlpha) {
        this.pactInitAlpha = pactInitAlpha;
    }

    public boolean isQuantizeBias() {
        return quantizeBias;
    }

    public void setQuantizeBias(boolean quantizeBias) {
        this.quantizeBias = quantizeBias;
    }

    public boolean isStepGradientScaling() {
        return stepGradientScaling;
    }

    public void setStepGradientScaling(boolean stepGradientScaling) {
        this.stepGradientScaling = stepGradientScaling;
    }

    @Override
    public QuantSettings clone() {
        try {
            return (QuantSettings) super.clone();
        } catch (CloneNotSupportedException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantSettings q && weightMode == q.weightMode && weightBits == q.weightBits
                && weightPerChannel == q.weightPerChannel && inputMode == q.inputMode && inputBits == q.inputBits
                && inputSigned == q.inputSigned && inputSignFromData == q.inputSignFromData && enabled == q.enabled && observerEnabled == q.observerEnabled
                && averagingConstant == q.averagingConstant && pactAlphaDecay == q.pactAlphaDecay && pactInitAlpha == q.pactInitAlpha
                && stepGradientScaling == q.stepGradientScaling && quantizeBias == q.quantizeBias;
    }

    @Override
    public int hashCode() {
        return Objects.hash(weightMode, weightBits, weightPerChannel, inputMode, inputBits, inputSigned, inputSignFromData, enabled, observerEnabled,
                averagingConstant, pactAlphaDecay, pactInitAlpha, stepGradientScaling, quantizeBias);
    }

    @Override
    public String toString() {
        return "QuantSettings{weights=" + weightMode + "/" + weightBits + (weightPerChannel ? "/per-channel" : "/per-tensor")
                + ", inputs=" + inputMode + "/" + inputBits + (inputSigned ? "/signed" : "/unsigned") + (inputSignFromData ? "(from data)" : "") + ", enabled=" + enabled
                + ", observers=" + observerEnabled + "}";
    }
}
