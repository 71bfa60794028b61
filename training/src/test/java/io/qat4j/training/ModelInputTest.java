package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
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

import io.qat4j.layers.ReferenceCnn;

/** {@link ModelInput}: what a network takes, read from its layers, and data turned into that layout or refused naming both shapes. */
class ModelInputTest {

    private static DataSet images(int n, int c, int h, int w) {
        INDArray x = Nd4j.create(DataType.FLOAT, n, c, h, w);
        for (long i = 0; i < x.length(); i++) {
            x.data().put(i, i % 97);
        }
        return new DataSet(x, Nd4j.zeros(DataType.FLOAT, n, 2));
    }

    @Test
    void convolutionFirstNetworksTakeImagesOfTheirChannelsAndFormat() {
        MultiLayerNetwork cnn = ReferenceCnn.build(1, new Adam(1e-3), 0, 1, 12, 12, 2);
        ModelInput in = ModelInput.of(cnn);
        assertEquals(ModelInput.Kind.IMAGE, in.kind());
        assertArrayEquals(new long[] {1, ModelInput.UNKNOWN, ModelInput.UNKNOWN}, in.shape());
        assertEquals("[1, ?, ?] images (NCHW)", in.describe());
        assertEquals(null, in.imageShape());
        DataSet ok = images(3, 1, 12, 12);
        assertSame(ok, in.fit(ok, "d", "m"));
        String m = assertThrows(IllegalArgumentException.class, () -> in.fit(images(3, 3, 12, 12), "the data of x.yaml", "model a.zip"))
                .getMessage();
        assertTrue(m.contains("the data of x.yaml holds examples of shape [3, 12, 12]") && m.contains("model a.zip takes [1, ?, ?] images"),
                m);
        assertArrayEquals(new int[] {1, 8, 9}, in.withImageSize(8, 9).imageShape());
        assertThrows(IllegalArgumentException.class, () -> in.withImageSize(8, 9).fit(ok, "d", "m"));

        // NHWC (Keras channels_last): the data is permuted, element [n, c, h, w] to [n, h, w, c]
        MultiLayerNetwork nhwc = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(3, 3).nIn(2).nOut(4).dataFormat(CNN2DFormat.NHWC).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(6, 5, 2, CNN2DFormat.NHWC)).build());
        nhwc.init();
        ModelInput h = ModelInput.of(nhwc);
        assertEquals(CNN2DFormat.NHWC, h.format());
        DataSet data = images(2, 2, 6, 5);
        INDArray f = h.fit(data, "d", "m").getFeatures();
        assertArrayEquals(new long[] {2, 6, 5, 2}, f.shape());
        assertEquals(data.getFeatures().getFloat(1, 1, 4, 3), f.getFloat(1, 4, 3, 1), 0f);
        assertEquals(data.getFeatures().getFloat(0, 0, 2, 1), f.getFloat(0, 2, 1, 0), 0f);
        assertEquals(2, Networks.output(nhwc, f).size(1));
    }

    @Test
    void flatAndDenseInputs() {
        MultiLayerNetwork flat = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(2).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(6, 5, 1)).build());
        flat.init();
        ModelInput in = ModelInput.of(flat);
        assertEquals(ModelInput.Kind.FLAT_IMAGE, in.kind());
        assertEquals("[30] vectors or [1, 6, 5] images", in.describe());
        assertArrayEquals(new int[] {1, 6, 5}, in.imageShape());
        DataSet square = images(2, 1, 6, 5);
        assertSame(square, in.fit(square, "d", "m"));
        String m = assertThrows(IllegalArgumentException.class, () -> in.fit(images(2, 1, 5, 6), "d", "m")).getMessage();
        assertTrue(m.contains("[1, 5, 6]") && m.contains("[30] vectors or [1, 6, 5] images"), m);

        MultiLayerNetwork mlp = new MultiLayerNetwork(ModelLoaderTest.mlpConf(1));
        mlp.init();
        ModelInput v = ModelInput.of(mlp);
        assertEquals(ModelInput.Kind.VECTOR, v.kind());
        DataSet img = images(4, 1, 2, 3);   // 6 values per example: flattened in C, H, W order
        INDArray f = v.fit(img, "d", "m").getFeatures();
        assertArrayEquals(new long[] {4, 6}, f.shape());
        assertEquals(img.getFeatures().getFloat(3, 0, 1, 2), f.getFloat(3, 5), 0f);
        assertEquals(img.getFeatures().getFloat(2, 0, 1, 0), f.getFloat(2, 3), 0f);
        assertThrows(IllegalArgumentException.class, () -> v.fit(images(4, 1, 2, 4), "d", "m"));
    }

    @Test
    void aGraphsInputIsReadPastPaddingAndPooling() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().graphBuilder().addInputs("in")
                .addLayer("pad", new ZeroPaddingLayer.Builder(1, 1).build(), "in")
                .addLayer("pool", new SubsamplingLayer.Builder(2, 2).build(), "pad")
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4).build(), "pool")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2).activation(Activation.SOFTMAX).build(),
                        "conv")
                .setOutputs("out").setInputTypes(InputType.convolutional(8, 8, 3)).build());
        g.init();
        ModelInput in = ModelInput.of(g);
        assertEquals(ModelInput.Kind.IMAGE, in.kind());
        assertEquals(3, in.shape()[0]);
        assertTrue(in.from().contains("'conv'"), in.from());
    }
}
