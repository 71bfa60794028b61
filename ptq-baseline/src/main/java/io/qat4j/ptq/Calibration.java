package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl;
import io.qat4j.ptq.calibration.ActivationStatistics;

/**
 * One streaming pass of calibration data through a float MultiLayerNetwork or ComputationGraph
 * ({@link NetworkView}): the {@link ActivationStatistics} of every tensor (each network input and
 * each vertex output, keyed by the name of the vertex that produces it, see {@link NetworkView}; and
 * each separable convolution's depthwise output {@code <layer>/mid}, which its mid quantizer reads,
 * computed from the layer's input by {@link QuantizedSeparableConvolutionImpl#depthwiseOutput}),
 * so that a quantizer placed on any tensor (a weighted layer's input, an Add or concat input, a
 * pooling input, the network output) can be initialized; for every quantizable layer
 * ({@link WeightedLayer}) the statistics of its input tensor (the same object as that tensor's
 * entry in {@link #tensors()}), the per-feature mean of its input (for bias correction) and its
 * input/output shapes; plus the first {@code keep} samples themselves (for sensitivity analysis).
 * Batches are read from any {@link DataSetIterator} and dropped after use, so the calibration set
 * never has to fit in memory.
 */
public final class Calibration {

    /** Per-layer results of the pass. */
    public static final class LayerInputs {
        private final String input;
        private final ActivationStatistics statistics;
        private double[] sum;
        private long samples;
        private long[] inputShape;
        private long[] outputShape;

        LayerInputs(String input, ActivationStatistics statistics) {
            this.input = input;
            this.statistics = statistics;
        }

        /** Name of the layer's input tensor (the vertex producing it, or a network input). */
        public String input() {
            return input;
        }

        /** Statistics of the layer's input tensor ({@code tensors().get(input())}). */
        public ActivationStatistics statistics() {
            return statistics;
        }

        /** Mean over samples of the layer's input, per feature, c-order ({@code [C, H, W]} or {@code [F]} flattened). */
        public double[] mean() {
            double[] m = sum.clone();
            for (int i = 0; i < m.length; i++) {
                m[i] /= samples;
            }
            return m;
        }

        /** Input shape of one sample, e.g. {@code [C, H, W]}. */
        public long[] inputShape() {
            return inputShape.clone();
        }

        /** Output shape of one sample. */
        public long[] outputShape() {
            return outputShape.clone();
        }
    }

    private final Map<String, ActivationStatistics> tensors;
    private final Map<String, LayerInputs> layers;
    private final long samples;
    private final INDArray kept;

    private Calibration(Map<String, ActivationStatistics> tensors, Map<String, LayerInputs> layers, long samples, INDArray kept) {
        this.tensors = tensors;
        this.layers = layers;
        this.samples = samples;
        this.kept = kept;
    }

    /**
     * @param net     float MultiLayerNetwork or ComputationGraph with one input (not modified)
     * @param data    calibration batches (reset first when it supports reset)
     * @param samples at most this many samples are used (>= 1)
     * @param keep    the first {@code keep} samples are kept for sensitivity analysis (0 for none)
     * @param bins    histogram bins per tensor (2048 by default)
     */
    public static Calibration run(Model net, DataSetIterator data, int samples, int keep, int bins) {
        if (samples < 1) {
            throw new IllegalArgumentException("calibration: samples must be >= 1, got " + samples);
        }
        NetworkView view = NetworkView.of(net);
        List<WeightedLayer> weighted = WeightedLayer.of(view);
        if (weighted.isEmpty()) {
            throw new IllegalArgumentException("calibration: the network has no Convolution, Dense or Output layer to quantize");
        }
        Map<String, WeightedLayer> mids = new LinkedHashMap<>();   // layer name -> separable layer
        for (WeightedLayer l : weighted) {
            if (l.kind() == WeightedLayer.Kind.SEPARABLE) {
                mids.put(l.name(), l);
            }
        }
        Map<String, ActivationStatistics> tensors = new LinkedHashMap<>();
        for (String t : view.tensors()) {
            if (mids.containsKey(t)) {   // the depthwise output inside the layer comes before the layer's output
                tensors.put(mids.get(t).midTensor(), new ActivationStatistics(bins, 0.01));
            }
            tensors.put(t, new ActivationStatistics(bins, 0.01));
        }
        Map<String, LayerInputs> layers = new LinkedHashMap<>();
        for (WeightedLayer l : weighted) {
            List<String> in = view.vertex(l.name()).inputs();
            if (in.size() != 1) {
                throw new IllegalArgumentException("calibration: layer '" + l.name() + "' has " + in.size() + " inputs " + in
                        + "; a quantizable layer reads one tensor (put a MergeVertex before it)");
            }
            String input = in.get(0);
            layers.put(l.name(), new LayerInputs(input, tensors.get(input)));
        }
        if (data.resetSupported()) {
            data.reset();
        }
        long seen = 0;
        List<INDArray> keptBatches = new ArrayList<>();
        long keptCount = 0;
        while (seen < samples && data.hasNext()) {
            DataSet ds = data.next();
            INDArray x = ds.getFeatures();
            long n = Math.min(x.size(0), samples - seen);
            if (n < x.size(0)) {
                x = x.get(NDArrayIndex.interval(0, n));
            }
            if (keptCount < keep) {
                long k = Math.min(n, keep - keptCount);
                keptBatches.add(x.get(NDArrayIndex.interval(0, k)).dup());
                keptCount += k;
            }
            Map<String, INDArray> acts = new LinkedHashMap<>(view.activations(x));
            for (WeightedLayer l : mids.values()) {
                INDArray in = acts.get(layers.get(l.name()).input);
                org.deeplearning4j.nn.conf.InputPreProcessor pre = view.vertex(l.name()).preProcessor();
                if (pre != null) {   // e.g. a FeedForwardToCnn reshape: the layer reads what it makes
                    in = pre.preProcess(in, (int) in.size(0), org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces());
                }
                acts.put(l.midTensor(), QuantizedSeparableConvolutionImpl.depthwiseOutput(view.layer(l.name()), in));
            }
            for (Map.Entry<String, ActivationStatistics> t : tensors.entrySet()) {
                t.getValue().observe(acts.get(t.getKey()));
            }
            for (WeightedLayer l : weighted) {
                LayerInputs li = layers.get(l.name());
                accumulate(li, acts.get(li.input), acts.get(l.name()));
            }
            seen += n;
        }
        if (seen == 0) {
            throw new IllegalArgumentException("calibration: the data iterator gave no samples");
        }
        INDArray kept = keptBatches.isEmpty() ? null
                : keptBatches.size() == 1 ? keptBatches.get(0) : org.nd4j.linalg.factory.Nd4j.concat(0, keptBatches.toArray(new INDArray[0]));
        return new Calibration(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(layers), seen, kept);
    }

    private static void accumulate(LayerInputs li, INDArray in, INDArray out) {
        long n = in.size(0);
        long[] shape = java.util.Arrays.copyOfRange(in.shape(), 1, in.rank());
        if (li.sum == null) {
            li.inputShape = shape;
            li.outputShape = java.util.Arrays.copyOfRange(out.shape(), 1, out.rank());
            li.sum = new double[(int) (in.length() / n)];
        }
        double[] sums = in.castTo(DataType.DOUBLE).sum(0).dup('c').data().asDouble();
        for (int i = 0; i < sums.length; i++) {
            li.sum[i] += sums[i];
        }
        li.samples += n;
    }

    /** Per-layer results by layer name, in network order. */
    public Map<String, LayerInputs> layers() {
        return layers;
    }

    public LayerInputs layer(String name) {
        LayerInputs li = layers.get(name);
        if (li == null) {
            throw new IllegalArgumentException("calibration has no layer named '" + name + "'; it has " + layers.keySet());
        }
        return li;
    }

    /**
     * Statistics of every tensor by name ({@link NetworkView}: the producing vertex's name, or a
     * network input's), network inputs first, then vertex outputs in topological order, a separable
     * convolution's {@code <layer>/mid} right before the layer's output.
     */
    public Map<String, ActivationStatistics> tensors() {
        return tensors;
    }

    /** Statistics of one tensor, or an error listing the tensors there are. */
    public ActivationStatistics tensor(String name) {
        ActivationStatistics s = tensors.get(name);
        if (s == null) {
            throw new IllegalArgumentException("calibration has no tensor named '" + name + "'; it has " + tensors.keySet());
        }
        return s;
    }

    /** Samples used. */
    public long samples() {
        return samples;
    }

    /** The kept samples (features), or null when none were kept. */
    public INDArray kept() {
        return kept;
    }
}
