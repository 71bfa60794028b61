package io.qat4j.layers;

/**
 * A learned quantizer parameter (LSQ/LSQ+ step, PACT clipping level) is NaN, infinite or at or
 * below zero where the network runs without training (inference, export, evaluation): the
 * training diverged or the parameter was set to an impossible value. The message names the layer,
 * the parameter key and index, the value and what to do. Training never leaves a step below its
 * floor (it projects it back, see {@link io.qat4j.layers.impl.InputQuantization#STEP_FLOOR_FRACTION}),
 * so this means an update after the last training forward, a hand edit, or a NaN.
 */
public final class QuantizerCollapsedException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final String layer;
    private final String parameter;

    public QuantizerCollapsedException(String layer, String parameter, int index, double value) {
        super("layer '" + layer + "': quantizer parameter " + parameter + "[" + index + "] = " + value
                + (Double.isNaN(value) ? " (NaN: the training diverged; lower the learning rate and resume from an earlier checkpoint)"
                : " must be finite and > 0: the learned step or clipping level has collapsed; lower the learning rate of the "
                + "quantizer parameters, resume from an earlier checkpoint, or re-initialize the quantizer from data "
                + "(QuantizedModel.wrap with a calibrated plan)"));
        this.layer = layer;
        this.parameter = parameter;
    }

    /** The layer's name. */
    public String layer() {
        return layer;
    }

    /** The parameter key ({@code Ws}, {@code Xs}, {@code Xa}, ...). */
    public String parameter() {
        return parameter;
    }
}
