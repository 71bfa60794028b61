package io.qat4j.layers;

import java.util.Map;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.conf.QuantizedConvolutionLayer;
import io.qat4j.layers.conf.QuantizedDenseLayer;
import io.qat4j.layers.conf.QuantizedDepthwiseConvolutionLayer;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.layers.conf.QuantizedOutputLayer;

/** Small test networks built twice: stock DL4J layers, or the same layers quantized. */
final class Nets {

    /** Geometry of the first convolution. */
    record ConvVariant(int stride, int pad, int dilation, ConvolutionMode mode, boolean bias) {
        @Override
        public String toString() {
            return "stride " + stride + " pad " + pad + " dilation " + dilation + " " + mode + (bias ? "" : " no-bias");
        }
    }

    private Nets() {
    }

    static Layer maybeQuantized(Layer base, QuantSettings s) {
        if (s == null) {
            return base;
        }
        if (base instanceof OutputLayer o) {
            return QuantizedOutputLayer.of(o, s);
        }
        if (base instanceof DepthwiseConvolution2D d) {
            return QuantizedDepthwiseConvolutionLayer.of(d, s);
        }
        if (base instanceof SeparableConvolution2D sep) {
            return QuantizedSeparableConvolutionLayer.of(sep, s);
        }
        if (base instanceof ConvolutionLayer c) {
            return QuantizedConvolutionLayer.of(c, s);
        }
        if (base instanceof DenseLayer d) {
            return QuantizedDenseLayer.of(d, s);
        }
        return base;
    }

    /** conv(4, 3x3, variant) -> conv(3, 2x2) -> dense(5) -> output(3); tanh everywhere, input 2x9x9. */
    static MultiLayerNetwork cnn(QuantSettings s, ConvVariant v, DataType dtype, IUpdater updater, Activation act) {
        return cnnPerLayer(layer -> s, v, dtype, updater, act);
    }

    /** As above with settings per layer index (null: stock DL4J layer). */
    static MultiLayerNetwork cnnPerLayer(java.util.function.IntFunction<QuantSettings> s, ConvVariant v, DataType dtype, IUpdater updater,
                                 Activation act) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(12345).dataType(dtype).updater(updater).list()
                .layer(maybeQuantized(new ConvolutionLayer.Builder(3, 3).nOut(4).stride(v.stride(), v.stride())
                        .padding(v.pad(), v.pad()).dilation(v.dilation(), v.dilation()).convolutionMode(v.mode()).hasBias(v.bias())
                        .activation(act).build(), s.apply(0)))
                .layer(maybeQuantized(new ConvolutionLayer.Builder(2, 2).nOut(3).activation(act).build(), s.apply(1)))
                .layer(maybeQuantized(new DenseLayer.Builder().nOut(5).activation(act).build(), s.apply(2)))
                .layer(maybeQuantized(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build(), s.apply(3)))
                .setInputType(InputType.convolutional(9, 9, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Copies every parameter the source has into the same key of the target. */
    static void copyParams(MultiLayerNetwork from, MultiLayerNetwork to) {
        for (int i = 0; i < from.getnLayers(); i++) {
            for (Map.Entry<String, INDArray> e : from.getLayer(i).paramTable().entrySet()) {
                to.getLayer(i).setParam(e.getKey(), e.getValue().dup());
            }
        }
    }

    static double maxAbsDiff(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    }

    static INDArray oneHot(int n, int classes, long seed) {
        INDArray y = org.nd4j.linalg.factory.Nd4j.zeros(DataType.FLOAT, n, classes);
        java.util.Random r = new java.util.Random(seed);
        for (int i = 0; i < n; i++) {
            y.putScalar(i, r.nextInt(classes), 1f);
        }
        return y;
    }
}
