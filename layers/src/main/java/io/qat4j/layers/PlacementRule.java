package io.qat4j.layers;

/**
 * Why {@link QuantizedModel#wrap} placed an {@link io.qat4j.layers.conf.ActivationQuantizerLayer}
 * on a tensor (graph-mode preparation, as PyTorch FX/PT2E {@code prepare}; DESIGN.md "Graph-mode
 * preparation"). Each rule names what the integer model (TFLite semantics) needs at that point;
 * one quantizer may be placed for several rules at once.
 */
public enum PlacementRule {
    /**
     * (a) An input of an elementwise Add: the integer add reads two int8 tensors and rescales both
     * to its output scale, so each input must already be quantized.
     */
    ADD_INPUT,
    /**
     * (a) An input of a MergeVertex (channel concat) that is read elsewhere too: the concat
     * requantizes its inputs to its output scale, which a tensor with other readers cannot take
     * as its own. An input read by the concat alone takes the concat's output quantizer instead.
     */
    CONCAT_INPUT,
    /**
     * (b) One observer per tensor: a tensor (a vertex output, after ops that pass quantized values
     * through) that several readers would quantize gets one shared quantizer; the weighted layers
     * among those readers requantize its codes with their own input quantizer
     * ({@link InsertedQuantizer#requantizedBy}).
     */
    SHARED_TENSOR,
    /**
     * (c) The input of average pooling: the integer pool sums input codes and requantizes once to
     * its consumer's scale, so it reads an int8 tensor.
     */
    AVERAGE_POOL_INPUT,
    /**
     * (d) The input of an activation that is not fused into a clamp: LeakyReLU (two multipliers)
     * and sigmoid, tanh, ELU, hard sigmoid, swish (256-entry lookup tables indexed by the input code).
     */
    ACTIVATION_INPUT,
    /**
     * (e) The network output when its last operation is not a quantized dense/output layer (whose
     * int32 accumulators the integer model dequantizes): the logits, before a softmax applied
     * outside the integer graph.
     */
    NETWORK_OUTPUT
}
