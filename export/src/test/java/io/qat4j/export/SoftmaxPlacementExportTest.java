package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;

/** A softmax inside the network has no integer form: the export refuses it by name instead of dropping it. */
class SoftmaxPlacementExportTest {

    @Test
    void aSoftmaxActivationLayerInsideTheNetworkIsRefusedByName() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).list()
                .layer(new DenseLayer.Builder().name("fc1").nOut(6).activation(Activation.RELU).build())
                .layer(new ActivationLayer.Builder().name("inner_softmax").activation(Activation.SOFTMAX).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(5)).build();
        MultiLayerNetwork fp = new MultiLayerNetwork(conf);
        fp.init();
        MultiLayerNetwork q = QuantizedModel.wrap(fp, QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8)))
                .network();
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, 5);
        QuantizedModel.calibrate(q, x);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Int8Exporter.export(q, x));
        assertTrue(e.getMessage().contains("'inner_softmax'") && e.getMessage().contains("softmax inside the network"), e.getMessage());
    }
}
