package io.qat4j.layers.impl;

import java.util.Map;

import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.params.QuantizerParams;

/**
 * The input and weight quantizers of one quantized layer instance (each layer implementation holds
 * one): fake-quantizing the input and the weights on the way in (through {@link InputQuantization}
 * and {@link WeightQuantization}), turning the gradients of the quantized tensors into gradients of
 * the latent ones on the way back (straight-through estimator), and keeping all quantizer gradients
 * in the layer's gradient views (DL4J only trains what is written there). It keeps the per-batch
 * state the backward pass needs (the raw input, the quantized weights of the batch). Temporary arrays
 * live in whatever workspace DL4J has open; results handed back to DL4J are copied into the
 * workspace DL4J expects.
 */
final class LayerQuantizers {

    /** The input DL4J gave the layer, kept for the input quantizer's backward pass. */
    private INDArray rawInput;
    /** The quantized input the layer computed with. */
    private INDArray quantizedInput;
    /** Quantized weights of the current training batch, the input they were computed for, and the weights' checksum. */
    private INDArray cachedWeights;
    private INDArray cachedFor;
    private double cachedChecksum;
    /** The layer's name, for messages (set by every entry point). */
    private String layer = "?";
    /** Floor of the learned input step or alpha from the last training batch (NaN before one). */
    private double inputFloor = Double.NaN;

    /**
     * The input the layer should compute with: {@code input} itself, or its fake-quantized copy.
     * Idempotent: given its own previous output back, it returns it unchanged. The result is placed
     * in DL4J's INPUT workspace, where DL4J expects a layer's input.
     */
    INDArray quantizeInput(QuantSettings s, INDArray input, boolean training, Map<String, INDArray> params, String layer,
                           LayerWorkspaceMgr workspaceMgr) {
        this.layer = layer;
        if (!s.quantizesInputs()) {
            InputQuantization.observeIfCalibrating(s, input, params, layer);
            rawInput = null;
            quantizedInput = null;
            return input;
        }
        if (input == quantizedInput) {
            return input;
        }
        rawInput = input;
        // MultiLayerNetwork validates that a layer's input lives in its INPUT workspace when one is open;
        // ComputationGraph may have none open at this point, and then a detached array is what it expects
        boolean inputWorkspaceOpen = !workspaceMgr.isScopedOut(ArrayType.INPUT) && workspaceMgr.hasConfiguration(ArrayType.INPUT)
                && workspaceMgr.isWorkspaceOpen(ArrayType.INPUT);
        if (inputWorkspaceOpen) {
            quantizedInput = workspaceMgr.dup(ArrayType.INPUT, InputQuantization.forward(s, input, training, params, layer,
                    f -> inputFloor = f));
        } else {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                quantizedInput = InputQuantization.forward(s, input, training, params, layer, f -> inputFloor = f);
            }
        }
        return quantizedInput;
    }

    /**
     * The fake-quantized weights, or {@code w} when weights are not quantized. In training the
     * result is kept (outside workspaces) for reuse by the backward pass of the same batch: the
     * cache is keyed by the layer input's identity and a checksum of the latent weights and quantizer
     * parameters, so perturbed or updated weights are always re-quantized.
     */
    INDArray quantizeWeights(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params, boolean training, INDArray input,
                             String layer) {
        this.layer = layer;
        if (!s.quantizesWeights()) {
            return w;
        }
        if (!training) {
            return WeightQuantization.forward(s, w, outAxis, params, layer, false);
        }
        double checksum = checksum(w, params);
        if (cachedWeights != null && cachedFor == input && cachedChecksum == checksum) {
            return cachedWeights;
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            cachedWeights = WeightQuantization.forward(s, w, outAxis, params, layer, true);
        }
        cachedFor = input;
        cachedChecksum = checksum;
        return cachedWeights;
    }

    /**
     * A dense/output layer's parameter as its forward pass uses it: weights fake-quantized
     * ({@link #quantizeWeights}, output axis 1), the bias on the int32 grid {@code s_x s_w}
     * ({@link BiasQuantization}), anything else unchanged.
     */
    INDArray quantizeDenseParam(QuantSettings s, String param, INDArray p, Map<String, INDArray> params, boolean training, INDArray input,
                                String layer) {
        if (org.deeplearning4j.nn.params.DefaultParamInitializer.WEIGHT_KEY.equals(param)) {
            return quantizeWeights(s, p, 1, params, training, input, layer);
        }
        if (org.deeplearning4j.nn.params.DefaultParamInitializer.BIAS_KEY.equals(param)) {
            return BiasQuantization.forward(s, p, params.get(org.deeplearning4j.nn.params.DefaultParamInitializer.WEIGHT_KEY), 1, params,
                    layer, training);
        }
        return p;
    }

    private static double checksum(INDArray w, Map<String, INDArray> params) {
        double c = w.sumNumber().doubleValue() + 31 * w.norm2Number().doubleValue();
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            if (QuantizerParams.isQuantizerParam(e.getKey())) {
                c = 31 * c + e.getValue().sumNumber().doubleValue();
            }
        }
        return c;
    }

    /**
     * Finishes a backward pass whose weight gradient view holds dL/dW^ and whose epsilon is dL/dx^:
     * applies the weight and input quantizers' backward passes, zeroes the gradients of quantizer state,
     * and returns the gradient (every parameter, in layout order) and dL/dx in the ACTIVATION_GRAD workspace.
     */
    org.nd4j.common.primitives.Pair<Gradient, INDArray> finishBackprop(QuantSettings s, Map<String, INDArray> params,
                                                                        Map<String, INDArray> gradViews, String weightKey, int outAxis,
                                                                        INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        return finishBackprop(s, params, gradViews, weightKey, outAxis, epsilon, workspaceMgr, true);
    }

    /**
     * As above; {@code zeroQuantizerGradients} false when the caller already wrote the weight
     * quantizer's gradients (only the input quantizer's state is then zeroed here).
     */
    org.nd4j.common.primitives.Pair<Gradient, INDArray> finishBackprop(QuantSettings s, Map<String, INDArray> params,
                                                                        Map<String, INDArray> gradViews, String weightKey, int outAxis,
                                                                        INDArray epsilon, LayerWorkspaceMgr workspaceMgr,
                                                                        boolean zeroQuantizerGradients) {
        return finishBackprop(s, params, gradViews, weightKey, outAxis, epsilon, workspaceMgr, zeroQuantizerGradients
                ? java.util.Set.of() : java.util.Set.of(QuantizerParams.WEIGHT_STEP_KEY, QuantizerParams.WEIGHT_OFFSET_KEY));
    }

    /**
     * As above; the gradients of the quantizer parameters in {@code written} were already written by
     * the caller and are kept, every other quantizer gradient is zeroed before the weight and input
     * quantizers' backward passes write theirs.
     */
    org.nd4j.common.primitives.Pair<Gradient, INDArray> finishBackprop(QuantSettings s, Map<String, INDArray> params,
                                                                        Map<String, INDArray> gradViews, String weightKey, int outAxis,
                                                                        INDArray epsilon, LayerWorkspaceMgr workspaceMgr,
                                                                        java.util.Set<String> written) {
        INDArray eps = epsilon;
        for (String key : gradViews.keySet()) {
            if (QuantizerParams.isQuantizerParam(key) && !written.contains(key)) {
                gradViews.get(key).assign(0);
            }
        }
        if (s.quantizesWeights() && weightKey != null) {
            WeightQuantization.backward(s, params.get(weightKey), outAxis, params, gradViews.get(weightKey), gradViews, layer);
        }
        if (s.quantizesInputs() && rawInput != null && eps != null) {
            eps = InputQuantization.backward(s, rawInput, eps, params, gradViews, layer);
        }
        if (eps != epsilon) {
            eps = workspaceMgr.dup(ArrayType.ACTIVATION_GRAD, eps);
        }
        cachedWeights = null;
        cachedFor = null;
        Gradient g = new DefaultGradient();
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            g.gradientForVariable().put(e.getKey(), gradViews.get(e.getKey()));
        }
        return new org.nd4j.common.primitives.Pair<>(g, eps);
    }

    /**
     * Keeps the learned quantizer parameters at or above their floors after an optimizer update
     * (DL4J calls {@code applyConstraints} after every update): the input step or alpha against the
     * last training batch's floor, the weight steps against the floor of the weights they quantize.
     *
     * @param weights the weights the layer quantizes (folded ones for conv+BN), or null for none
     */
    void applyQuantizerConstraints(QuantSettings s, Map<String, INDArray> params, INDArray weights, int outAxis) {
        InputQuantization.project(s, params, inputFloor, layer);
        if (weights != null && s.quantizesWeights() && params.containsKey(QuantizerParams.WEIGHT_STEP_KEY)) {
            WeightQuantization.steps(s, weights, outAxis, params, layer, true);
        }
    }

    /** Records the floor of an input quantizer run outside {@link #quantizeInput} (activation-quantizer layers). */
    void rememberInputFloor(double floor) {
        inputFloor = floor;
    }

    /** A layer's name for messages: its configured name, else {@code layer<index>} as {@code QuantizedModel.wrap} names it. */
    static String name(org.deeplearning4j.nn.api.Layer layer) {
        String n = layer.conf().getLayer().getLayerName();
        return n != null ? n : "layer" + layer.getIndex();
    }

    /** For layers whose forward does not go through {@link #quantizeInput}: the input to differentiate at. */
    void rememberRawInput(INDArray input, String layer) {
        rawInput = input;
        this.layer = layer;
    }

    void clear() {
        rawInput = null;
        quantizedInput = null;
        cachedWeights = null;
        cachedFor = null;
    }
}
