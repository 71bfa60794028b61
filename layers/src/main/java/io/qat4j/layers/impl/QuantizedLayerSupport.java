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
 * The part every quantized layer shares: fake-quantizing the input on the way in, turning the
 * gradients of the quantized tensors into gradients of the latent ones on the way back, and
 * keeping all quantizer gradients in the layer's gradient views (DL4J only trains what is written
 * there). Quantizer arithmetic runs outside DL4J's workspaces; results handed back to DL4J are
 * copied into the workspace DL4J expects.
 */
final class QuantizedLayerSupport {

    /** The input DL4J gave the layer, kept for the input quantizer's backward pass. */
    private INDArray rawInput;
    /** The quantized input the layer computed with (detached from workspaces). */
    private INDArray quantizedInput;

    /**
     * The input the layer should compute with: {@code input} itself, or its fake-quantized copy.
     * Idempotent: given its own previous output back, it returns it unchanged. The result is placed
     * in DL4J's INPUT workspace, where DL4J expects a layer's input.
     */
    INDArray quantizeInput(QuantSettings s, INDArray input, boolean training, Map<String, INDArray> params, String layer,
                           LayerWorkspaceMgr workspaceMgr) {
        if (!s.quantizesInputs()) {
            rawInput = null;
            quantizedInput = null;
            return input;
        }
        if (input == quantizedInput) {
            return input;
        }
        rawInput = input;
        INDArray q;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            q = InputQuantization.forward(s, input, training, params, layer);
        }
        // MultiLayerNetwork validates that a layer's input lives in its INPUT workspace when one is open;
        // ComputationGraph may have none open at this point, and then a detached array is what it expects
        boolean inputWorkspaceOpen = !workspaceMgr.isScopedOut(ArrayType.INPUT) && workspaceMgr.hasConfiguration(ArrayType.INPUT)
                && workspaceMgr.isWorkspaceOpen(ArrayType.INPUT);
        quantizedInput = inputWorkspaceOpen ? workspaceMgr.dup(ArrayType.INPUT, q) : q;
        return quantizedInput;
    }

    /** The fake-quantized weights (detached), or {@code w} when weights are not quantized. */
    static INDArray quantizeWeights(QuantSettings s, INDArray w, int outAxis, Map<String, INDArray> params) {
        if (!s.quantizesWeights()) {
            return w;
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return WeightQuantization.forward(s, w, outAxis, params);
        }
    }

    /**
     * Finishes a backward pass whose weight gradient view holds dL/dW^ and whose epsilon is dL/dx^:
     * applies the weight and input quantizers' backward passes, zeroes the gradients of quantizer state,
     * and returns the gradient (every parameter, in layout order) and dL/dx in the ACTIVATION_GRAD workspace.
     */
    org.nd4j.common.primitives.Pair<Gradient, INDArray> finishBackprop(QuantSettings s, Map<String, INDArray> params,
                                                                        Map<String, INDArray> gradViews, String weightKey, int outAxis,
                                                                        INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        INDArray eps = epsilon;
        for (String key : gradViews.keySet()) {
            if (QuantizerParams.isQuantizerParam(key)) {
                gradViews.get(key).assign(0);
            }
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            if (s.quantizesWeights() && weightKey != null) {
                WeightQuantization.backward(s, params.get(weightKey), outAxis, params, gradViews.get(weightKey), gradViews);
            }
            if (s.quantizesInputs() && rawInput != null && eps != null) {
                eps = InputQuantization.backward(s, rawInput, eps, params, gradViews);
            }
        }
        if (eps != epsilon) {
            eps = workspaceMgr.dup(ArrayType.ACTIVATION_GRAD, eps);
        }
        Gradient g = new DefaultGradient();
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            g.gradientForVariable().put(e.getKey(), gradViews.get(e.getKey()));
        }
        return new org.nd4j.common.primitives.Pair<>(g, eps);
    }

    /** For layers whose forward does not go through {@link #quantizeInput}: the input to differentiate at. */
    void rememberRawInput(INDArray input) {
        rawInput = input;
    }

    void clear() {
        rawInput = null;
        quantizedInput = null;
    }
}
