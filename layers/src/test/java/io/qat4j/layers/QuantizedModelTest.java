package io.qat4j.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Path;
import java.util.List;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.ActivationQuantizerLayer;
import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedOutputLayer;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.ste.reference.QuantReference;

class QuantizedModelTest {

    @TempDir
    Path dir;

    /** conv -> BN -> relu -> maxpool -> deconv-free dense -> output, the shapes the reference CNN uses. */
    private static MultiLayerNetwork floatCnn() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).updater(new Adam(1e-2)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv1").nOut(6).padding(1, 1).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("fc1").nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(4).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(8, 8, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        Nd4j.getRandom().setSeed(2);
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, 1, 8, 8);
        INDArray y = Nets.oneHot(16, 4, 3);
        for (int i = 0; i < 5; i++) {
            net.fit(x, y);
        }
        return net;
    }

    @Test
    void wrapReplacesWeightedLayersFoldsBatchNormAndKeepsTheFunctionWhenDisabled() {
        MultiLayerNetwork fp = floatCnn();
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.disabled()));
        assertEquals(List.of("conv1", "fc1", "out"), w.quantized());
        assertEquals(java.util.Map.of("bn1", "conv1"), w.foldedBatchNorms(), w.summary());
        assertTrue(w.keptInFloat().isEmpty(), w.summary());
        assertTrue(w.network().getLayer(0).conf().getLayer() instanceof io.qat4j.layers.conf.QuantizedConvBatchNormLayer);
        assertTrue(w.network().getLayer(1).conf().getLayer() instanceof ActivationLayer);
        assertTrue(w.network().getLayer(4).conf().getLayer() instanceof QuantizedDenseLayer);
        assertTrue(w.network().getLayer(5).conf().getLayer() instanceof QuantizedOutputLayer);
        INDArray x = Nd4j.rand(DataType.FLOAT, 5, 1, 8, 8);
        assertTrue(Nets.maxAbsDiff(fp.output(x), w.network().output(x)) < 1e-6);
        assertTrue(fp.getLayerWiseConfigurations().getConf(0).getLayer() instanceof ConvolutionLayer
                && !(fp.getLayerWiseConfigurations().getConf(0).getLayer() instanceof QuantizedConvolutionLayer), "original untouched");
    }

    @Test
    void eightBitWrapWithCalibratedRangesStaysCloseAndSwitchesWork() {
        MultiLayerNetwork fp = floatCnn();
        QuantSettings w8a8 = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.FIXED, 8);
        QuantizationPlan plan = QuantizationPlan.builder(w8a8).inputRange("conv1", 0, 1).inputRange("fc1", 0, 4).inputRange("out", 0, 6)
                .build();
        MultiLayerNetwork q = QuantizedModel.wrap(fp, plan).network();
        INDArray x = Nd4j.rand(DataType.FLOAT, 20, 1, 8, 8);
        INDArray expected = fp.output(x);
        INDArray quantized = q.output(x);
        assertTrue(Nets.maxAbsDiff(expected, quantized) < 0.05, "8-bit output close: " + Nets.maxAbsDiff(expected, quantized));
        assertNotEquals(expected, quantized);
        QuantizedModel.setQuantizationEnabled(q, false);
        assertTrue(Nets.maxAbsDiff(expected, q.output(x)) < 1e-6, "disabled again equals float");
        QuantizedModel.setQuantizationEnabled(q, true);

        // observers off: a training step does not move the FIXED ranges; on: it does
        INDArray y = Nets.oneHot(20, 4, 9);
        QuantizedModel.setObserversEnabled(q, false);
        INDArray before = q.getLayer(4).getParam(QuantizerParams.INPUT_MAX_KEY).dup();
        q.fit(x, y);
        assertEquals(before, q.getLayer(4).getParam(QuantizerParams.INPUT_MAX_KEY));
        QuantizedModel.setObserversEnabled(q, true);
        q.fit(x.mul(3), y);
        assertNotEquals(before, q.getLayer(4).getParam(QuantizerParams.INPUT_MAX_KEY));
        assertThrows(IllegalArgumentException.class, () -> QuantizedModel.setQuantizationEnabled(q, "nope", false));
    }

    @Test
    void inferenceBeforeAnyDataIsAClearError() {
        MultiLayerNetwork q = QuantizedModel.wrap(floatCnn(), QuantizationPlan.uniform(
                QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.FIXED, 4))).network();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> q.output(Nd4j.rand(DataType.FLOAT, 2, 1, 8, 8)));
        assertTrue(e.getMessage().contains("'conv1'") && e.getMessage().contains("QuantizedModel.calibrate"), e.getMessage());
    }

    @Test
    void layersThatCannotBeWrappedAreReportedByName() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new Deconvolution2D.Builder(2, 2).name("up").nOut(2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("noisy").nOut(3)
                        .weightNoise(new org.deeplearning4j.nn.conf.weightnoise.DropConnect(0.8)).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(4, 4, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        QuantizedModel.Wrapped<MultiLayerNetwork> w = QuantizedModel.wrap(net, QuantizationPlan.builder(QuantSettings.disabled())
                .keepFloat("out").build());
        assertTrue(w.keptInFloat().get("up").contains("Deconvolution2D"), w.summary());
        assertTrue(w.keptInFloat().get("noisy").contains("weight noise"), w.summary());
        assertTrue(w.keptInFloat().get("out").contains("plan"), w.summary());
        assertTrue(w.quantized().isEmpty());
    }

    @Test
    void computationGraphsWrapSerializeAndRestoreBitIdentically() throws Exception {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(4).updater(new Adam(1e-2)).graphBuilder()
                .addInputs("in")
                .addLayer("conv0", new ConvolutionLayer.Builder(3, 3).nOut(3).padding(1, 1).activation(Activation.IDENTITY).build(), "in")
                .addLayer("bn0", new BatchNormalization.Builder().build(), "conv0")
                .addLayer("relu0", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn0")
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).activation(Activation.RELU).build(), "relu0")
                .addLayer("fc", new DenseLayer.Builder().nOut(8).activation(Activation.RELU).build(), "conv")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build(), "fc")
                .setOutputs("out").setInputTypes(InputType.convolutional(6, 6, 2)).build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        INDArray x = Nd4j.rand(DataType.FLOAT, 4, 2, 6, 6);
        g.fit(new org.nd4j.linalg.dataset.DataSet(x, Nets.oneHot(4, 3, 1)));   // non-trivial BN statistics
        QuantizedModel.Wrapped<ComputationGraph> off = QuantizedModel.wrap(g, QuantizationPlan.uniform(QuantSettings.disabled()));
        assertEquals(List.of("conv0", "conv", "fc", "out"), off.quantized());
        assertEquals(java.util.Map.of("bn0", "conv0"), off.foldedBatchNorms());
        assertTrue(Nets.maxAbsDiff(g.outputSingle(x), off.network().outputSingle(x)) < 1e-6);

        ComputationGraph q = QuantizedModel.wrap(g, QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4)))
                .network();
        q.fit(new org.nd4j.linalg.dataset.DataSet(x, Nets.oneHot(4, 3, 1)));   // first batch initializes the LSQ input steps
        INDArray before = q.outputSingle(x);
        File file = dir.resolve("g.zip").toFile();
        ModelSerializer.writeModel(q, file, true);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(file, true);
        assertEquals(q.getConfiguration(), restored.getConfiguration());
        assertEquals(before, restored.outputSingle(x));
        assertEquals(q.getUpdater().getStateViewArray(), restored.getUpdater().getStateViewArray());
    }

    @Test
    void activationQuantizerLayerQuantizesItsInputAndPassesTheSteGradient() {
        QuantSettings s = QuantSettings.of(WeightQuantMode.NONE, 8, InputQuantMode.LSQ, 3);
        s.setInputSigned(true);
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).dataType(DataType.DOUBLE).list()
                .layer(new DenseLayer.Builder().nOut(6).activation(Activation.IDENTITY).build())
                .layer(ActivationQuantizerLayer.of("aq", s))
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(6).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(4)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        assertEquals(MultiLayerConfiguration.fromJson(conf.toJson()), conf);
        net.getLayer(1).getParam(QuantizerParams.INPUT_STEP_KEY).assign(0.25);
        net.getLayer(1).getParam(QuantizerParams.INPUT_COUNT_KEY).assign(1);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 5, 4);
        List<INDArray> acts = net.feedForward(x, false);
        double[] pre = acts.get(1).dup().data().asDouble();
        double[] expected = QuantReference.fakeQuant(pre, new long[] {pre.length}, InputQuantizationSpecs.lsq(s), new double[] {0.25},
                new int[1], null);
        assertEquals(0.0, Nets.maxAbsDiff(Nd4j.createFromArray(expected).reshape(5, 6), acts.get(2)), 1e-12);
        net.setInput(x);
        net.setLabels(Nd4j.randn(DataType.DOUBLE, 5, 6));
        net.computeGradientAndScore();
        assertTrue(net.gradient().getGradientFor("1_" + QuantizerParams.INPUT_STEP_KEY).getDouble(0) != 0.0);
        assertThrows(IllegalArgumentException.class, () -> ActivationQuantizerLayer.of("none", QuantSettings.of(WeightQuantMode.NONE, 8,
                InputQuantMode.NONE, 8)));
    }

    /** The spec the layers use for LSQ inputs (a thin alias for the test). */
    static final class InputQuantizationSpecs {
        static io.qat4j.ste.QuantSpec lsq(QuantSettings s) {
            return io.qat4j.layers.impl.InputQuantization.spec(s);
        }
    }
}
