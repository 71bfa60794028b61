package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;

/** Float training through qat4j's layers (quantization off) gives a plain DL4J network computing the same function. */
class FloatTrainingTest {

    @TempDir
    Path dir;

    static DataSet separable(int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, n, 1, 8, 8).muli(0.3);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, 2);
        for (int i = 0; i < n; i++) {
            int c = i % 2;
            y.putScalar(i, c, 1);
            if (c == 1) {
                x.get(org.nd4j.linalg.indexing.NDArrayIndex.point(i), org.nd4j.linalg.indexing.NDArrayIndex.all(),
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 4), org.nd4j.linalg.indexing.NDArrayIndex.all()).addi(0.7);
            }
        }
        return new DataSet(x, y);
    }

    @Test
    void nativeLayerTrainingYieldsThePlainNetworkItTrained() throws Exception {
        DataSet train = separable(200, 1);
        DataSet test = separable(100, 2);
        MultiLayerNetwork net = ReferenceCnn.build(3, new Adam(0.005), 0, 1, 8, 8, 2);
        TrainSpec spec = new TrainSpec(2, 20, 0.005, TrainSpec.Schedule.CONSTANT, 1, 0.1, 0, 3, -1, -1);
        Trainer.Result<MultiLayerNetwork> r = FloatTraining.train(new Trainer(), net, train, test, spec, dir, false, m -> { }, Trainer.Progress.NONE, true);
        MultiLayerNetwork plain = r.network();
        assertTrue(plain.getLayer(0).conf().getLayer().getClass() == ConvolutionLayer.class);
        assertTrue(plain.getLayer(1).conf().getLayer() instanceof BatchNormalization);
        assertTrue(Trainer.accuracy(plain, test) >= 0.9, "accuracy " + Trainer.accuracy(plain, test));
        // the plain network and its wrapped twin (quantization off) compute the same function
        MultiLayerNetwork twin = QuantizedModel.wrap(plain, QuantizationPlan.uniform(QuantSettings.disabled())).network();
        INDArray a = plain.output(test.getFeatures());
        INDArray b = twin.output(test.getFeatures());
        assertTrue(a.sub(b).amaxNumber().doubleValue() < 1e-4, "max diff " + a.sub(b).amaxNumber());
        // unwrap(wrap(x)) == x, and best.zip holds the plain network
        MultiLayerNetwork back = QuantizedModel.unwrap(twin, plain);
        assertTrue(back.params().sub(plain.params()).amaxNumber().doubleValue() < 1e-6);
        MultiLayerNetwork saved = ModelSerializer.restoreMultiLayerNetwork(dir.resolve("best.zip").toFile(), false);
        assertEquals(plain.getLayer(0).conf().getLayer().getClass(), saved.getLayer(0).conf().getLayer().getClass());
        assertEquals(r.bestValidationAccuracy(), Trainer.accuracy(saved, test), 0, "best.zip is the best epoch");
    }

    @Test
    void bestZipIsThePlainNetworkAlsoWhenTheRunIsInterrupted() throws Exception {
        DataSet train = separable(200, 1);
        DataSet test = separable(100, 2);
        MultiLayerNetwork net = ReferenceCnn.build(3, new Adam(0.005), 0, 1, 8, 8, 2);
        TrainSpec spec = new TrainSpec(3, 20, 0.005, TrainSpec.Schedule.CONSTANT, 1, 0.1, 0, 3, -1, -1);
        IllegalStateException stop = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> FloatTraining.train(new Trainer(), net, train, test, spec, dir, false, m -> {
                    if (m.epoch() == 2) {
                        throw new IllegalStateException("stopped after epoch 2 (as a kill or a divergence would)");
                    }
                }, Trainer.Progress.NONE, true));
        assertTrue(stop.getMessage().startsWith("stopped"));
        MultiLayerNetwork best = ModelSerializer.restoreMultiLayerNetwork(dir.resolve("best.zip").toFile(), false);
        assertTrue(QuantizedModel.quantizedLayers(best).isEmpty(), "best.zip holds no qat4j layers");
        assertEquals(ConvolutionLayer.class, best.getLayer(0).conf().getLayer().getClass());
        // what `qat4j ptq` does first: calibration finds the convolution, dense and output layers
        io.qat4j.ptq.PtqRecipe recipe = new io.qat4j.training.config.RunConfig.Ptq(null, null, null, null, null, null, null, 64, null, null,
                null, null, null, null, null, null, null, null, null, null).recipe();
        assertEquals(4, io.qat4j.ptq.WeightedLayer.of(PtqRun.prepare(best, train, recipe, 0).network()).size());
    }

    @Test
    void qatRunsSetTheirOwnWeightDecay() {
        MultiLayerNetwork net = ReferenceCnn.build(3, new Adam(0.005), 1e-4, 1, 8, 8, 2);
        MultiLayerNetwork wrapped = QuantizedModel.wrap(net, QuantizationPlan.uniform(QuantSettings.disabled())).network();
        assertTrue(!((org.deeplearning4j.nn.conf.layers.BaseLayer) wrapped.getLayer(0).conf().getLayer()).getRegularizationByParam("W").isEmpty(),
                "the wrapped network inherits the FP32 decay");
        Trainer.setWeightDecay(wrapped, 0);
        for (int i = 0; i < wrapped.getnLayers(); i++) {
            if (wrapped.getLayer(i).conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.BaseLayer b) {
                assertTrue(b.getRegularizationByParam("W") == null || b.getRegularizationByParam("W").isEmpty(), "layer " + i);
            }
        }
        Trainer.setWeightDecay(wrapped, 0.5);
        assertEquals(0.5, ((org.nd4j.linalg.learning.regularization.WeightDecay) ((org.deeplearning4j.nn.conf.layers.BaseLayer) wrapped.getLayer(0)
                .conf().getLayer()).getRegularizationByParam("W").get(0)).getCoeff().valueAt(0, 0), 0);
    }
}
