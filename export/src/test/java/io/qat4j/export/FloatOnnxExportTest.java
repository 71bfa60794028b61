package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.DoubleSupplier;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.L2NormalizeVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.zoo.model.LeNet;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.qat4j.layers.BatchNormStatistics;
import onnx.Onnx;

/**
 * The float ONNX export of small networks of each architecture family (random weights and biases,
 * random batch-norm statistics) runs in ONNX Runtime with DL4J's {@code output()} on random inputs,
 * to within {@value #TOLERANCE} (float32 summation order). Each comparison also checks that the
 * outputs differ between samples by far more than the tolerance, so that a wrong mapping cannot
 * hide behind a flat output.
 */
class FloatOnnxExportTest {

    static final double TOLERANCE = 1e-4;

    /** Random biases (N(0, 0.3)) and batch-norm gamma, beta, running mean and running variance for every layer. */
    static void randomizeBiasesAndStatistics(Layer[] layers, long seed) {
        Random r = new Random(seed);
        for (Layer layer : layers) {
            Set<String> keys = layer.paramTable().keySet();
            if (layer.conf().getLayer() instanceof BatchNormalization) {
                for (String key : keys) {
                    switch (key) {
                        case BatchNormalizationParamInitializer.GAMMA -> layer.setParam(key, like(layer.getParam(key), () -> 0.5 + r.nextDouble()));
                        case BatchNormalizationParamInitializer.BETA -> layer.setParam(key, like(layer.getParam(key), () -> 0.5 * r.nextGaussian()));
                        case BatchNormalizationParamInitializer.GLOBAL_MEAN -> layer.setParam(key, like(layer.getParam(key), () -> 0.5 * r.nextGaussian()));
                        default -> {
                            // the running variance in either storage, set below
                        }
                    }
                }
                INDArray mean = layer.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN);
                BatchNormStatistics.setVariance(layer, like(mean, () -> 0.2 + 1.8 * r.nextDouble()));
            } else if (keys.contains(DefaultParamInitializer.BIAS_KEY)) {
                layer.setParam(DefaultParamInitializer.BIAS_KEY, like(layer.getParam(DefaultParamInitializer.BIAS_KEY), () -> 0.3 * r.nextGaussian()));
            }
        }
    }

    private static INDArray like(INDArray a, DoubleSupplier values) {
        double[] v = new double[(int) a.length()];
        for (int i = 0; i < v.length; i++) {
            v[i] = values.getAsDouble();
        }
        return Nd4j.create(v).reshape(a.shape()).castTo(a.dataType());
    }

    /** {@code n} examples of shape {@code dims}, N(0, scale^2), float32. */
    static INDArray gaussian(long seed, double scale, int n, int... dims) {
        long[] shape = new long[dims.length + 1];
        shape[0] = n;
        int size = n;
        for (int i = 0; i < dims.length; i++) {
            shape[i + 1] = dims[i];
            size *= dims[i];
        }
        Random r = new Random(seed);
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) (scale * r.nextGaussian());
        }
        return Nd4j.create(v).reshape(shape);
    }

    /**
     * Runs {@code model} in ONNX Runtime on {@code x} and asserts its output has DL4J's shape and is
     * within {@link #TOLERANCE} of {@code expected} everywhere, and that {@code expected} varies
     * between samples by more than 100 tolerances. Returns the largest difference.
     */
    static double assertOrtEqualsDl4j(String label, Onnx.ModelProto model, INDArray x, INDArray expected) throws Exception {
        assertEquals(OnnxExporter.OPSET, model.getOpsetImport(0).getVersion());
        float[] want = expected.castTo(DataType.FLOAT).dup('c').data().asFloat();
        float[] got;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model.toByteArray(), opts);
                 OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.castTo(DataType.FLOAT).dup('c').data().asFloat()), x.shape());
                 OrtSession.Result r = session.run(Map.of(FloatOnnxExporter.INPUT, in))) {
                OnnxTensor out = (OnnxTensor) r.get(FloatOnnxExporter.OUTPUT).orElseThrow();
                assertArrayEquals(expected.shape(), out.getInfo().getShape(), label + ": ONNX output shape");
                FloatBuffer fb = out.getFloatBuffer();
                got = new float[fb.remaining()];
                fb.get(got);
            }
        }
        int perSample = want.length / (int) expected.size(0);
        double maxDiff = 0;
        double spread = 0;
        for (int i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
            spread = Math.max(spread, Math.abs(want[i] - want[i % perSample]));
        }
        System.out.printf("float ONNX vs DL4J output(), %s: max |difference| %.2e, outputs vary between samples by up to %.3f%n",
                label, maxDiff, spread);
        assertTrue(spread > 100 * TOLERANCE, label + ": outputs barely vary between samples (" + spread + "); the comparison would prove little");
        assertTrue(maxDiff < TOLERANCE, label + ": ONNX Runtime output differs from DL4J's output() by " + maxDiff);
        return maxDiff;
    }

    static void check(String label, MultiLayerNetwork net, INDArray x) throws Exception {
        int[] dims = new int[x.rank() - 1];
        for (int i = 1; i < x.rank(); i++) {
            dims[i - 1] = (int) x.size(i);
        }
        assertOrtEqualsDl4j(label, FloatOnnxExporter.export(net, dims), x, net.output(x, false));
    }

    static void check(String label, ComputationGraph graph, INDArray x) throws Exception {
        int[] dims = new int[x.rank() - 1];
        for (int i = 1; i < x.rank(); i++) {
            dims[i - 1] = (int) x.size(i);
        }
        assertOrtEqualsDl4j(label, FloatOnnxExporter.export(graph, dims), x, graph.outputSingle(false, x));
    }

    private static MultiLayerNetwork init(MultiLayerConfiguration conf, long seed) {
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        randomizeBiasesAndStatistics(net.getLayers(), seed);
        return net;
    }

    private static ComputationGraph init(ComputationGraphConfiguration conf, long seed) {
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        randomizeBiasesAndStatistics(g.getLayers(), seed);
        return g;
    }

    private static ConvolutionLayer.Builder conv(int k, int nOut, Activation act) {
        return new ConvolutionLayer.Builder(k, k).nOut(nOut).activation(act);
    }

    private static BatchNormalization bn() {
        return new BatchNormalization.Builder().build();
    }

    private static ActivationLayer act(Activation a) {
        return new ActivationLayer.Builder().activation(a).build();
    }

    /**
     * Same-mode convolutions with asymmetric padding (3x3 stride 2 on height 12, 2x2 stride 1),
     * dilation, no bias; LeakyReLU; average pooling in Same mode with the padding excluded from and
     * included in the divisor; Truncate-mode convolution and max pooling with explicit padding; dense.
     * The input is flat ([N, 2*12*11]) through a FeedForwardToCnnPreProcessor of two non-square channels.
     */
    @Test
    void sameModeConvolutionsLeakyReluAndAveragePooling() throws Exception {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(11).weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same).list()
                .layer(conv(3, 6, Activation.IDENTITY).name("same3x3").activation(new ActivationLReLU(0.1)).build())
                .layer(new BatchNormalization.Builder().name("bn").build())
                .layer(conv(3, 6, Activation.LEAKYRELU).name("same3x3-stride2").stride(2, 2).build())
                .layer(conv(2, 5, Activation.IDENTITY).name("same2x2-no-bias").hasBias(false).build())
                .layer(conv(3, 5, Activation.IDENTITY).name("same3x3-dilation2").dilation(2, 2).activation(new ActivationLReLU(0.2)).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.AVG).name("avg-same-pad-excluded").kernelSize(3, 3).stride(2, 2)
                        .avgPoolIncludePadInDivisor(false).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.AVG).name("avg-same-pad-included").kernelSize(2, 2).stride(1, 1)
                        .avgPoolIncludePadInDivisor(true).build())
                .layer(conv(3, 4, Activation.RELU).name("truncate-padded").convolutionMode(ConvolutionMode.Truncate).padding(1, 0).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("max-truncate-padded").kernelSize(2, 2).stride(1, 1)
                        .convolutionMode(ConvolutionMode.Truncate).padding(1, 1).build())
                .layer(new DenseLayer.Builder().name("dense").nOut(16).activation(new ActivationLReLU(0.05)).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).name("out").nOut(5).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutionalFlat(12, 11, 2)).build();
        assertInstanceOf(FeedForwardToCnnPreProcessor.class, conf.getInputPreProcess(0));
        check("Same-mode CNN, LeakyReLU, average pooling", init(conf, 1), gaussian(2, 1.0, 16, 2 * 12 * 11));
    }

    /** DL4J zoo LeNet as DL4J builds it: flat 784 input through its FeedForwardToCnnPreProcessor, Same-mode convolutions, softmax. */
    @Test
    void zooLeNet() throws Exception {
        MultiLayerConfiguration conf = LeNet.builder().numClasses(10).inputShape(new int[] {1, 28, 28}).build().conf();
        assertInstanceOf(FeedForwardToCnnPreProcessor.class, conf.getInputPreProcess(0));
        MultiLayerNetwork net = init(conf, 3);
        check("zoo LeNet", net, gaussian(4, 1.0, 8, 784));
    }

    /** conv-BN-ReLU-conv-BN-Add(shortcut)-ReLU twice (the second block strided with a 1x1 stride-2 projection), global average pool, softmax. */
    @Test
    void resNetStyleGraph() throws Exception {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("in")
                .addLayer("stem", conv(3, 8, Activation.IDENTITY).build(), "in")
                .addLayer("stem_bn", bn(), "stem")
                .addLayer("stem_relu", act(Activation.RELU), "stem_bn")
                .addLayer("b1_conv1", conv(3, 8, Activation.IDENTITY).build(), "stem_relu")
                .addLayer("b1_bn1", bn(), "b1_conv1")
                .addLayer("b1_relu1", act(Activation.RELU), "b1_bn1")
                .addLayer("b1_conv2", conv(3, 8, Activation.IDENTITY).build(), "b1_relu1")
                .addLayer("b1_bn2", bn(), "b1_conv2")
                .addVertex("b1_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "b1_bn2", "stem_relu")
                .addLayer("b1_relu", act(Activation.RELU), "b1_add")
                .addLayer("b2_conv1", conv(3, 12, Activation.IDENTITY).stride(2, 2).build(), "b1_relu")
                .addLayer("b2_bn1", bn(), "b2_conv1")
                .addLayer("b2_relu1", act(Activation.RELU), "b2_bn1")
                .addLayer("b2_conv2", conv(3, 12, Activation.IDENTITY).build(), "b2_relu1")
                .addLayer("b2_bn2", bn(), "b2_conv2")
                .addLayer("b2_proj", conv(1, 12, Activation.IDENTITY).stride(2, 2).build(), "b1_relu")
                .addLayer("b2_proj_bn", bn(), "b2_proj")
                .addVertex("b2_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "b2_bn2", "b2_proj_bn")
                .addLayer("b2_relu", act(Activation.RELU), "b2_add")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "b2_relu")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(6).activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").setInputTypes(InputType.convolutional(10, 10, 3)).build();
        check("ResNet-style graph", init(conf, 6), gaussian(7, 1.0, 12, 3, 10, 10));
    }

    /** Four branches (1x1, 3x3, 5x5, max pool + 1x1) concatenated on channels by a MergeVertex, BN, pooling, dense through CnnToFeedForward. */
    @Test
    void inceptionStyleGraph() throws Exception {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(8).weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("in")
                .addLayer("stem", conv(3, 6, Activation.RELU).build(), "in")
                .addLayer("b1x1", conv(1, 4, Activation.RELU).build(), "stem")
                .addLayer("b3x3_reduce", conv(1, 3, Activation.RELU).build(), "stem")
                .addLayer("b3x3", conv(3, 5, Activation.RELU).build(), "b3x3_reduce")
                .addLayer("b5x5_reduce", conv(1, 2, Activation.RELU).build(), "stem")
                .addLayer("b5x5", conv(5, 3, Activation.RELU).build(), "b5x5_reduce")
                .addLayer("bpool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(1, 1).build(), "stem")
                .addLayer("bpool_proj", conv(1, 2, Activation.RELU).build(), "bpool")
                .addVertex("concat", new MergeVertex(), "b1x1", "b3x3", "b5x5", "bpool_proj")
                .addLayer("concat_bn", bn(), "concat")
                .addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Truncate).build(), "concat_bn")
                .addLayer("dense", new DenseLayer.Builder().nOut(10).activation(Activation.TANH).build(), "pool")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(4).activation(Activation.IDENTITY).build(), "dense")
                .setOutputs("out").setInputTypes(InputType.convolutional(9, 9, 3)).build();
        check("Inception-style graph", init(conf, 9), gaussian(10, 1.0, 12, 3, 9, 9));
    }

    /** Strided conv, BN, ReLU6, depthwise (multiplier 2), separable (multipliers 2 and 1, strided, no bias), global average pool. */
    @Test
    void mobileNetStyleNetwork() throws Exception {
        // N(0, 0.35) weights: DL4J's Xavier counts nIn in a depthwise kernel's fan-in, and the output would barely vary
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(12).weightInit(new NormalDistribution(0, 0.35))
                .convolutionMode(ConvolutionMode.Same).list()
                .layer(conv(3, 8, Activation.IDENTITY).name("conv0").stride(2, 2).build())
                .layer(new BatchNormalization.Builder().name("conv0_bn").build())
                .layer(new ActivationLayer.Builder().name("conv0_relu6").activation(Activation.RELU6).build())
                .layer(new DepthwiseConvolution2D.Builder(3, 3).name("dw1").depthMultiplier(2).nOut(16).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("dw1_bn").build())
                .layer(new ActivationLayer.Builder().name("dw1_relu6").activation(Activation.RELU6).build())
                .layer(new DepthwiseConvolution2D.Builder(3, 3).name("dw2-stride2").depthMultiplier(1).stride(2, 2).nOut(16)
                        .activation(Activation.RELU6).build())
                .layer(new SeparableConvolution2D.Builder(3, 3).name("sep1").depthMultiplier(2).nOut(12).activation(Activation.RELU6).build())
                .layer(new SeparableConvolution2D.Builder(3, 3).name("sep2-stride2-no-bias").depthMultiplier(1).stride(2, 2).hasBias(false)
                        .nOut(10).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().name("sep2_bn").build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("pool").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).name("out").nOut(5).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(16, 14, 3)).build();
        check("MobileNet-style network", init(conf, 13), gaussian(14, 1.0, 10, 3, 16, 14));
    }

    /** Encoder conv, max pool, asymmetric zero padding, Truncate conv, asymmetric cropping, non-square upsampling, skip concat; a CNN output. */
    @Test
    void uNetStyleGraph() throws Exception {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(15).weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("in")
                .addLayer("enc", conv(3, 8, Activation.RELU).build(), "in")                                            // 8x12x12
                .addLayer("down", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "enc")   // 8x6x6
                .addLayer("pad", new ZeroPaddingLayer.Builder(1, 2, 3, 0).build(), "down")                             // 8x9x9
                .addLayer("mid", conv(3, 8, Activation.RELU).convolutionMode(ConvolutionMode.Truncate).build(), "pad")  // 8x7x7
                .addLayer("crop", new Cropping2D.Builder(1, 0, 1, 0).build(), "mid")                                   // 8x6x6
                .addLayer("up", new Upsampling2D.Builder().size(new int[] {3, 2}).build(), "crop")                      // 8x18x12
                .addLayer("crop_up", new Cropping2D.Builder(4, 2, 0, 0).build(), "up")                                 // 8x12x12
                .addVertex("skip", new MergeVertex(), "enc", "crop_up")                                               // 16x12x12
                .addLayer("dec", conv(3, 4, Activation.RELU).build(), "skip")
                .addLayer("head", conv(1, 2, Activation.IDENTITY).build(), "dec")
                .setOutputs("head").setInputTypes(InputType.convolutional(12, 12, 2)).build();
        check("UNet-style graph", init(conf, 16), gaussian(17, 1.0, 6, 2, 12, 12));
    }

    /**
     * Hard sigmoid, ELU, tanh, swish, hard tanh, softplus, softsign, sigmoid on inputs wide enough to
     * reach their clipping and saturating ranges; global max and average pooling merged; LossLayer softmax.
     */
    @Test
    void activationsAndGlobalPooling() throws Exception {
        // N(0, 0.5) weights: wide pre-activations through the saturating chain
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(18).weightInit(new NormalDistribution(0, 0.5))
                .convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("in")
                .addLayer("c1", conv(3, 6, Activation.IDENTITY).build(), "in")
                .addLayer("hard_sigmoid", act(Activation.HARDSIGMOID), "c1")
                .addLayer("c2_elu", conv(3, 6, Activation.IDENTITY).activation(new ActivationELU(0.7)).build(), "hard_sigmoid")
                .addLayer("tanh", act(Activation.TANH), "c2_elu")
                .addLayer("c3_swish", conv(3, 6, Activation.SWISH).build(), "tanh")
                .addLayer("hard_tanh", act(Activation.HARDTANH), "c3_swish")
                .addLayer("c4_softplus", conv(3, 6, Activation.SOFTPLUS).build(), "hard_tanh")
                .addLayer("softsign", act(Activation.SOFTSIGN), "c4_softplus")
                .addLayer("c5_sigmoid", conv(3, 6, Activation.SIGMOID).build(), "softsign")
                .addLayer("c6_elu", conv(3, 6, Activation.ELU).build(), "c5_sigmoid")
                .addLayer("gmax", new GlobalPoolingLayer.Builder(PoolingType.MAX).build(), "c6_elu")
                .addLayer("gavg", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "c6_elu")
                .addVertex("pooled", new MergeVertex(), "gmax", "gavg")
                .addLayer("dense", new DenseLayer.Builder().nOut(8).activation(Activation.IDENTITY).build(), "pooled")
                .addLayer("softmax", new LossLayer.Builder(LossFunctions.LossFunction.MCXENT).activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("softmax").setInputTypes(InputType.convolutional(10, 10, 3)).build();
        check("activations and global pooling", init(conf, 19), gaussian(20, 3.0, 12, 3, 10, 10));
    }

    /** Dropout on dense layers and a DropoutLayer are the identity at inference; BN with locked gamma and beta on a dense input. */
    @Test
    void mlpWithDropout() throws Exception {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(21).weightInit(WeightInit.XAVIER).list()
                .layer(new DenseLayer.Builder().name("d1").nOut(32).activation(Activation.RELU).dropOut(0.5).build())
                .layer(new DropoutLayer.Builder(0.3).name("dropout").build())
                .layer(new BatchNormalization.Builder().name("bn-locked").lockGammaBeta(true).gamma(1.3).beta(-0.2).build())
                .layer(new DenseLayer.Builder().name("d2").nOut(16).activation(Activation.TANH).dropOut(0.8).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(4).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(20)).build();
        check("MLP with dropout", init(conf, 22), gaussian(23, 1.0, 16, 20));
    }

    /** ElementWiseVertex Add of three (Sum), Subtract, Product, Average, Max, merged; dense through CnnToFeedForward. */
    @Test
    void elementwiseVertices() throws Exception {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(24).weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same).graphBuilder()
                .addInputs("in")
                .addLayer("a", conv(3, 4, Activation.TANH).build(), "in")
                .addLayer("b", conv(3, 4, Activation.IDENTITY).build(), "in")
                .addLayer("c", conv(1, 4, Activation.SIGMOID).build(), "in")
                .addVertex("add3", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b", "c")
                .addVertex("sub", new ElementWiseVertex(ElementWiseVertex.Op.Subtract), "a", "b")
                .addVertex("prod", new ElementWiseVertex(ElementWiseVertex.Op.Product), "a", "c")
                .addVertex("avg", new ElementWiseVertex(ElementWiseVertex.Op.Average), "a", "b", "c")
                .addVertex("max", new ElementWiseVertex(ElementWiseVertex.Op.Max), "a", "b")
                .addVertex("all", new MergeVertex(), "add3", "sub", "prod", "avg", "max")
                .addLayer("dense", new DenseLayer.Builder().nOut(8).activation(Activation.RELU).build(), "all")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(3).activation(Activation.IDENTITY).build(), "dense")
                .setOutputs("out").setInputTypes(InputType.convolutional(6, 6, 2)).build();
        check("elementwise vertices", init(conf, 25), gaussian(26, 1.0, 10, 2, 6, 6));
    }

    /** The thin entry point in OnnxExporter gives the same model. */
    @Test
    void onnxExporterFloat32DelegatesHere() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(27).list()
                .layer(new DenseLayer.Builder().nOut(4).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(3)).build();
        MultiLayerNetwork net = init(conf, 28);
        assertEquals(FloatOnnxExporter.export(net, new int[] {3}), OnnxExporter.float32(net, new int[] {3}));
    }

    private static String errorOf(MultiLayerConfiguration conf, int... dims) {
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return assertThrows(IllegalArgumentException.class, () -> FloatOnnxExporter.export(net, dims)).getMessage();
    }

    private static String errorOf(ComputationGraphConfiguration conf, int... dims) {
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return assertThrows(IllegalArgumentException.class, () -> FloatOnnxExporter.export(g, dims)).getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + message + "' should mention " + p);
        }
    }

    @Test
    void lstmIsRefusedNamingTheLayerAndListingWhatIsSupported() {
        String m = errorOf(new NeuralNetConfiguration.Builder().list()
                .layer(new LSTM.Builder().name("encoder-lstm").nOut(8).activation(Activation.TANH).build())
                .layer(new RnnOutputLayer.Builder(LossFunctions.LossFunction.MSE).name("rnn-out").nOut(2).activation(Activation.IDENTITY).build())
                .setInputType(InputType.recurrent(5)).build(), 5);
        assertMentions(m, "'encoder-lstm'", "LSTM", "ConvolutionLayer", "DepthwiseConvolution2D", "GlobalPoolingLayer", "Upsampling2D");
    }

    @Test
    void unsupportedSettingsAreRefusedByName() {
        ComputationGraphConfiguration twoInputs = new NeuralNetConfiguration.Builder().graphBuilder().addInputs("a", "b")
                .addVertex("sum", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build(), "sum")
                .setOutputs("out").setInputTypes(InputType.feedForward(3), InputType.feedForward(3)).build();
        assertMentions(errorOf(twoInputs, 3), "one network input and one output", "[a, b]");

        ComputationGraphConfiguration l2 = new NeuralNetConfiguration.Builder().graphBuilder().addInputs("in")
                .addVertex("l2norm", new L2NormalizeVertex(), "in")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build(), "l2norm")
                .setOutputs("out").setInputTypes(InputType.feedForward(3)).build();
        assertMentions(errorOf(l2, 3), "'l2norm'", "L2NormalizeVertex", "MergeVertex");

        assertMentions(errorOf(new NeuralNetConfiguration.Builder().list()
                .layer(new SubsamplingLayer.Builder(PoolingType.PNORM).name("pnorm-pool").kernelSize(2, 2).stride(2, 2).pnorm(2).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(4, 4, 1)).build(), 1, 4, 4), "'pnorm-pool'", "PNORM");

        assertMentions(errorOf(new NeuralNetConfiguration.Builder().list()
                .layer(new DenseLayer.Builder().name("gelu-dense").nOut(4).activation(Activation.GELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build())
                .setInputType(InputType.feedForward(3)).build(), 3), "'gelu-dense'", "ActivationGELU", "ActivationLReLU");

        assertMentions(errorOf(new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("nhwc-conv").nOut(2).dataFormat(CNN2DFormat.NHWC).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(5, 5, 1, CNN2DFormat.NHWC)).build(), 1, 5, 5), "'nhwc-conv'", "NHWC");

        assertMentions(errorOf(new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("cnn-softmax").nOut(2).activation(Activation.SOFTMAX).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(5, 5, 1)).build(), 1, 5, 5), "'cnn-softmax'", "softmax");

        MultiLayerNetwork dense = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().list()
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(3).nOut(2).activation(Activation.IDENTITY).build()).build());
        dense.init();
        String inputDims = assertThrows(IllegalArgumentException.class, () -> FloatOnnxExporter.export(dense, new int[] {1, 3})).getMessage();
        assertMentions(inputDims, "[1, 3]", "{features} or {channels, height, width}");
    }
}
