package io.qat4j.layers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;

import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedOutputLayer;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.impl.QuantizedConvBatchNormImpl;
import io.qat4j.layers.impl.QuantizedDepthwiseConvolutionImpl;
import io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl;
import io.qat4j.layers.impl.WeightQuantization;
import io.qat4j.layers.params.QuantizedConvBatchNormParamInitializer;

/**
 * Turns a trained float DL4J network into its QAT version, prepares it for the integer model, and
 * switches quantization and observers on and off afterwards.
 *
 * <p>{@link #wrap} replaces every {@code ConvolutionLayer}, {@code DepthwiseConvolution2D},
 * {@code SeparableConvolution2D}, {@code DenseLayer} and {@code OutputLayer} (exact classes) by its
 * quantized twin with the plan's settings (a convolution followed by a batch norm by one
 * {@link QuantizedConvBatchNormLayer}; a batch norm after a depthwise or separable convolution is
 * folded once into that convolution's weights and bias with its frozen statistics,
 * {@link BatchNormFolding#foldDepthwise}), then places activation quantizers where
 * the integer model needs int8 tensors (graph-mode preparation, as PyTorch FX/PT2E {@code prepare}:
 * Add and shared concat inputs, one shared quantizer per tensor that several layers read, average
 * pooling and LeakyReLU/lookup activation inputs, logits that do not come from a quantized dense
 * layer; {@link PlacementRule}), copies all parameters by layer name (the network computes the same
 * function when quantization is disabled), initializes weight steps from the copied weights and
 * input quantizers from the plan's calibrated ranges. Layers without weights (pooling, activation,
 * dropout, padding, cropping, upsampling) pass quantized values through. Every other layer is kept
 * in float and reported by name with the reason, never silently. {@link #calibrate} then gives
 * every quantizer without a range one from data, so that the network runs inference at once.
 */
public final class QuantizedModel {

    /**
     * The wrapped network and what happened to each layer.
     *
     * @param quantized          layers replaced by their quantized twin, in order
     * @param foldedBatchNorms   batch norms folded into the preceding convolution (batch-norm name to convolution
     *                           name; the batch norm's place holds an identity activation)
     * @param keptInFloat        layers and vertices kept in float, with the reason
     * @param insertedQuantizers activation quantizers {@link #wrap} placed, by name ({@code <tensor>_aq}), with the
     *                           rules that placed them, their readers and the input quantizers they replace
     * @param splitActivations   weighted layers whose LeakyReLU/lookup activation became a separate ActivationLayer
     *                           ({@code <layer>_act}) after an inserted quantizer, layer name to activation-layer name
     */
    public record Wrapped<T extends Model>(T network, List<String> quantized, Map<String, String> foldedBatchNorms,
                                           Map<String, String> keptInFloat, Map<String, InsertedQuantizer> insertedQuantizers,
                                           Map<String, String> splitActivations) {
        /** The same record for another network with the same configuration (e.g. a trained copy). */
        public Wrapped<T> withNetwork(T other) {
            return new Wrapped<>(other, quantized, foldedBatchNorms, keptInFloat, insertedQuantizers, splitActivations);
        }

        /** A one-line summary for logs. */
        public String summary() {
            StringBuilder placed = new StringBuilder();
            for (InsertedQuantizer q : insertedQuantizers.values()) {
                placed.append(placed.length() == 0 ? "" : ", ").append(q.name()).append(' ').append(q.rules())
                        .append(q.requantizedBy().isEmpty() ? "" : " (requantized by: " + q.requantizedBy() + ")");
            }
            return "quantized " + quantized.size() + " layers " + quantized
                    + (foldedBatchNorms.isEmpty() ? "" : "; batch norms folded into convolutions: " + foldedBatchNorms)
                    + (insertedQuantizers.isEmpty() ? "" : "; activation quantizers placed: " + placed)
                    + (splitActivations.isEmpty() ? "" : "; activations split from their layer: " + splitActivations)
                    + (keptInFloat.isEmpty() ? "" : "; kept in float: " + keptInFloat);
        }
    }

    private QuantizedModel() {
    }

    /**
     * Wraps a MultiLayerNetwork (the original is not modified). A plain convolution with identity
     * activation directly followed by a BatchNormalization becomes one
     * {@link QuantizedConvBatchNormLayer} (QAT-time folding); the batch norm's place keeps an identity
     * activation with its name. Quantizers are then placed on the layer list seen as a chain of
     * vertices ({@link PlacementRule}); an inserted layer takes no input preprocessor (each original
     * layer keeps its own), and every layer of the result is named (an unnamed layer {@code i} of the
     * original as {@code "layer<i>"}, DL4J's default), so parameters are copied and plans keyed by
     * layer name. Without insertions the result has the original's layer indices.
     */
    public static Wrapped<MultiLayerNetwork> wrap(MultiLayerNetwork net, QuantizationPlan plan) {
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
        List<String> quantized = new ArrayList<>();
        Map<String, String> folded = new LinkedHashMap<>();
        Map<String, String> kept = new LinkedHashMap<>();
        Map<String, Integer> fusedConvToBn = new LinkedHashMap<>();
        int n = conf.getConfs().size();
        String[] names = new String[n];
        for (int i = 0; i < n; i++) {
            names[i] = name(conf.getConf(i).getLayer(), i);
            conf.getConf(i).getLayer().setLayerName(names[i]);
        }
        for (int i = 0; i < n; i++) {
            NeuralNetConfiguration nnc = conf.getConf(i);
            String name = names[i];
            if (i + 1 < n && foldsOffline(nnc.getLayer(), conf.getConf(i + 1).getLayer(), conf.getInputPreProcess(i + 1), name, plan)) {
                nnc.setLayer(replaceFolding(nnc.getLayer(), name, plan, quantized, kept));
                conf.getConf(i + 1).setLayer(BatchNormFolding.placeholder(names[i + 1]));
                folded.put(names[i + 1], name);
                i++;
                continue;
            }
            if (i + 1 < n && foldable(nnc.getLayer(), conf.getConf(i + 1).getLayer(), conf.getInputPreProcess(i + 1), name, plan)) {
                nnc.setLayer(fuse(nnc.getLayer(), conf.getConf(i + 1).getLayer(), name, plan));
                conf.getConf(i + 1).setLayer(BatchNormFolding.placeholder(names[i + 1]));
                quantized.add(name);
                folded.put(names[i + 1], name);
                fusedConvToBn.put(name, i + 1);
                i++;
                continue;
            }
            nnc.setLayer(replace(nnc.getLayer(), name, plan, quantized, kept));
        }
        GraphPreparation prep = GraphPreparation.of(conf);
        prep.prepare(plan, kept);
        MultiLayerNetwork q = new MultiLayerNetwork(prep.toMultiLayer(conf));
        q.init();
        for (int i = 0; i < n; i++) {
            if (fusedConvToBn.containsKey(names[i])) {
                copyFused(net.getLayer(i), net.getLayer(fusedConvToBn.get(names[i])), q.getLayer(names[i]));
            } else if (!folded.containsKey(names[i])) {
                copyParams(net.getLayer(i), q.getLayer(names[i]));
                if (folded.containsValue(names[i])) {   // a depthwise/separable convolution with its batch norm folded offline
                    copyFoldedOffline(net.getLayer(i), net.getLayer(i + 1), q.getLayer(names[i]));
                }
            }
        }
        for (Layer layer : q.getLayers()) {
            String name = layer.conf().getLayer().getLayerName();
            initQuantizers(layer, name, plan, prep.range(name, plan));
        }
        return new Wrapped<>(q, Collections.unmodifiableList(quantized), Collections.unmodifiableMap(folded),
                Collections.unmodifiableMap(kept), prep.inserted(), prep.splitActivations());
    }

    /**
     * {@link BatchNormFolding#folds}, restricted to what {@link QuantizedConvBatchNormLayer} can
     * train: a convolution (a dense layer keeps its batch norm as a float layer) whose batch norm
     * has trainable gamma and beta, neither kept in float by the plan.
     */
    private static boolean foldable(org.deeplearning4j.nn.conf.layers.Layer layer, org.deeplearning4j.nn.conf.layers.Layer next,
                                    InputPreProcessor between, String name, QuantizationPlan plan) {
        return BatchNormFolding.folds(layer, next, between) && layer instanceof ConvolutionLayer
                && !((BatchNormalization) next).isLockGammaBeta() && !plan.keepsFloat(name) && !plan.keepsFloat(next.getLayerName());
    }

    private static org.deeplearning4j.nn.conf.layers.Layer fuse(org.deeplearning4j.nn.conf.layers.Layer conv,
                                                                 org.deeplearning4j.nn.conf.layers.Layer bn, String name, QuantizationPlan plan) {
        QuantizedConvBatchNormLayer f = QuantizedConvBatchNormLayer.of((ConvolutionLayer) conv, (BatchNormalization) bn,
                plan.settingsFor(name));
        f.setLayerName(name);
        return f;
    }

    /**
     * {@link BatchNormFolding#foldsIntoDepthwise}, neither layer kept in float by the plan: the batch
     * norm is folded once into the depthwise/separable convolution's weights and bias (frozen
     * statistics), not trained as a fused layer.
     */
    private static boolean foldsOffline(org.deeplearning4j.nn.conf.layers.Layer layer, org.deeplearning4j.nn.conf.layers.Layer next,
                                        InputPreProcessor between, String name, QuantizationPlan plan) {
        return BatchNormFolding.foldsIntoDepthwise(layer, next, between) && !plan.keepsFloat(name) && !plan.keepsFloat(next.getLayerName());
    }

    /** {@link #replace} for a depthwise/separable convolution that absorbs a batch norm: its twin gets a bias. */
    private static org.deeplearning4j.nn.conf.layers.Layer replaceFolding(org.deeplearning4j.nn.conf.layers.Layer conv, String name,
                                                                          QuantizationPlan plan, List<String> quantized,
                                                                          Map<String, String> kept) {
        org.deeplearning4j.nn.conf.layers.Layer r = replace(conv, name, plan, quantized, kept);
        if (r == conv) {
            r = conv.clone();   // kept in float (reason reported): still the layer that holds the folded batch norm
        }
        ((ConvolutionLayer) r).setHasBias(true);
        return r;
    }

    /** The float convolution's parameters with the batch norm after it folded into its weights and bias (frozen statistics). */
    private static void copyFoldedOffline(Layer conv, Layer bn, Layer target) {
        BatchNormFolding.Folded f = BatchNormFolding.foldDepthwise(conv, bn);
        String key = BatchNormFolding.foldedWeightKey(conv.conf().getLayer());
        target.setParam(key, f.weight().reshape(target.getParam(key).shape()).castTo(target.getParam(key).dataType()));
        INDArray b = target.getParam(ConvolutionParamInitializer.BIAS_KEY);
        target.setParam(ConvolutionParamInitializer.BIAS_KEY, f.bias().reshape(b.shape()).castTo(b.dataType()));
    }

    /** W from the convolution; gamma, beta, running mean (minus the convolution's bias) and variance from the batch norm. */
    private static void copyFused(Layer conv, Layer bn, Layer fused) {
        fused.setParam(ConvolutionParamInitializer.WEIGHT_KEY, conv.getParam(ConvolutionParamInitializer.WEIGHT_KEY).dup());
        fused.setParam(QuantizedConvBatchNormParamInitializer.GAMMA_KEY, bn.getParam(BatchNormalizationParamInitializer.GAMMA).dup());
        fused.setParam(QuantizedConvBatchNormParamInitializer.BETA_KEY, bn.getParam(BatchNormalizationParamInitializer.BETA).dup());
        INDArray mean = bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).dup();
        INDArray bias = conv.paramTable().get(ConvolutionParamInitializer.BIAS_KEY);
        if (bias != null) {
            mean.subi(bias.reshape(mean.shape()));   // BN(conv + b) with running mean mu == BN(conv) with mu - b
        }
        fused.setParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY, mean);
        fused.setParam(QuantizedConvBatchNormParamInitializer.VAR_KEY, BatchNormStatistics.variance(bn));
    }

    /**
     * Wraps a ComputationGraph (the original is not modified). A convolution whose only consumer is a
     * batch norm is fused with it as in the MultiLayerNetwork case; the batch-norm vertex becomes an
     * identity activation. Quantizers are then placed by the same rules ({@link PlacementRule}): an
     * inserted vertex reads the tensor it quantizes and every vertex that read that tensor reads it
     * instead.
     */
    public static Wrapped<ComputationGraph> wrap(ComputationGraph graph, QuantizationPlan plan) {
        ComputationGraphConfiguration conf = graph.getConfiguration().clone();
        List<String> quantized = new ArrayList<>();
        Map<String, String> folded = new LinkedHashMap<>();
        Map<String, String> kept = new LinkedHashMap<>();
        Map<String, String> fusedConvToBn = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : conf.getVertexInputs().entrySet()) {
            GraphVertex v = conf.getVertices().get(e.getKey());
            if (v instanceof LayerVertex bnVertex && e.getValue().size() == 1
                    && conf.getVertices().get(e.getValue().get(0)) instanceof LayerVertex convVertex
                    && consumers(conf, e.getValue().get(0)) == 1
                    && foldable(convVertex.getLayerConf().getLayer(), bnVertex.getLayerConf().getLayer(), bnVertex.getPreProcessor(),
                    e.getValue().get(0), plan)) {
                fusedConvToBn.put(e.getValue().get(0), e.getKey());
            }
        }
        Map<String, String> offlineConvToBn = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : conf.getVertexInputs().entrySet()) {
            if (conf.getVertices().get(e.getKey()) instanceof LayerVertex bnVertex && e.getValue().size() == 1
                    && conf.getVertices().get(e.getValue().get(0)) instanceof LayerVertex convVertex
                    && consumers(conf, e.getValue().get(0)) == 1
                    && foldsOffline(convVertex.getLayerConf().getLayer(), bnVertex.getLayerConf().getLayer(), bnVertex.getPreProcessor(),
                    e.getValue().get(0), plan)) {
                offlineConvToBn.put(e.getValue().get(0), e.getKey());
            }
        }
        for (Map.Entry<String, String> e : offlineConvToBn.entrySet()) {
            NeuralNetConfiguration convConf = ((LayerVertex) conf.getVertices().get(e.getKey())).getLayerConf();
            convConf.setLayer(replaceFolding(convConf.getLayer(), e.getKey(), plan, quantized, kept));
            ((LayerVertex) conf.getVertices().get(e.getValue())).getLayerConf().setLayer(BatchNormFolding.placeholder(e.getValue()));
            folded.put(e.getValue(), e.getKey());
        }
        for (Map.Entry<String, String> e : fusedConvToBn.entrySet()) {
            NeuralNetConfiguration convConf = ((LayerVertex) conf.getVertices().get(e.getKey())).getLayerConf();
            NeuralNetConfiguration bnConf = ((LayerVertex) conf.getVertices().get(e.getValue())).getLayerConf();
            convConf.setLayer(fuse(convConf.getLayer(), bnConf.getLayer(), e.getKey(), plan));
            bnConf.setLayer(BatchNormFolding.placeholder(e.getValue()));
            quantized.add(e.getKey());
            folded.put(e.getValue(), e.getKey());
        }
        for (Map.Entry<String, GraphVertex> e : conf.getVertices().entrySet()) {
            if (e.getValue() instanceof LayerVertex lv && !fusedConvToBn.containsKey(e.getKey()) && !folded.containsKey(e.getKey())
                    && !offlineConvToBn.containsKey(e.getKey())) {
                NeuralNetConfiguration nnc = lv.getLayerConf();
                nnc.getLayer().setLayerName(e.getKey());
                nnc.setLayer(replace(nnc.getLayer(), e.getKey(), plan, quantized, kept));
            }
        }
        GraphPreparation prep = GraphPreparation.of(conf);
        prep.prepare(plan, kept);
        prep.applyTo(conf);
        ComputationGraph q = new ComputationGraph(conf);
        q.init();
        for (Layer layer : graph.getLayers()) {
            String name = layer.conf().getLayer().getLayerName();
            if (fusedConvToBn.containsKey(name)) {
                copyFused(layer, graph.getLayer(fusedConvToBn.get(name)), q.getLayer(name));
            } else if (!folded.containsKey(name)) {
                copyParams(layer, q.getLayer(name));
                if (offlineConvToBn.containsKey(name)) {
                    copyFoldedOffline(layer, graph.getLayer(offlineConvToBn.get(name)), q.getLayer(name));
                }
            }
        }
        for (Layer layer : q.getLayers()) {
            String name = layer.conf().getLayer().getLayerName();
            initQuantizers(layer, name, plan, prep.range(name, plan));
        }
        return new Wrapped<>(q, Collections.unmodifiableList(quantized), Collections.unmodifiableMap(folded),
                Collections.unmodifiableMap(kept), prep.inserted(), prep.splitActivations());
    }

    private static int consumers(ComputationGraphConfiguration conf, String vertex) {
        int n = 0;
        for (List<String> inputs : conf.getVertexInputs().values()) {
            for (String in : inputs) {
                n += in.equals(vertex) ? 1 : 0;
            }
        }
        return n + (conf.getNetworkOutputs().contains(vertex) ? 1 : 0);
    }

    private static String name(org.deeplearning4j.nn.conf.layers.Layer layer, int index) {
        return layer.getLayerName() != null ? layer.getLayerName() : "layer" + index;
    }

    private static org.deeplearning4j.nn.conf.layers.Layer replace(org.deeplearning4j.nn.conf.layers.Layer layer, String name,
                                                                    QuantizationPlan plan, List<String> quantized, Map<String, String> kept) {
        if (layer instanceof QuantizedLayerConf) {
            kept.put(name, "already quantized; left as configured");
            return layer;
        }
        boolean weighted = layer.getClass() == ConvolutionLayer.class || layer.getClass() == DenseLayer.class
                || layer.getClass() == OutputLayer.class || layer.getClass() == DepthwiseConvolution2D.class
                || layer.getClass() == SeparableConvolution2D.class;
        if (weighted && plan.keepsFloat(name)) {
            kept.put(name, "kept in float by the plan");
            return layer;
        }
        try {
            if (layer.getClass() == ConvolutionLayer.class) {
                quantized.add(name);
                return QuantizedConvolutionLayer.of((ConvolutionLayer) layer, plan.settingsFor(name));
            }
            if (layer.getClass() == DenseLayer.class) {
                quantized.add(name);
                return QuantizedDenseLayer.of((DenseLayer) layer, plan.settingsFor(name));
            }
            if (layer.getClass() == OutputLayer.class) {
                quantized.add(name);
                return QuantizedOutputLayer.of((OutputLayer) layer, plan.settingsFor(name));
            }
            if (layer.getClass() == DepthwiseConvolution2D.class) {
                quantized.add(name);
                return QuantizedDepthwiseConvolutionLayer.of((DepthwiseConvolution2D) layer, plan.settingsFor(name));
            }
            if (layer.getClass() == SeparableConvolution2D.class) {
                quantized.add(name);
                return QuantizedSeparableConvolutionLayer.of((SeparableConvolution2D) layer, plan.settingsFor(name));
            }
        } catch (IllegalArgumentException e) {
            quantized.remove(name);
            kept.put(name, e.getMessage());
            return layer;
        }
        if (GraphPreparation.withoutWeights(layer)) {
            return layer;   // no weights: the placement decides what happens around it (and reports it if it stays float)
        }
        if (layer instanceof BatchNormalization) {
            kept.put(name, "BatchNormalization stays in float: only a batch norm directly after a plain, depthwise or separable "
                    + "convolution with identity activation is folded for QAT; fold others offline first (io.qat4j.layers.BatchNormFolding)");
            return layer;
        }
        kept.put(name, layer.getClass().getSimpleName() + " has no quantized implementation; it stays in float ("
                + GraphPreparation.SUPPORTED + ")");
        return layer;
    }

    /** Every parameter of {@code from} into {@code to}; input-quantizer state of a layer whose input quantizer was switched off is dropped. */
    private static void copyParams(Layer from, Layer to) {
        for (Map.Entry<String, INDArray> e : from.paramTable().entrySet()) {
            if (to.paramTable().containsKey(e.getKey()) || !io.qat4j.layers.params.QuantizerParams.isQuantizerParam(e.getKey())) {
                to.setParam(e.getKey(), e.getValue().dup());
            }
        }
    }

    /**
     * Weight steps from the copied weights (or the plan's scales), the input quantizer from
     * {@code range} (the plan's, see {@link GraphPreparation#range}) when given. A separable
     * convolution takes its depthwise weight scales under its name, its pointwise ones under
     * {@link QuantizedSeparableConvolutionLayer#pointwiseName} and its mid quantizer's range under
     * {@link QuantizedSeparableConvolutionLayer#midQuantizerName}.
     */
    private static void initQuantizers(Layer layer, String name, QuantizationPlan plan, QuantizationPlan.Range range) {
        if (!(layer.conf().getLayer() instanceof QuantizedLayerConf q)) {
            return;
        }
        QuantSettings s = q.getQuant();
        INDArray w = layer instanceof QuantizedConvBatchNormImpl fused ? fused.foldedWeights() : layer.paramTable().get(DefaultParamInitializer.WEIGHT_KEY);
        if (layer instanceof QuantizedDepthwiseConvolutionImpl dw) {
            dw.initializeWeightQuantizers();   // channels-first weights: not W's own axis 0
        } else if (layer instanceof QuantizedSeparableConvolutionImpl sep) {
            sep.initializeWeightQuantizers();
            String pointwise = QuantizedSeparableConvolutionLayer.pointwiseName(name);
            setWeightSteps(pointwise, s, io.qat4j.layers.params.QuantizerParams.unprefixed(layer.paramTable(),
                    io.qat4j.layers.params.QuantizerParams.POINTWISE_PREFIX), plan.weightScales(pointwise));
            QuantizationPlan.Range mid = plan.inputRange(QuantizedSeparableConvolutionLayer.midQuantizerName(name));
            if (mid != null) {
                sep.setMidRange(mid.min(), mid.max());
            }
        } else if (w != null) {
            WeightQuantization.initialize(s, w, w.rank() == 4 ? 0 : 1, layer.paramTable());
        }
        setWeightSteps(name, s, layer.paramTable(), plan.weightScales(name));
        if (range != null && s.getInputMode() != InputQuantMode.NONE) {
            InputQuantization.setRange(s, layer.paramTable(), range.min(), range.max(), name);
        }
    }

    /**
     * LSQ/LSQ+ weight steps from a plan's {@code scales} (offsets zeroed), in the quantizer
     * parameters {@code params} (standard keys); nothing when {@code scales} is null or the weight
     * mode has no steps.
     */
    private static void setWeightSteps(String name, QuantSettings s, Map<String, INDArray> params, double[] scales) {
        if (scales == null || (s.getWeightMode() != WeightQuantMode.LSQ && s.getWeightMode() != WeightQuantMode.LSQ_PLUS)) {
            return;
        }
        INDArray steps = params.get(io.qat4j.layers.params.QuantizerParams.WEIGHT_STEP_KEY);
        if (steps.length() != scales.length) {
            throw new IllegalArgumentException("layer '" + name + "': the plan gives " + scales.length + " weight scales but the layer has "
                    + steps.length() + " weight steps (" + (s.isWeightPerChannel() ? "per output channel" : "per tensor") + ")");
        }
        for (int i = 0; i < scales.length; i++) {
            steps.putScalar(i, scales[i]);
        }
        INDArray offsets = params.get(io.qat4j.layers.params.QuantizerParams.WEIGHT_OFFSET_KEY);
        if (offsets != null) {
            offsets.assign(0);
        }
    }

    /**
     * The inverse of {@link #wrap(MultiLayerNetwork, QuantizationPlan)} for parameters: a copy of
     * {@code template} (the float network that was wrapped, same configuration) holding the wrapped
     * network's trained parameters. A fused conv+BN gives the convolution its weights (and a zero
     * bias) and the batch norm its gamma, beta, running mean and variance (as {@code log10(std)}
     * when the batch norm stores that). Quantizer parameters are dropped. With quantization disabled
     * the result computes the wrapped network's function; this is how float networks are trained
     * through qat4j's faster layers. Layers are matched by name, so the quantizers {@code wrap}
     * placed (and the activation layers it split off) are skipped.
     */
    public static MultiLayerNetwork unwrap(MultiLayerNetwork wrapped, MultiLayerNetwork template) {
        MultiLayerNetwork out = template.clone();
        for (int i = 0; i < out.getnLayers(); i++) {
            String name = name(template.getLayerWiseConfigurations().getConf(i).getLayer(), i);
            Layer q = wrapped.getLayerNames().contains(name) ? wrapped.getLayer(name) : null;
            if (q == null) {
                throw new IllegalArgumentException("unwrap: the wrapped network has no layer '" + name + "' (layer " + i
                        + " of the template); give the float network that was wrapped");
            }
            Layer f = out.getLayer(i);
            if (q.conf().getLayer() instanceof QuantizedConvBatchNormLayer) {
                f.setParam(ConvolutionParamInitializer.WEIGHT_KEY, q.getParam(ConvolutionParamInitializer.WEIGHT_KEY).dup());
                if (f.paramTable().containsKey(ConvolutionParamInitializer.BIAS_KEY)) {
                    f.setParam(ConvolutionParamInitializer.BIAS_KEY, f.getParam(ConvolutionParamInitializer.BIAS_KEY).mul(0));
                }
                Layer bn = out.getLayer(i + 1);
                bn.setParam(BatchNormalizationParamInitializer.GAMMA, q.getParam(QuantizedConvBatchNormParamInitializer.GAMMA_KEY).reshape(bn.getParam(BatchNormalizationParamInitializer.GAMMA).shape()).dup());
                bn.setParam(BatchNormalizationParamInitializer.BETA, q.getParam(QuantizedConvBatchNormParamInitializer.BETA_KEY).reshape(bn.getParam(BatchNormalizationParamInitializer.BETA).shape()).dup());
                bn.setParam(BatchNormalizationParamInitializer.GLOBAL_MEAN, q.getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY).reshape(bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).shape()).dup());
                BatchNormStatistics.setVariance(bn, q.getParam(QuantizedConvBatchNormParamInitializer.VAR_KEY));
                i++;
                continue;
            }
            for (Map.Entry<String, INDArray> e : f.paramTable().entrySet()) {
                INDArray v = q.paramTable().get(e.getKey());
                if (v == null) {
                    throw new IllegalArgumentException("unwrap: layer " + i + " of the wrapped network has no parameter '" + e.getKey() + "'");
                }
                f.setParam(e.getKey(), v.dup());
            }
        }
        return out;
    }

    private static Layer[] layersOf(Model model) {
        return model instanceof MultiLayerNetwork m ? m.getLayers() : ((ComputationGraph) model).getLayers();
    }

    /** Every quantized layer configuration of a network, in layer order. */
    public static List<QuantizedLayerConf> quantizedLayers(Model model) {
        List<QuantizedLayerConf> out = new ArrayList<>();
        Layer[] layers = layersOf(model);
        for (Layer l : layers) {
            if (l.conf().getLayer() instanceof QuantizedLayerConf q) {
                out.add(q);
            }
        }
        return out;
    }

    /** Switches fake quantization on or off in every quantized layer (parameters are kept). */
    public static void setQuantizationEnabled(Model model, boolean enabled) {
        for (QuantizedLayerConf q : quantizedLayers(model)) {
            q.getQuant().setEnabled(enabled);
        }
    }

    /** Freezes (false) or resumes (true) the FIXED input observers of every quantized layer. */
    public static void setObserversEnabled(Model model, boolean enabled) {
        for (QuantizedLayerConf q : quantizedLayers(model)) {
            q.getQuant().setObserverEnabled(enabled);
        }
    }

    /**
     * Gives every input quantizer of a wrapped network its range from data, so that the network
     * runs inference at once (the calibration step after PyTorch's {@code prepare}). Each batch goes
     * through the network in inference mode (batch norms use their running statistics, dropout is
     * off, no parameter is trained), and every input quantizer, in the order the forward pass
     * reaches it, first learns from the values it receives and then quantizes them for the layers
     * after it ({@link InputQuantization#calibrating}):
     * <ul>
     *   <li>FIXED: the moving-average min-max observer records the batch's range (the first batch
     *       sets it), also when observers are off for training;</li>
     *   <li>LSQ, LSQ+: a step (and offset) not yet initialized takes its data-derived initialization
     *       from the first batch, as a first training batch would (LSQ {@code 2 mean|x| / sqrt(Qp)},
     *       LSQ+ the batch's min-max range); an initialized one is kept;</li>
     *   <li>PACT: alpha keeps its initial value (PACT has no data-derived initialization);</li>
     *   <li>signedness follows the data ({@link QuantSettings#isInputSignFromData}).</li>
     * </ul>
     * Quantizers whose quantization is switched off observe as well (their range is ready when it
     * is switched on). Weights, biases and batch-norm statistics are not changed.
     *
     * @param model   a network from {@link #wrap} (or any network with qat4j quantizers)
     * @param batches network inputs, each {@code [batch, ...]} as the network's {@code output} takes them
     * @return the number of samples passed
     * @throws IllegalArgumentException for no batches, a graph with other than one input, or a model of another kind
     * @throws IllegalStateException    naming every quantizer that saw no data
     */
    public static long calibrate(Model model, INDArray... batches) {
        return calibrate(model, java.util.Arrays.asList(batches).iterator());
    }

    /**
     * As {@link #calibrate(Model, INDArray...)} with the features of every batch of {@code data}
     * (reset first when it supports it; labels and masks are not used).
     */
    public static long calibrate(Model model, DataSetIterator data) {
        if (data.resetSupported()) {
            data.reset();
        }
        return calibrate(model, new java.util.Iterator<INDArray>() {
            @Override
            public boolean hasNext() {
                return data.hasNext();
            }

            @Override
            public INDArray next() {
                return data.next().getFeatures();
            }
        });
    }

    private static long calibrate(Model model, java.util.Iterator<INDArray> batches) {
        if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
            throw new IllegalArgumentException("calibrate: a MultiLayerNetwork or ComputationGraph is needed, got "
                    + (model == null ? "null" : model.getClass().getName()));
        }
        if (model instanceof ComputationGraph g && g.getNumInputArrays() != 1) {
            throw new IllegalArgumentException("calibrate: the graph has " + g.getNumInputArrays() + " inputs "
                    + g.getConfiguration().getNetworkInputs() + "; calibration passes one input array per batch");
        }
        long[] samples = {0};
        InputQuantization.calibrating(() -> {
            while (batches.hasNext()) {
                INDArray x = batches.next();
                if (model instanceof MultiLayerNetwork m) {
                    m.output(x, false);
                } else {
                    ((ComputationGraph) model).output(false, x);
                }
                samples[0] += x.size(0);
            }
        });
        if (samples[0] == 0) {
            throw new IllegalArgumentException("calibrate: no calibration samples were given; pass a few batches of typical inputs");
        }
        List<String> unseen = new ArrayList<>();
        for (Layer l : layersOf(model)) {
            if (l.conf().getLayer() instanceof QuantizedLayerConf && !QuantizerReadout.inputObserved(l)) {
                unseen.add(l.conf().getLayer().getLayerName());
            }
        }
        if (!unseen.isEmpty()) {
            throw new IllegalStateException("calibrate: the input quantizers of " + unseen + " saw no data in " + samples[0]
                    + " samples; they are not connected to the network input");
        }
        return samples[0];
    }

    /** Switches fake quantization of one named layer. */
    public static void setQuantizationEnabled(Model model, String layerName, boolean enabled) {
        Layer[] layers = layersOf(model);
        for (Layer l : layers) {
            if (layerName.equals(l.conf().getLayer().getLayerName()) && l.conf().getLayer() instanceof QuantizedLayerConf q) {
                q.getQuant().setEnabled(enabled);
                return;
            }
        }
        throw new IllegalArgumentException("no quantized layer named '" + layerName + "'");
    }
}
