package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;

/**
 * {@link QuantizedModel#wrap} of a small MobileNet-style network, conv -> BN -> ReLU ->
 * depthwise (multiplier 2) -> BN -> ReLU -> separable -> BN -> ReLU -> global average pool -> output:
 * the depthwise and separable layers become their quantized twins, each batch norm is folded (the
 * first one trained folded with the convolution, the others folded once into the depthwise and
 * pointwise weights), the wrapped network computes the float function with quantization disabled,
 * and at W8A8 it trains without NaN and keeps telling the classes apart.
 */
class MobileNetWrapTest {

    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path dir;

    private static final int CLASSES = 3;
    private static final int SIZE = 8;

    /** A bright 3x3 square at one of three places (the class) on a noisy 8x8 image. */
    static DataSet squares(int n, long seed) {
        java.util.Random r = new java.util.Random(seed);
        INDArray x = Nd4j.zeros(DataType.FLOAT, n, 1, SIZE, SIZE);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, CLASSES);
        int[][] corner = {{0, 0}, {2, 3}, {5, 5}};
        for (int i = 0; i < n; i++) {
            int k = i % CLASSES;
            y.putScalar(i, k, 1f);
            for (int a = 0; a < SIZE; a++) {
                for (int b = 0; b < SIZE; b++) {
                    boolean in = a >= corner[k][0] && a < corner[k][0] + 3 && b >= corner[k][1] && b < corner[k][1] + 3;
                    x.putScalar(new int[] {i, 0, a, b}, (in ? 1.0 : 0.0) + 0.2 * r.nextGaussian());
                }
            }
        }
        return new DataSet(x, y);
    }

    private static NeuralNetConfiguration.Builder base() {
        return new NeuralNetConfiguration.Builder().seed(42).updater(new Adam(1e-2)).convolutionMode(ConvolutionMode.Same);
    }

    static MultiLayerNetwork floatMobileNet() {
        MultiLayerNetwork net = new MultiLayerNetwork(base().list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv").nOut(4).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().name("relu1").activation(Activation.RELU).build())
                .layer(new DepthwiseConvolution2D.Builder(3, 3).name("dw").depthMultiplier(2).stride(2, 2).hasBias(false)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn2").build())
                .layer(new ActivationLayer.Builder().name("relu2").activation(Activation.RELU).build())
                .layer(new SeparableConvolution2D.Builder(3, 3).name("sep").nOut(8).hasBias(false).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn3").useLogStd(false).build())
                .layer(new ActivationLayer.Builder().name("relu3").activation(Activation.RELU).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(CLASSES).activation(Activation.SOFTMAX)
                        .build())
                .setInputType(InputType.convolutional(SIZE, SIZE, 1)).build());
        net.init();
        return net;
    }

    static ComputationGraph floatMobileGraph() {
        ComputationGraph g = new ComputationGraph(base().graphBuilder().addInputs("in")
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.IDENTITY).build(), "in")
                .addLayer("bn1", new BatchNormalization.Builder().build(), "conv")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("dw", new DepthwiseConvolution2D.Builder(3, 3).depthMultiplier(2).stride(2, 2).activation(Activation.IDENTITY)
                        .build(), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().build(), "dw")
                .addLayer("relu2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn2")
                .addLayer("sep", new SeparableConvolution2D.Builder(3, 3).nOut(8).activation(Activation.IDENTITY).build(), "relu2")
                .addLayer("bn3", new BatchNormalization.Builder().build(), "sep")
                .addLayer("relu3", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn3")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "relu3")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).activation(Activation.SOFTMAX)
                        .build(), "gap")
                .setOutputs("out").setInputTypes(InputType.convolutional(SIZE, SIZE, 1)).build());
        g.init();
        return g;
    }

    private static int distinctPredictions(INDArray probabilities) {
        Set<Integer> classes = new HashSet<>();
        INDArray argmax = probabilities.argMax(1);
        for (int i = 0; i < argmax.length(); i++) {
            classes.add(argmax.getInt(i));
        }
        return classes.size();
    }

    private static double accuracy(INDArray probabilities, INDArray labels) {
        INDArray p = probabilities.argMax(1);
        INDArray t = labels.argMax(1);
        int ok = 0;
        for (int i = 0; i < p.length(); i++) {
            ok += p.getInt(i) == t.getInt(i) ? 1 : 0;
        }
        return ok / (double) p.length();
    }

    private static void assertFinite(INDArray params, String what) {
        assertFalse(params.isNaN().any() || params.isInfinite().any(), what + ": NaN or infinite parameter");
    }

    @Test
    void wrapFoldsEveryBatchNormAndTrainsTheMobileNetAtW8A8() throws java.io.IOException {
        DataSet train = squares(60, 1);
        MultiLayerNetwork fp = floatMobileNet();
        for (int i = 0; i < 60; i++) {
            fp.fit(train);
        }
        double fpAccuracy = accuracy(fp.output(train.getFeatures()), train.getLabels());
        assertTrue(fpAccuracy > 0.9, "the float network learns the task first: accuracy " + fpAccuracy);

        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.of(
                WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8)));
        MultiLayerNetwork q = w.network();
        assertEquals(List.of("conv", "dw", "sep", "out"), w.quantized(), w.summary());
        assertEquals(Map.of("bn1", "conv", "bn2", "dw", "bn3", "sep"), w.foldedBatchNorms(), w.summary());
        assertTrue(w.keptInFloat().isEmpty(), w.summary());
        assertTrue(q.getLayer(0).conf().getLayer() instanceof QuantizedConvBatchNormLayer);
        assertTrue(q.getLayer(3).conf().getLayer() instanceof QuantizedDepthwiseConvolutionLayer dw && dw.hasBias(),
                "the depthwise convolution gained a bias to hold the folded batch norm");
        assertTrue(q.getLayer(6).conf().getLayer() instanceof QuantizedSeparableConvolutionLayer sep && sep.hasBias());
        for (int i : new int[] {4, 7}) {
            assertTrue(q.getLayer(i).conf().getLayer() instanceof ActivationLayer, "batch norm " + i + " became the identity");
        }

        // quantization off: the folded network is the float network (batch norms at their running statistics)
        INDArray x = train.getFeatures();
        QuantizedModel.setQuantizationEnabled(q, false);
        assertTrue(Nets.maxAbsDiff(fp.output(x), q.output(x)) < 1e-4, "disabled: " + Nets.maxAbsDiff(fp.output(x), q.output(x)));
        QuantizedModel.setQuantizationEnabled(q, true);

        for (int i = 0; i < 8; i++) {
            q.fit(train);
            assertTrue(Double.isFinite(q.score()), "step " + i + ": score " + q.score());
        }
        assertFinite(q.params(), "wrapped network after 8 QAT steps");
        INDArray out = q.output(x);
        assertTrue(distinctPredictions(out) >= 2, "the QAT network predicts more than one class");
        double qAccuracy = accuracy(out, train.getLabels());
        assertTrue(qAccuracy > 0.8, "W8A8 keeps the float network's accuracy " + fpAccuracy + ": " + qAccuracy);
        // the separable layer's input is post-ReLU (unsigned), its depthwise output is not: the two quantizers differ
        QuantizedSeparableConvolutionLayer sep = (QuantizedSeparableConvolutionLayer) q.getLayer(6).conf().getLayer();
        assertFalse(sep.getQuant().isInputSigned(), "input quantizer of 'sep' stays unsigned");
        assertTrue(sep.isMidInputSigned(), "mid quantizer of 'sep' became signed from its data");

        // the trained QAT network (mid signedness included) survives save and restore bit-identically
        java.io.File file = dir.resolve("mobilenet-qat.zip").toFile();
        org.deeplearning4j.util.ModelSerializer.writeModel(q, file, true);
        MultiLayerNetwork restored = org.deeplearning4j.util.ModelSerializer.restoreMultiLayerNetwork(file, true);
        assertEquals(q.getLayerWiseConfigurations(), restored.getLayerWiseConfigurations());
        assertTrue(((QuantizedSeparableConvolutionLayer) restored.getLayer(6).conf().getLayer()).isMidInputSigned());
        assertEquals(out, restored.output(x), "bit-identical output after restore");
    }

    @Test
    void wrapFoldsTheBatchNormsOfAComputationGraphToo() {
        DataSet train = squares(30, 2);
        ComputationGraph fp = floatMobileGraph();
        for (int i = 0; i < 20; i++) {
            fp.fit(train);
        }
        QuantizedModel.Wrapped<ComputationGraph> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.of(
                WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8)));
        ComputationGraph q = w.network();
        assertEquals(Map.of("bn1", "conv", "bn2", "dw", "bn3", "sep"), w.foldedBatchNorms(), w.summary());
        assertTrue(w.quantized().containsAll(List.of("conv", "dw", "sep", "out")), w.summary());
        assertTrue(q.getLayer("dw").conf().getLayer() instanceof QuantizedDepthwiseConvolutionLayer);
        assertTrue(q.getLayer("sep").conf().getLayer() instanceof QuantizedSeparableConvolutionLayer);
        INDArray x = train.getFeatures();
        QuantizedModel.setQuantizationEnabled(q, false);
        assertTrue(Nets.maxAbsDiff(fp.outputSingle(x), q.outputSingle(x)) < 1e-4, "disabled graph: "
                + Nets.maxAbsDiff(fp.outputSingle(x), q.outputSingle(x)));
        QuantizedModel.setQuantizationEnabled(q, true);
        for (int i = 0; i < 4; i++) {
            q.fit(train);
            assertTrue(Double.isFinite(q.score()), "graph step " + i + ": score " + q.score());
        }
        assertFinite(q.params(), "wrapped graph after 4 QAT steps");
    }

    @Test
    void aPlanSetsTheMidQuantizerRangeSoTheWrappedNetworkRunsInferenceAtOnce() {
        MultiLayerNetwork fp = floatMobileNet();
        QuantizationPlan.Builder plan = QuantizationPlan.builder(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.FIXED, 8));
        for (String layer : new String[] {"conv", "dw", "sep", "out"}) {
            plan.inputRange(layer, 0, 2);
        }
        plan.inputRange(QuantizedSeparableConvolutionLayer.midQuantizerName("sep"), -3, 3);
        plan.inputRange("relu3_aq", 0, 2);   // the quantizer wrap places before the global average pool
        MultiLayerNetwork q = QuantizedModel.wrap(fp, plan.build()).network();
        QuantizedSeparableConvolutionLayer sep = (QuantizedSeparableConvolutionLayer) q.getLayer(6).conf().getLayer();
        assertTrue(sep.isMidInputSigned(), "a range below 0 makes the mid quantizer signed");
        QuantizerReadout.InputGrid grid = QuantizerReadout.midInputGrid(q.getLayer(6), "sep");
        assertEquals(6.0 / 255, grid.scale(), 1e-12, "FIXED 8-bit signed grid over [-3, 3]");
        INDArray out = q.output(squares(6, 3).getFeatures());
        assertFinite(out, "inference right after wrap");
        // without the mid range, inference names the mid quantizer that has seen no data
        QuantizationPlan.Builder noMid = QuantizationPlan.builder(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.FIXED, 8));
        for (String layer : new String[] {"conv", "dw", "sep", "relu3_aq", "out"}) {
            noMid.inputRange(layer, 0, 2);
        }
        MultiLayerNetwork q2 = QuantizedModel.wrap(fp, noMid.build()).network();
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> q2.output(squares(6, 3).getFeatures()));
        assertTrue(e.getMessage().contains("'sep/mid'"), e.getMessage());
    }

    @Test
    void aPlanGivesBothKernelsOfASeparableLayerTheirWeightScales() {
        MultiLayerNetwork fp = floatMobileNet();
        double[] depthwise = new double[8];   // sep: nIn 8, multiplier 1 -> 8 depthwise channels; nOut 8 pointwise channels
        double[] pointwise = new double[8];
        for (int i = 0; i < 8; i++) {
            depthwise[i] = 0.01 * (i + 1);
            pointwise[i] = 0.002 * (i + 1);
        }
        QuantizationPlan.Builder plan = QuantizationPlan.builder(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))
                .weightScales("sep", depthwise)
                .weightScales(QuantizedSeparableConvolutionLayer.pointwiseName("sep"), pointwise);
        MultiLayerNetwork q = QuantizedModel.wrap(fp, plan.build()).network();
        org.deeplearning4j.nn.api.Layer sep = q.getLayer("sep");
        assertEquals("sep/pointwise", QuantizedSeparableConvolutionLayer.pointwiseName("sep"));
        assertTrue(java.util.Arrays.equals(toFloats(depthwise), sep.getParam("Ws").toFloatVector()), "depthwise steps "
                + sep.getParam("Ws"));
        assertTrue(java.util.Arrays.equals(toFloats(pointwise), sep.getParam("pWs").toFloatVector()), "pointwise steps "
                + sep.getParam("pWs"));
        assertEquals(8, QuantizerReadout.pointwiseWeightCodes(sep, "sep").scales().length);
        assertEquals(pointwise[3], QuantizerReadout.pointwiseWeightCodes(sep, "sep").scales()[3], 1e-9);
        // a count that does not fit the pointwise kernel names the part
        QuantizationPlan bad = QuantizationPlan.builder(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8))
                .weightScales(QuantizedSeparableConvolutionLayer.pointwiseName("sep"), new double[] {0.1, 0.2}).build();
        String m = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> QuantizedModel.wrap(fp, bad))
                .getMessage();
        assertTrue(m.contains("'sep/pointwise'") && m.contains("2 weight scales") && m.contains("8 weight steps"), m);
    }

    @Test
    void theDepthwiseOutputOfASeparableLayerIsWhatDl4jsDepthwiseLayerComputes() {
        // a DepthwiseConvolution2D without bias holding the separable layer's depthwise kernel (re-laid out) is the reference
        MultiLayerNetwork fp = floatMobileNet();
        org.deeplearning4j.nn.api.Layer sep = fp.getLayer("sep");
        INDArray x = fp.feedForward(squares(5, 7).getFeatures(), false).get(6);   // relu2: the separable layer's input
        MultiLayerNetwork dw = new MultiLayerNetwork(base().list()
                .layer(new DepthwiseConvolution2D.Builder(3, 3).depthMultiplier(1).hasBias(false).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(x.size(2), x.size(3), x.size(1))).build());
        dw.init();
        INDArray w = sep.getParam("W");
        dw.getLayer(0).setParam("W", DepthwiseWeightLayout.DEPTHWISE.fromChannelsFirst(DepthwiseWeightLayout.SEPARABLE.toChannelsFirst(w),
                dw.getLayer(0).getParam("W").shape()));
        INDArray expected = dw.output(x);
        INDArray got = io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl.depthwiseOutput(sep, x);
        assertEquals(0, Nets.maxAbsDiff(expected, got), 1e-6);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> io.qat4j.layers.impl.QuantizedSeparableConvolutionImpl.depthwiseOutput(fp.getLayer("dw"), x));
        assertTrue(e.getMessage().contains("'dw'") && e.getMessage().contains("not a SeparableConvolution2D"), e.getMessage());
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
