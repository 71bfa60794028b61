package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizerReadout;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;

/**
 * Per-layer error analysis of a quantized network against its float original (issue 18; the
 * questions AIMET's QuantAnalyzer and the TFLite quantization debugger answer): for every quantized
 * layer (weighted layers and the activation quantizers graph-mode preparation placed),
 * <ul>
 *   <li>the SQNR of its quantized weights, {@code 10 log10(sum w^2 / sum (w - w^)^2)} dB, with
 *       {@code w^ = s_c q} the dequantized codes of its weight quantizer;</li>
 *   <li>the SQNR of its quantized input against the float network's input to the same layer (the
 *       error of every earlier layer included), same formula over all input elements;</li>
 *   <li>accuracy with only this layer quantized, and with every layer but this one quantized;</li>
 *   <li>where an integer model is given, the difference between its int8 output codes and the
 *       fake-quant network's (the layer's float output rounded half up onto the node's grid and
 *       clamped to its activation range): mean and maximum in output steps, fraction differing;</li>
 *   <li>a histogram of the float input with the clipping range of the layer's input quantizer.</li>
 * </ul>
 * The quantized network's quantizer switches are restored on return.
 */
public final class LayerDiagnostics {

    /**
     * @param edges   {@code bins + 1} bin edges, ascending, covering the data and the clipping range
     * @param counts  elements per bin
     * @param clipMin lower end of the input quantizer's range (real units), NaN without an integer grid
     * @param clipMax upper end, NaN without an integer grid
     */
    public record Histogram(double[] edges, long[] counts, double clipMin, double clipMax) {
    }

    /**
     * @param node      index of the integer node compared
     * @param meanSteps mean |int8 code - fake-quant code| over all output elements of the samples
     * @param maxSteps  the largest such difference
     * @param differing fraction of output elements whose codes differ
     */
    public record Int8Difference(int node, double meanSteps, double maxSteps, double differing) {
    }

    /**
     * One quantized layer.
     *
     * @param name               vertex name
     * @param kind               the layer class
     * @param weightSqnrDb       SQNR of the quantized weights in dB; null for layers without integer weight codes (activation
     *                           quantizers, depthwise/separable layers, LSQ+ weights)
     * @param inputSqnrDb        SQNR of the quantized input against the float network's in dB (+Infinity when equal)
     * @param accuracyOnlyThis   accuracy with only this layer's quantizers on
     * @param accuracyAllButThis accuracy with every quantizer but this layer's on
     * @param int8               integer model vs fake quant on this layer's weighted node; null without an integer model or node
     * @param inputHistogram     the float input's histogram and the quantizer's clipping range
     */
    public record Layer(String name, String kind, Double weightSqnrDb, double inputSqnrDb, double accuracyOnlyThis,
                        double accuracyAllButThis, Int8Difference int8, Histogram inputHistogram) {
    }

    /**
     * @param samples           samples analysed
     * @param floatAccuracy     the float network's accuracy on them
     * @param quantizedAccuracy the fake-quant network's
     * @param layers            in network order
     */
    public record Report(int samples, double floatAccuracy, double quantizedAccuracy, List<Layer> layers) {
    }

    private LayerDiagnostics() {
    }

    /**
     * @param fp32      the float network (MultiLayerNetwork or ComputationGraph, one input, one output)
     * @param quantized its quantized twin (from {@code QuantizedModel.wrap}, PTQ or QAT), quantizers calibrated
     * @param graph     the integer export of {@code quantized} ({@code Int8Exporter.export(...).graph()}), or null to skip the
     *                  int8 comparison
     * @param nodeVertices per node of {@code graph}, the vertex it was emitted for ({@code Int8Exporter.Result.nodeVertices()});
     *                  null when {@code graph} is
     * @param x         samples {@code [N, ...]}
     * @param labels    one-hot labels {@code [N, classes]}
     * @param bins      histogram bins, >= 2
     * @throws IllegalArgumentException when {@code quantized} has no quantized layer, or shapes disagree
     */
    public static Report run(Model fp32, Model quantized, Int8Graph graph, List<String> nodeVertices, INDArray x, INDArray labels,
                             int bins) {
        if (bins < 2) {
            throw new IllegalArgumentException("LayerDiagnostics: bins must be >= 2, got " + bins);
        }
        if (graph != null && (nodeVertices == null || nodeVertices.size() != graph.nodes().size())) {
            throw new IllegalArgumentException("LayerDiagnostics: give one vertex name per node of the integer graph ("
                    + graph.nodes().size() + " nodes; Int8Exporter.Result.nodeVertices())");
        }
        NetworkView f = NetworkView.of(fp32);
        NetworkView q = NetworkView.of(quantized);
        Map<String, QuantSettings> switches = new LinkedHashMap<>();
        for (NetworkView.Vertex v : q.vertices()) {
            if (v.layer() instanceof QuantizedLayerConf c) {
                switches.put(v.name(), c.getQuant());
            }
        }
        if (switches.isEmpty()) {
            throw new IllegalArgumentException("LayerDiagnostics: the quantized network has no quantized layer (wrap it first)");
        }
        Map<String, Boolean> was = new LinkedHashMap<>();
        switches.forEach((k, s) -> was.put(k, s.isEnabled()));
        Map<String, INDArray> floatActs = f.activations(x);
        Map<String, INDArray> quantActs = q.activations(x);
        double floatAccuracy = NetworkView.accuracy(f.output(x), labels);
        double quantizedAccuracy = NetworkView.accuracy(q.output(x), labels);
        List<Layer> out = new ArrayList<>();
        try {
            for (Map.Entry<String, QuantSettings> e : switches.entrySet()) {
                String name = e.getKey();
                org.deeplearning4j.nn.api.Layer layer = q.layer(name);
                String floatInput = floatTensor(f, q, q.vertex(name).inputs().get(0));
                INDArray fin = floatActs.get(floatInput);
                INDArray qin = quantActs.get(q.vertex(name).inputs().get(0));
                if (e.getValue().quantizesInputs()) {
                    qin = InputQuantization.forward(e.getValue(), qin, false, layer.paramTable(), name);
                }
                double inputSqnr = sqnr(fin, qin);
                Double weightSqnr = weightSqnr(layer, name);
                switches.forEach((k, s) -> s.setEnabled(k.equals(name)));
                double only = NetworkView.accuracy(q.output(x), labels);
                switches.forEach((k, s) -> s.setEnabled(!k.equals(name)));
                double allBut = NetworkView.accuracy(q.output(x), labels);
                was.forEach((k, on) -> switches.get(k).setEnabled(on));
                Int8Difference int8 = graph == null ? null : int8Difference(graph, nodeVertices, name, quantActs.get(name), x);
                out.add(new Layer(name, layer.conf().getLayer().getClass().getSimpleName(), weightSqnr, inputSqnr, only, allBut, int8,
                        histogram(fin, layer, name, bins)));
            }
        } finally {
            was.forEach((k, on) -> switches.get(k).setEnabled(on));
        }
        return new Report((int) x.size(0), floatAccuracy, quantizedAccuracy, out);
    }

    /** The float network's tensor for a quantized network's tensor: itself, or, through inserted quantizers, the tensor they quantize. */
    private static String floatTensor(NetworkView f, NetworkView q, String tensor) {
        String t = tensor;
        while (!f.tensors().contains(t)) {
            if (!q.hasVertex(t) || q.vertex(t).inputs().size() != 1) {
                throw new IllegalArgumentException("LayerDiagnostics: tensor '" + tensor + "' of the quantized network has no counterpart in "
                        + "the float network (is it the network the quantized one was wrapped from?)");
            }
            t = q.vertex(t).inputs().get(0);
        }
        return t;
    }

    /** {@code 10 log10(sum a^2 / sum (a - b)^2)}, +Infinity when equal. */
    static double sqnr(INDArray reference, INDArray quantized) {
        double[] a = reference.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] b = quantized.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        if (a.length != b.length) {
            throw new IllegalArgumentException("LayerDiagnostics: " + a.length + " float values against " + b.length + " quantized ones");
        }
        double signal = 0;
        double noise = 0;
        for (int i = 0; i < a.length; i++) {
            signal += a[i] * a[i];
            noise += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
    }

    private static Double weightSqnr(org.deeplearning4j.nn.api.Layer layer, String name) {
        if (layer.getParam(org.deeplearning4j.nn.params.DefaultParamInitializer.WEIGHT_KEY) == null) {
            return null;
        }
        INDArray w;
        QuantizerReadout.WeightCodes codes;
        try {
            w = QuantizerReadout.weights(layer);
            codes = QuantizerReadout.weightCodes(layer, w, w.rank() == 2 ? 1 : 0, name);
        } catch (IllegalArgumentException notUniform) {
            return null;   // depthwise/separable layouts, weight modes without integer codes
        }
        int outAxis = w.rank() == 2 ? 1 : 0;
        double[] wv = w.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] cv = codes.codes().castTo(DataType.DOUBLE).dup('c').data().asDouble();
        long[] shape = w.shape();
        long inner = 1;
        for (int d = outAxis + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        double[] deq = new double[wv.length];
        for (int i = 0; i < wv.length; i++) {
            int c = (int) ((i / inner) % shape[outAxis]);
            deq[i] = cv[i] * codes.scales()[codes.scales().length == 1 ? 0 : c];
        }
        return sqnr(org.nd4j.linalg.factory.Nd4j.createFromArray(wv), org.nd4j.linalg.factory.Nd4j.createFromArray(deq));
    }

    /**
     * The integer model's codes at the weighted node emitted for {@code name} against the fake-quant
     * network's output of that layer on the node's grid; null when the layer has no such node.
     */
    private static Int8Difference int8Difference(Int8Graph g, List<String> nodeVertices, String name, INDArray fakeOutput, INDArray x) {
        int node = -1;
        for (int i = 0; i < g.nodes().size(); i++) {
            Int8Graph.Node n = g.nodes().get(i);
            if (name.equals(nodeVertices.get(i)) && (n instanceof Int8Graph.Conv2D || n instanceof Int8Graph.Dense
                    || n instanceof Int8Graph.DepthwiseConv2D)) {
                node = i;
            }
        }
        if (node < 0) {
            return null;
        }
        Int8Graph.Node n = g.nodes().get(node);
        Int8Graph.Requant rq = n instanceof Int8Graph.Conv2D c ? c.requant()
                : n instanceof Int8Graph.Dense d ? d.requant() : ((Int8Graph.DepthwiseConv2D) n).requant();
        int outputTensor = n.output();
        Int8Graph.Tensor t = g.tensors().get(outputTensor);
        Int8Model upTo = new Int8Model(new Int8Graph(g.tensors(), g.nodes().subList(0, node + 1), g.input(), outputTensor, g.rounding()));
        int samples = (int) x.size(0);
        byte[] codes = upTo.runQuantized(upTo.quantizeInput(x.castTo(DataType.FLOAT).dup('c').data().asFloat(), samples), samples);
        double[] fake = fakeOutput.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        if (fake.length != codes.length) {
            return null;   // the node's output is not this vertex's output (e.g. a split activation follows inside the layer)
        }
        double sum = 0;
        double max = 0;
        long differ = 0;
        for (int i = 0; i < codes.length; i++) {
            double code = Math.floor(fake[i] / t.scale() + 0.5) + t.zeroPoint();
            code = Math.max(rq.activationMin(), Math.min(rq.activationMax(), code));
            double d = Math.abs(code - codes[i]);
            sum += d;
            max = Math.max(max, d);
            differ += d > 0 ? 1 : 0;
        }
        return new Int8Difference(node, sum / codes.length, max, (double) differ / codes.length);
    }

    private static Histogram histogram(INDArray input, org.deeplearning4j.nn.api.Layer layer, String name, int bins) {
        double lo = Double.NaN;
        double hi = Double.NaN;
        try {
            QuantizerReadout.InputGrid g = QuantizerReadout.inputGrid(layer, name);
            lo = g.scale() * (g.qmin() - g.zeroPoint());
            hi = g.scale() * (g.qmax() - g.zeroPoint());
        } catch (IllegalArgumentException noGrid) {
            // LSQ+ and unquantized inputs: no clipping range to mark
        }
        double[] v = input.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double min = Double.isNaN(lo) ? Double.POSITIVE_INFINITY : lo;
        double max = Double.isNaN(hi) ? Double.NEGATIVE_INFINITY : hi;
        for (double d : v) {
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        if (!(max > min)) {
            max = min + 1;
        }
        double[] edges = new double[bins + 1];
        for (int i = 0; i <= bins; i++) {
            edges[i] = min + (max - min) * i / bins;
        }
        long[] counts = new long[bins];
        for (double d : v) {
            counts[(int) Math.min(bins - 1, Math.floor((d - min) / (max - min) * bins))]++;
        }
        return new Histogram(edges, counts, lo, hi);
    }
}
