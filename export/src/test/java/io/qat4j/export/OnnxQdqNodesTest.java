package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.TableFunction;

/**
 * The ONNX QDQ mapping of the runtime's version-3 nodes, one node per graph, run in ONNX Runtime against the
 * qat4j runtime on inputs that are exact codes (so that input quantization ties cannot differ): code copies
 * (Pad, Slice, Resize) give the same codes; the requantizing nodes stay within one output step (ONNX rounds
 * float32 values half to even where the runtime applies Q31 multipliers); the float logits of a DenseLogits
 * layer agree to float precision.
 */
class OnnxQdqNodesTest {

    @TempDir
    Path dir;

    private static final int N = 6;

    /** ORT's output for {@code x}, flattened. */
    private static float[] ort(Path model, float[] x, long[] shape) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model.toString(), opts);
                 OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
                 OrtSession.Result r = session.run(Map.of("input", in))) {
                FloatBuffer y = ((OnnxTensor) r.get(0)).getFloatBuffer();
                float[] out = new float[y.remaining()];
                y.get(out);
                return out;
            }
        }
    }

    /**
     * Exports {@code g} (weight scales per node) as QDQ, runs both on {@code N} samples of random exact input codes and
     * returns the largest difference in output steps ({@code step}).
     */
    private double maxSteps(String what, Int8Graph g, List<double[]> weightScales, double step, SplittableRandom r) throws Exception {
        Path file = dir.resolve(what + ".onnx");
        OnnxExporter.write(OnnxExporter.qdq(new Int8Exporter.Result(g, List.of(), weightScales)), file);
        Int8Graph.Tensor in = g.tensors().get(g.input());
        float[] x = new float[N * (int) in.elements()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (in.scale() * (r.nextInt(-128, 128) - in.zeroPoint()));
        }
        long[] shape = new long[in.dims().length + 1];
        shape[0] = N;
        for (int d = 0; d < in.dims().length; d++) {
            shape[d + 1] = in.dims()[d];
        }
        float[] onnx = ort(file, x, shape);
        float[] rt = new Int8Model(g).run(x, N);
        assertEquals(rt.length, onnx.length, what);
        double max = 0;
        int differing = 0;
        for (int i = 0; i < rt.length; i++) {
            double d = Math.abs(onnx[i] - rt[i]) / step;
            max = Math.max(max, d);
            differing += d > 1e-3 ? 1 : 0;
        }
        System.out.printf("ONNX QDQ %s vs qat4j runtime: %d of %d outputs differ, at most %.3f output steps%n", what, differing, rt.length,
                max);
        return max;
    }

    private static List<double[]> none(int nodes) {
        return new ArrayList<>(java.util.Collections.nCopies(nodes, (double[]) null));
    }

    private static Int8Graph single(Int8Graph.Tensor in, Int8Graph.Tensor out, Int8Graph.Node node) {
        return new Int8Graph(List.of(in, out), List.of(node), 0, 1, FixedPoint.Rounding.SINGLE);
    }

    @Test
    void copiesGiveTheSameCodes() throws Exception {
        SplittableRandom r = new SplittableRandom(1);
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {3, 5, 4}, 0.05, -9);
        // the same codes: only the float32 dequantization of the output differs (a code apart would be a whole step)
        assertTrue(1e-3 > maxSteps("pad", single(in, new Int8Graph.Tensor(new int[] {3, 8, 6}, 0.05, -9), new Int8Graph.ZeroPad(0, 1, 1, 2, 2, 0)),
                none(1), 0.05, r));
        assertTrue(1e-3 > maxSteps("crop", single(in, new Int8Graph.Tensor(new int[] {3, 2, 1}, 0.05, -9), new Int8Graph.Crop(0, 1, 1, 2, 2, 1)),
                none(1), 0.05, r));
        assertTrue(1e-3 > maxSteps("upsample", single(in, new Int8Graph.Tensor(new int[] {3, 15, 8}, 0.05, -9),
                new Int8Graph.UpsampleNearest(0, 1, 3, 2)), none(1), 0.05, r));
    }

    @Test
    void requantizingNodesStayWithinOneOutputStep() throws Exception {
        SplittableRandom r = new SplittableRandom(2);
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {4, 6, 5}, 0.04, 7);
        Int8Graph.Tensor pooled = new Int8Graph.Tensor(new int[] {4, 6, 5}, 0.03, -11);
        for (boolean includePad : new boolean[] {false, true}) {
            Int8Graph.Window w = Int8Graph.Window.pool(3, 3, 1, 1, 1, 1, 1, 1);
            assertTrue(maxSteps("avgpool-pad" + includePad, single(in, pooled, Int8Graph.AvgPoolRequant.of(0, 1, w, includePad, in, pooled, -128,
                    127)), none(1), pooled.scale(), r) <= 1);
        }
        Int8Graph.Tensor global = new Int8Graph.Tensor(new int[] {4, 1, 1}, 0.01, 3);
        assertTrue(maxSteps("global-avgpool", single(in, global, Int8Graph.AvgPoolRequant.of(0, 1, Int8Graph.Window.pool(6, 5, 1, 1, 0, 0, 0, 0),
                false, in, global, -128, 127)), none(1), global.scale(), r) <= 1);
        Int8Graph.Tensor leaky = new Int8Graph.Tensor(new int[] {4, 6, 5}, 0.035, -40);
        assertTrue(maxSteps("leakyrelu", single(in, leaky, Int8Graph.LeakyRelu.of(0, 1, in, leaky, 0.1, -128, 127)), none(1), leaky.scale(), r)
                <= 1);
        for (TableFunction f : TableFunction.values()) {
            if (f == TableFunction.CUSTOM) {
                continue;
            }
            Int8Graph.Tensor t = new Int8Graph.Tensor(new int[] {4, 6, 5}, 1.0 / 64, -20);
            assertTrue(maxSteps("table-" + f, single(in, t, Int8Graph.LookupTable.of(0, 1, in, t, f, f.parameter() ? 0.8 : 0,
                    FixedPoint.Rounding.SINGLE)), none(1), t.scale(), r) <= 1, f.name());
        }
        // concat of the input with a requantized copy of itself, at a third scale
        Int8Graph.Tensor b = new Int8Graph.Tensor(new int[] {4, 6, 5}, 0.09, 30);
        Int8Graph.Tensor cat = new Int8Graph.Tensor(new int[] {8, 6, 5}, 0.05, 0);
        Int8Graph g = new Int8Graph(List.of(in, b, cat), List.of(Int8Graph.Requantize.of(0, 1, in, b, -128, 127),
                Int8Graph.Concat.of(new int[] {0, 1}, 2, List.of(in, b), cat)), 0, 2, FixedPoint.Rounding.SINGLE);
        assertTrue(maxSteps("concat", g, none(2), cat.scale(), r) <= 1);
    }

    @Test
    void depthwiseConvolutionIsAGroupedConv() throws Exception {
        SplittableRandom r = new SplittableRandom(3);
        int inC = 3;
        int dm = 2;
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {inC, 7, 6}, 0.04, 7);
        Int8Graph.Window w = new Int8Graph.Window(3, 3, 2, 1, 1, 1, 1, 1, 1, 1);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {inC * dm, w.outputH(7), w.outputW(6)}, 0.06, -5);
        double[] ws = new double[inC * dm];
        int[] m = new int[ws.length];
        int[] s = new int[ws.length];
        byte[] codes = new byte[ws.length * 9];
        int[] bias = new int[ws.length];
        for (int c = 0; c < ws.length; c++) {
            ws[c] = 0.002 + r.nextDouble() * 0.01;
            FixedPoint.QuantizedMultiplier q = FixedPoint.quantizeMultiplier(in.scale() * ws[c] / out.scale());
            m[c] = q.multiplier();
            s[c] = q.shift();
            bias[c] = r.nextInt(-2000, 2000);
            for (int k = 0; k < 9; k++) {
                codes[c * 9 + k] = (byte) r.nextInt(-127, 128);
            }
        }
        Int8Graph g = single(in, out, new Int8Graph.DepthwiseConv2D(0, 1, inC, dm, w, 8, codes, bias, new Int8Graph.Requant(m, s, -5, 127)));
        List<double[]> scales = none(1);
        scales.set(0, ws);
        assertTrue(maxSteps("depthwise", g, scales, out.scale(), r) <= 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxExporter.qdq(new Int8Exporter.Result(g, List.of(),
                none(1))));
        assertTrue(e.getMessage().contains("node 0 (n0): the export result holds no weight scales"), e.getMessage());
    }

    @Test
    void denseLogitsAreTheFloatGemmOutput() throws Exception {
        SplittableRandom r = new SplittableRandom(4);
        int inF = 40;
        int outF = 7;
        Int8Graph.Tensor in = new Int8Graph.Tensor(new int[] {inF}, 0.05, -3);
        Int8Graph.Tensor logits = new Int8Graph.Tensor(new int[] {outF}, 1, 0);
        double[] scale = new double[outF];
        byte[] codes = new byte[outF * inF];
        for (int c = 0; c < outF; c++) {
            scale[c] = in.scale() * (0.002 + r.nextDouble() * 0.01);
        }
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) r.nextInt(-127, 128);
        }
        Int8Graph g = single(in, logits, new Int8Graph.DenseLogits(0, 1, outF, inF, 8, codes, new int[] {5, -70, 0, 300, 12, -9, 1}, scale));
        // a float32 Gemm over 40 products of exact codes: the logits agree to float precision (steps of 1e-5 here)
        assertTrue(maxSteps("dense-logits", g, none(1), 1e-5, r) <= 10, "logits within 1e-4 of the runtime's");
        assertTrue(OnnxExporter.qdq(new Int8Exporter.Result(g, List.of(), none(1))).getGraph().getNodeList().stream()
                .anyMatch(n -> n.getOpType().equals("Gemm") && n.getOutput(0).equals("logits")), "the Gemm writes the logits, unquantized");
    }

    @Test
    void aCustomTableHasNoOnnxOperator() {
        Int8Graph.Tensor t = new Int8Graph.Tensor(new int[] {4}, 0.1, 0);
        Int8Graph g = single(t, t, Int8Graph.LookupTable.of(0, 1, t, t, x -> x * x, TableFunction.CUSTOM, 0, FixedPoint.Rounding.SINGLE));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxExporter.qdq(new Int8Exporter.Result(g, List.of(),
                none(1))));
        assertTrue(e.getMessage().contains("node 0 (LookupTable): its table holds a custom function, which has no ONNX operator"), e.getMessage());
    }
}
