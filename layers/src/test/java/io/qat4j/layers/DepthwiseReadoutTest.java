package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl;
import io.qat4j.layers.params.QuantizedSeparableConvolutionParamInitializer;
import io.qat4j.layers.params.QuantizerParams;

/**
 * {@link QuantizerReadout}'s depthwise, pointwise and mid read-outs: codes in the documented
 * layouts, codes times scales equal to the reference fake-quantized weights the layer computes
 * with, the mid quantizer's grid, and no change to the layer.
 */
class DepthwiseReadoutTest {

    private static final DepthwiseNets.Variant V = new DepthwiseNets.Variant(1, 1, 1, ConvolutionMode.Truncate, true, 2);
    private static final int C = DepthwiseNets.CHANNELS;
    private static final int MULT = 2;
    /** The separable layer's input channels: the depthwise layer's output. */
    private static final int SEP_IN = C * MULT;

    private static MultiLayerNetwork net(QuantSettings s) {
        return DepthwiseNets.mln(i -> i < 2 ? s : null, V, DataType.DOUBLE, new NoOp(), Activation.RELU);
    }

    /** Codes (any shape) times their channel's scale, flattened in C order; channel = index / perChannel. */
    private static double[] dequantized(QuantizerReadout.WeightCodes w) {
        double[] codes = w.codes().dup('c').castTo(DataType.DOUBLE).data().asDouble();
        int perChannel = codes.length / (w.scales().length == 1 ? 1 : w.scales().length);
        double[] out = new double[codes.length];
        for (int i = 0; i < codes.length; i++) {
            out[i] = codes[i] * w.scales()[w.scales().length == 1 ? 0 : i / perChannel];
        }
        return out;
    }

    private static void assertIntegerCodesWithin(QuantizerReadout.WeightCodes w, int limit, String what) {
        for (double c : w.codes().dup('c').castTo(DataType.DOUBLE).data().asDouble()) {
            assertTrue(c == Math.rint(c) && Math.abs(c) <= limit, what + ": code " + c);
        }
    }

    private static void assertClose(double[] expected, double[] got, String what) {
        assertEquals(expected.length, got.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], got[i], 1e-12, what + " element " + i);
        }
    }

    @Test
    void depthwiseCodesAreChannelsFirstAndDequantizeToTheLayersWeights() {
        QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4);
        MultiLayerNetwork n = net(s);
        org.deeplearning4j.nn.api.Layer dw = n.getLayer(0);
        INDArray before = dw.params().dup();
        INDArray w = dw.getParam("W");   // [3, 3, C, mult]
        double[] loops = new double[C * MULT * 9];
        for (int c = 0; c < C; c++) {
            for (int m = 0; m < MULT; m++) {
                for (int a = 0; a < 3; a++) {
                    for (int b = 0; b < 3; b++) {
                        loops[((c * MULT + m) * 3 + a) * 3 + b] = w.getDouble(a, b, c, m);
                    }
                }
            }
        }
        INDArray channelsFirst = QuantizerReadout.depthwiseWeights(dw, "layer0");
        assertArrayEquals(new long[] {C * MULT, 3, 3}, channelsFirst.shape());
        assertClose(loops, channelsFirst.data().asDouble(), "depthwise weights, channel c mult + m");
        assertEquals(MULT, QuantizerReadout.depthMultiplier(dw, "layer0"));

        QuantizerReadout.WeightCodes codes = QuantizerReadout.depthwiseWeightCodes(dw, "layer0");
        assertArrayEquals(new long[] {C * MULT, 3, 3}, codes.codes().shape());
        assertEquals(4, codes.bits());
        assertArrayEquals(dw.getParam(QuantizerParams.WEIGHT_STEP_KEY).dup().data().asDouble(), codes.scales(), "LSQ steps per channel o");
        assertIntegerCodesWithin(codes, 7, "depthwise");
        double[] reference = QuantizedForwardReferenceTest.referenceWeights(s, Nd4j.createFromArray(loops).reshape('c', C * MULT, 3, 3), 0,
                dw.paramTable());
        assertClose(reference, dequantized(codes), "depthwise codes x scales");
        assertEquals(dw.getParam("b"), QuantizerReadout.bias(dw));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantizerReadout.weights(dw));
        assertTrue(e.getMessage().contains("depthwiseWeightCodes"), e.getMessage());
        assertEquals(before, dw.params(), "the read-out changes nothing");
        assertThrows(IllegalArgumentException.class, () -> QuantizerReadout.depthwiseWeightCodes(n.getLayer(2), "layer2"));
        assertThrows(IllegalArgumentException.class, () -> QuantizerReadout.pointwiseWeightCodes(dw, "layer0"));
    }

    @Test
    void separableCodesAndTheMidGridMatchWhatTheLayerComputes() {
        QuantSettings s = QuantSettings.of(WeightQuantMode.FIXED, 5, InputQuantMode.LSQ, 6);
        MultiLayerNetwork n = net(s);
        org.deeplearning4j.nn.api.Layer sep = n.getLayer(1);
        assertFalse(QuantizerReadout.midInputObserved(sep, "layer1"), "no data, no range");
        ((QuantizedSeparableConvolutionImpl) sep).setMidRange(-0.5, 1.5);
        assertTrue(QuantizerReadout.midInputObserved(sep, "layer1"));
        INDArray before = sep.params().dup();

        // depthwise part: W [mult, C, 3, 3] -> rows c mult + m
        INDArray w = sep.getParam("W");
        double[] loops = new double[SEP_IN * MULT * 9];
        for (int m = 0; m < MULT; m++) {
            for (int c = 0; c < SEP_IN; c++) {
                for (int a = 0; a < 3; a++) {
                    for (int b = 0; b < 3; b++) {
                        loops[((c * MULT + m) * 3 + a) * 3 + b] = w.getDouble(m, c, a, b);
                    }
                }
            }
        }
        QuantizerReadout.WeightCodes dwCodes = QuantizerReadout.depthwiseWeightCodes(sep, "layer1");
        assertArrayEquals(new long[] {SEP_IN * MULT, 3, 3}, dwCodes.codes().shape());
        assertIntegerCodesWithin(dwCodes, 15, "separable depthwise");
        assertClose(QuantizedForwardReferenceTest.referenceWeights(s, Nd4j.createFromArray(loops).reshape('c', SEP_IN * MULT, 3, 3), 0,
                sep.paramTable()), dequantized(dwCodes), "separable depthwise codes x scales");

        // pointwise part: [nOut, C mult]
        QuantizerReadout.WeightCodes pwCodes = QuantizerReadout.pointwiseWeightCodes(sep, "layer1");
        assertArrayEquals(new long[] {4, SEP_IN * MULT}, pwCodes.codes().shape());
        assertEquals(4, pwCodes.scales().length);
        assertIntegerCodesWithin(pwCodes, 15, "pointwise");
        INDArray pw = sep.getParam("pW");
        assertClose(QuantizedForwardReferenceTest.referenceWeights(s, pw, 0, Map.of()), dequantized(pwCodes), "pointwise codes x scales");
        assertClose(pw.dup('c').data().asDouble(), QuantizerReadout.pointwiseWeights(sep, "layer1").dup('c').data().asDouble(),
                "pointwise weights [nOut, C mult]");

        // mid grid: LSQ, signed from the range below 0: step from the range, zero point 0, [-32, 31] at 6 bits
        QuantizerReadout.InputGrid grid = QuantizerReadout.midInputGrid(sep, "layer1");
        assertEquals(sep.getParam(QuantizedSeparableConvolutionParamInitializer.MID_INPUT_STEP_KEY).getDouble(0), grid.scale());
        assertEquals(0, grid.zeroPoint());
        assertEquals(-32, grid.qmin());
        assertEquals(31, grid.qmax());
        // the input quantizer has not seen data and stays unsigned: its own grid is not the mid one
        assertFalse(QuantizerReadout.inputObserved(sep));
        assertEquals(before, sep.params(), "the read-out changes nothing");
    }

    @Test
    void pointwiseCodesUseThePointwiseLsqSteps() {
        QuantSettings s = QuantSettings.of(WeightQuantMode.LSQ, 3, InputQuantMode.LSQ, 8);
        MultiLayerNetwork n = net(s);
        org.deeplearning4j.nn.api.Layer sep = n.getLayer(1);
        QuantizerReadout.WeightCodes pwCodes = QuantizerReadout.pointwiseWeightCodes(sep, "layer1");
        assertArrayEquals(sep.getParam(QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_STEP_KEY).dup().data().asDouble(),
                pwCodes.scales());
        Map<String, INDArray> pointwise = new LinkedHashMap<>();
        pointwise.put(QuantizerParams.WEIGHT_STEP_KEY, sep.getParam(QuantizedSeparableConvolutionParamInitializer.POINTWISE_WEIGHT_STEP_KEY));
        assertClose(QuantizedForwardReferenceTest.referenceWeights(s, sep.getParam("pW"), 0, pointwise), dequantized(pwCodes),
                "pointwise LSQ codes x steps");
        assertEquals(SEP_IN * MULT, QuantizerReadout.depthwiseWeightCodes(sep, "layer1").scales().length, "depthwise steps: one per channel");
    }
}
