package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.indexing.NDArrayIndex;

import io.qat4j.ptq.calibration.ActivationStatistics;

/**
 * One streaming pass of calibration data through a float network: for every quantizable layer
 * ({@link WeightedLayer}) the {@link ActivationStatistics} of its input, the per-feature mean of its
 * input (for bias correction) and its input/output shapes; plus the first {@code keep} samples
 * themselves (for sensitivity analysis). Batches are read from any {@link DataSetIterator} and
 * dropped after use, so the calibration set never has to fit in memory.
 */
public final class Calibration {

    /** Per-layer results of the pass. */
    public static final class LayerInputs {
        private final ActivationStatistics statistics;
        private double[] sum;
        private long samples;
        private long[] inputShape;
        private long[] outputShape;

        LayerInputs(ActivationStatistics statistics) {
            this.statistics = statistics;
        }

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

    private final Map<String, LayerInputs> layers;
    private final long samples;
    private final INDArray kept;

    private Calibration(Map<String, LayerInputs> layers, long samples, INDArray kept) {
        this.layers = layers;
        this.samples = samples;
        this.kept = kept;
    }

    /**
     * @param net     float network (not modified)
     * @param data    calibration batches (reset first when it supports reset)
     * @param samples at most this many samples are used (>= 1)
     * @param keep    the first {@code keep} samples are kept for sensitivity analysis (0 for none)
     * @param bins    histogram bins per tensor (2048 by default)
     */
    public static Calibration run(MultiLayerNetwork net, DataSetIterator data, int samples, int keep, int bins) {
        if (samples < 1) {
            throw new IllegalArgumentException("calibration: samples must be >= 1, got " + samples);
        }
        List<WeightedLayer> weighted = WeightedLayer.of(net);
        if (weighted.isEmpty()) {
            throw new IllegalArgumentException("calibration: the network has no Convolution, Dense or Output layer to quantize");
        }
        Map<String, LayerInputs> layers = new LinkedHashMap<>();
        for (WeightedLayer l : weighted) {
            layers.put(l.name(), new LayerInputs(new ActivationStatistics(bins, 0.01)));
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
            List<INDArray> acts = net.feedForward(x, false);
            for (WeightedLayer l : weighted) {
                LayerInputs li = layers.get(l.name());
                INDArray in = acts.get(l.index());
                li.statistics.observe(in);
                accumulate(li, in, acts.get(l.index() + 1));
            }
            seen += n;
        }
        if (seen == 0) {
            throw new IllegalArgumentException("calibration: the data iterator gave no samples");
        }
        INDArray kept = keptBatches.isEmpty() ? null
                : keptBatches.size() == 1 ? keptBatches.get(0) : org.nd4j.linalg.factory.Nd4j.concat(0, keptBatches.toArray(new INDArray[0]));
        return new Calibration(Collections.unmodifiableMap(layers), seen, kept);
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

    /** Samples used. */
    public long samples() {
        return samples;
    }

    /** The kept samples (features), or null when none were kept. */
    public INDArray kept() {
        return kept;
    }
}
