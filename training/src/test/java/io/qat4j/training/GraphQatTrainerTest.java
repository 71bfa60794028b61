package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.params.QuantizedConvBatchNormParamInitializer;

/**
 * QAT of a ComputationGraph through the {@link Trainer} (issue 16): a residual graph wrapped at
 * W4A4 LSQ (both conv -> BN pairs fused for QAT-time folding, quantizers placed on the Add's inputs)
 * trains with distillation from its float self, freezes its folded batch norms after the first
 * epoch, and, killed after two epochs, resumes from its checkpoint to the same parameters and
 * updater state as an uninterrupted run.
 */
class GraphQatTrainerTest {

    @TempDir
    Path dir;

    private static final int SIZE = 8;

    /** Three classes of 8x8 images: a bright 4x4 square in the top-left, the bottom-right, or neither; with noise. */
    static DataSet squares(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * SIZE * SIZE];
        float[] y = new float[n * 3];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(3);
            y[i * 3 + c] = 1;
            for (int h = 0; h < SIZE; h++) {
                for (int w = 0; w < SIZE; w++) {
                    boolean lit = c == 0 ? h < 4 && w < 4 : c == 1 && h >= 4 && w >= 4;
                    x[i * SIZE * SIZE + h * SIZE + w] = (float) ((lit ? 0.8 : 0.1) + 0.15 * r.nextGaussian());
                }
            }
        }
        return new DataSet(Nd4j.create(x, new long[] {n, 1, SIZE, SIZE}, DataType.FLOAT), Nd4j.create(y, new long[] {n, 3}, DataType.FLOAT));
    }

    static ComputationGraph residualGraph() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(9).updater(new Adam(0.01)).graphBuilder()
                .addInputs("in")
                .addLayer("conv0", conv(), "in")
                .addLayer("bn0", new BatchNormalization.Builder().build(), "conv0")
                .addLayer("relu0", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn0")
                .addLayer("conv1", conv(), "relu0")
                .addLayer("bn1", new BatchNormalization.Builder().build(), "conv1")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "relu0", "bn1")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "relu1")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build(), "gap")
                .setOutputs("out").setInputTypes(InputType.convolutional(SIZE, SIZE, 1)).build());
        g.init();
        return g;
    }

    private static ConvolutionLayer conv() {
        return new ConvolutionLayer.Builder(3, 3).nOut(4).padding(1, 1).activation(Activation.IDENTITY).build();
    }

    private static ComputationGraph qat(ComputationGraph fp32) {
        QuantizedModel.Wrapped<ComputationGraph> w = QuantizedModel.wrap(fp32,
                QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4)));
        assertEquals(java.util.Map.of("bn0", "conv0", "bn1", "conv1"), w.foldedBatchNorms(), w.summary());
        assertTrue(w.insertedQuantizers().containsKey("relu0_aq") && w.insertedQuantizers().containsKey("bn1_aq"), w.summary());
        return w.network();
    }

    @Test
    void graphQatWithDistillationAndFrozenBatchNormsResumesBitIdentically() throws IOException {
        DataSet train = squares(240, 1);
        DataSet val = squares(90, 2);
        ComputationGraph teacher = residualGraph();
        new Trainer().train(teacher, train, val, new TrainSpec(8, 32, 0.01, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 3, -1, -1), dir.resolve("fp32"),
                false);
        double teacherAccuracy = Trainer.accuracy(teacher, val);
        assertTrue(teacherAccuracy > 0.8, "the float graph learns the squares: " + teacherAccuracy);

        Trainer.Distillation kd = new Trainer.Distillation(teacher, 0.5, 2.0);
        TrainSpec spec = new TrainSpec(3, 32, 0.003, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 13, -1, 1);
        Trainer.Result<ComputationGraph> straight = new Trainer(kd).train(qat(teacher), train, val, spec, dir.resolve("straight"), false);
        assertTrue(Networks.outputLayer(straight.network()).conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseOutputLayer o
                && o.getLossFn() instanceof io.qat4j.distill.DistillationLoss, "the student's loss is the distillation loss");
        assertTrue(straight.bestValidationAccuracy() > 0.8, "W4A4 QAT of the graph keeps the squares: " + straight.bestValidationAccuracy());

        Path killed = dir.resolve("killed");
        new Trainer(2, kd).train(qat(teacher), train, val, spec, killed, false);   // "killed" after 2 epochs
        ComputationGraph afterTwo = (ComputationGraph) ModelLoader.load(killed.resolve(Checkpoint.MODEL), true).network();
        Trainer.Result<ComputationGraph> resumed = new Trainer(kd).train(qat(teacher), train, val, spec, killed, true);
        assertEquals(1, resumed.epochs().size(), "only the missing epoch ran");
        assertEquals(straight.network().params(), resumed.network().params());
        assertEquals(straight.network().getUpdater().getStateViewArray(), resumed.network().getUpdater().getStateViewArray());

        // batch norms frozen from the second epoch on: the third epoch moves the weights, not the running statistics
        for (String conv : new String[] {"conv0", "conv1"}) {
            assertTrue(((QuantizedConvBatchNormLayer) resumed.network().getLayer(conv).conf().getLayer()).isFreezeBatchNorm(), conv);
            INDArray mean2 = afterTwo.getLayer(conv).getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY);
            INDArray mean3 = resumed.network().getLayer(conv).getParam(QuantizedConvBatchNormParamInitializer.MEAN_KEY);
            assertEquals(mean2, mean3, conv + " running mean after epochs 2 and 3");
            assertNotEquals(afterTwo.getLayer(conv).getParam("W"), resumed.network().getLayer(conv).getParam("W"), conv + " weights");
        }

        // the teacher's logits change the student: the same run without distillation ends elsewhere
        Trainer.Result<ComputationGraph> plain = new Trainer().train(qat(teacher), train, val, spec, dir.resolve("plain"), false);
        assertNotEquals(straight.network().params(), plain.network().params());
    }
}
