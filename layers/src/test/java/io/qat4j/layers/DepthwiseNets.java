package io.qat4j.layers;

import java.util.function.IntFunction;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Small depthwise/separable test networks, built with stock DL4J layers or their quantized twins. */
final class DepthwiseNets {

    /** Geometry of the depthwise and separable layers. */
    record Variant(int stride, int pad, int dilation, ConvolutionMode mode, boolean bias, int mult) {
        @Override
        public String toString() {
            return "stride " + stride + " pad " + pad + " dilation " + dilation + " " + mode + (bias ? "" : " no-bias") + " mult " + mult;
        }
    }

    static final int CHANNELS = 3;
    static final int SIZE = 9;

    private DepthwiseNets() {
    }

    static DepthwiseConvolution2D depthwise(Variant v, Activation act) {
        return new DepthwiseConvolution2D.Builder(3, 3).depthMultiplier(v.mult()).stride(v.stride(), v.stride())
                .padding(v.pad(), v.pad()).dilation(v.dilation(), v.dilation()).convolutionMode(v.mode()).hasBias(v.bias())
                .activation(act).build();
    }

    static SeparableConvolution2D separable(Variant v, int nOut, Activation act) {
        return new SeparableConvolution2D.Builder(3, 3).nOut(nOut).depthMultiplier(v.mult()).stride(v.stride(), v.stride())
                .padding(v.pad(), v.pad()).dilation(v.dilation(), v.dilation()).convolutionMode(v.mode()).hasBias(v.bias())
                .activation(act).build();
    }

    /** depthwise(3x3, v) -> separable(3x3, v, 4) -> dense(5) -> output(3), input 3x9x9; settings per layer (null: stock). */
    static MultiLayerNetwork mln(IntFunction<QuantSettings> s, Variant v, DataType dtype, IUpdater updater, Activation act) {
        return mln(s, v, dtype, updater, act, CHANNELS, SIZE, 4, 5);
    }

    /** As above with the input's channels and size, the separable layer's and the dense layer's outputs given. */
    static MultiLayerNetwork mln(IntFunction<QuantSettings> s, Variant v, DataType dtype, IUpdater updater, Activation act, int channels,
                                 int size, int sepOut, int denseOut) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(12345).dataType(dtype).updater(updater).list()
                .layer(Nets.maybeQuantized(depthwise(v, act), s.apply(0)))
                .layer(Nets.maybeQuantized(separable(v, sepOut, act), s.apply(1)))
                .layer(Nets.maybeQuantized(new DenseLayer.Builder().nOut(denseOut).activation(act).build(), s.apply(2)))
                .layer(Nets.maybeQuantized(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), s.apply(3)))
                .setInputType(InputType.convolutional(size, size, channels)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** The same layers as a ComputationGraph: in -> dw -> sep -> global average pool -> out. */
    static ComputationGraph graph(QuantSettings s, Variant v, DataType dtype, IUpdater updater, Activation act) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(12345).dataType(dtype).updater(updater)
                .graphBuilder().addInputs("in")
                .addLayer("dw", Nets.maybeQuantized(depthwise(v, act), s), "in")
                .addLayer("sep", Nets.maybeQuantized(separable(v, 4, act), s), "dw")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "sep")
                .addLayer("out", Nets.maybeQuantized(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), s), "pool")
                .setOutputs("out").setInputTypes(InputType.convolutional(SIZE, SIZE, CHANNELS)).build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }
}
