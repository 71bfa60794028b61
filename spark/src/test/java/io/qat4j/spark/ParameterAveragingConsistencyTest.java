package io.qat4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.datasets.FashionMnist;
import io.qat4j.export.Int8Exporter;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.runtime.ModelFile;
import io.qat4j.spark.StateRecordingHook.Snapshot;
import io.qat4j.training.Networks;
import io.qat4j.training.config.RunConfig;

/**
 * Issue 19 item 3: quantizer state is consistent across Spark workers. QAT of the reference CNN with
 * every kind of quantizer state (LSQ weight and input steps, a PACT clipping value, a FIXED
 * observer's range and count, the fused batch norms' running mean and variance), local[2], two
 * minibatches per worker per round:
 * <ul>
 *   <li>after a round the driver holds the mean of the workers' end states (the workers' states
 *       differ, so the averaging is not trivial), and in the next round every worker starts from
 *       exactly the driver's state, signedness included;</li>
 *   <li>the integer model exported from the driver (Int8Exporter, model-file bytes) equals the one
 *       exported from a fresh network given the mean of the workers' parameter vectors;</li>
 *   <li>signedness, the one piece of input-quantizer state that lives in the layer configuration and
 *       not in the parameters, is re-synchronised: a worker whose data turns an input quantizer
 *       signed makes the driver's signed, with the averaged step in signed terms, and the next round
 *       starts signed on every worker.</li>
 * </ul>
 */
class ParameterAveragingConsistencyTest {

    private static DataSet train;
    private SparkTraining spark;

    @BeforeAll
    static void data() throws Exception {
        train = FashionMnist.bundled().train();
    }

    @BeforeEach
    void start() {
        spark = SparkTraining.start(new RunConfig.Spark("local[2]", 2, 16, 2, true, null), "consistency-test", 7);
    }

    @AfterEach
    void stop() {
        spark.close();
    }

    /** conv1 LSQ/LSQ 4 bits, conv2 LSQ weights with a PACT input, fc1 FIXED weights with a FIXED (observer) input, out LSQ/LSQ 8. */
    private static MultiLayerNetwork mixedQuantizers() {
        Nd4j.getRandom().setSeed(7);
        MultiLayerNetwork fp32 = ReferenceCnn.build(7, new Adam(2e-3), 0, 1, 28, 28, 10);
        QuantizationPlan plan = QuantizationPlan.builder(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4))
                .layer("conv2", QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.PACT, 4))
                .layer("fc1", QuantSettings.of(WeightQuantMode.FIXED, 8, InputQuantMode.FIXED, 8))
                .layer("out", QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8)).build();
        return QuantizedModel.wrap(fp32, plan).network();
    }

    private static List<DataSet> batches(int from, int count, int size) {
        List<DataSet> b = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int start = from + i * size;
            b.add(new DataSet(train.getFeatures().get(NDArrayIndex.interval(start, start + size)).dup(),
                    train.getLabels().get(NDArrayIndex.interval(start, start + size)).dup()));
        }
        return b;
    }

    /** One averaging round (2 workers x 2 minibatches) through the fitting, with {@code hook}'s snapshots collected. */
    private List<Snapshot> round(MultiLayerNetwork net, List<DataSet> batches, CollectionAccumulator<Snapshot> acc) {
        acc.reset();
        List<Double> losses = new ArrayList<>();
        spark.fitting().fitEpoch(net, batches, UnaryOperator.identity(), losses::add);
        assertEquals(batches.size(), losses.size(), "one loss per fitted minibatch");
        return new ArrayList<>(acc.value());
    }

    /** Per partition, the snapshot before its first minibatch (start) or after its last (end). */
    private static Map<Integer, Snapshot> byPartition(List<Snapshot> s, boolean start) {
        Map<Integer, Snapshot> m = new TreeMap<>();
        for (Snapshot x : s) {
            if (x.start() == start) {
                m.merge(x.partition(), x, (a, b) -> start ? a : (a.iteration() >= b.iteration() ? a : b));
            }
        }
        return m;
    }

    private CollectionAccumulator<Snapshot> recorder() {
        CollectionAccumulator<Snapshot> acc = new CollectionAccumulator<>();
        org.apache.spark.SparkContext sc = org.apache.spark.SparkContext.getOrCreate();
        sc.register(acc, "snapshots");
        spark.fitting().addHook(new StateRecordingHook(acc));
        return acc;
    }

    @Test
    void everyWorkerStartsTheNextRoundFromTheDriversAveragedQuantizerAndBatchNormState() throws Exception {
        CollectionAccumulator<Snapshot> acc = recorder();
        MultiLayerNetwork net = mixedQuantizers();

        Map<Integer, Snapshot> ends = byPartition(round(net, batches(0, 4, 16), acc), false);
        assertEquals(2, ends.size(), "two workers");
        Map<String, float[]> driver = StateRecordingHook.state(net);
        for (String key : List.of("conv1/Ws", "conv1/Xs", "conv1/Xn", "conv1/mean", "conv1/var", "conv2/Ws", "conv2/Xa", "fc1/Xmin",
                "fc1/Xmax", "fc1/Xn", "out/Ws", "out/Xs")) {
            assertTrue(driver.containsKey(key), key + " in " + driver.keySet());
        }
        Snapshot w0 = ends.get(0);
        Snapshot w1 = ends.get(1);
        // fc1 reads ReLU outputs (Xmin 0 everywhere); PACT's alpha (clipping at 10) gets no data gradient in two steps here,
        // only its decay, the same on both workers
        for (String key : List.of("conv1/Xs", "conv1/mean", "conv1/var", "conv2/Ws", "fc1/Xmax", "out/Ws", "out/Xs")) {
            assertFalse(java.util.Arrays.equals(w0.state().get(key), w1.state().get(key)), key + ": the workers' values differ");
        }
        assertFalse(java.util.Arrays.equals(driver.get("conv2/Xa"), new float[] {10f}), "PACT's alpha moved from its initial 10 (decay)");
        for (Map.Entry<String, float[]> e : driver.entrySet()) {
            float[] a = w0.state().get(e.getKey());
            float[] b = w1.state().get(e.getKey());
            for (int i = 0; i < a.length; i++) {
                assertEquals((a[i] + b[i]) / 2.0, e.getValue()[i], 1e-6 * Math.max(1, Math.abs(a[i] + b[i])),
                        e.getKey() + "[" + i + "]: the driver's value is the workers' mean");
            }
        }

        // the export from the driver equals the export from a fresh network given the mean of the workers' parameters
        float[] p0 = w0.params();
        float[] p1 = w1.params();
        INDArray mean = Nd4j.createFromArray(p0).reshape(1, p0.length).addi(Nd4j.createFromArray(p1).reshape(1, p1.length)).divi(2);
        assertArrayEquals(mean.toFloatVector(), net.params().toFloatVector(), "driver parameters = mean of the workers' parameters");
        MultiLayerNetwork exported = net.clone();
        freezeBatchNorm(exported);
        MultiLayerNetwork fresh = new MultiLayerNetwork(exported.getLayerWiseConfigurations().clone());
        fresh.init(mean, true);
        INDArray calibration = train.getFeatures().get(NDArrayIndex.interval(1000, 1128));
        byte[] fromDriver = ModelFile.toBytes(Int8Exporter.export(exported, calibration).graph());
        byte[] fromMean = ModelFile.toBytes(Int8Exporter.export(fresh, calibration).graph());
        assertArrayEquals(fromDriver, fromMean, "integer model of the driver = integer model of the averaged parameters");

        Map<Integer, Snapshot> starts = byPartition(round(net, batches(64, 4, 16), acc), true);
        assertEquals(2, starts.size());
        for (Snapshot s : starts.values()) {
            assertEquals(StateRecordingHook.signed(net), s.signed(), "worker " + s.partition() + " signedness");
            for (Map.Entry<String, float[]> e : driver.entrySet()) {
                assertArrayEquals(e.getValue(), s.state().get(e.getKey()), "worker " + s.partition() + " starts round 2 with the driver's "
                        + e.getKey());
            }
        }
    }

    @Test
    void aWorkerThatTurnsAnInputQuantizerSignedMakesTheDriversSignedWithTheStepInSignedTerms() {
        CollectionAccumulator<Snapshot> acc = recorder();
        Nd4j.getRandom().setSeed(7);
        MultiLayerNetwork net = QuantizedModel.wrap(ReferenceCnn.build(7, new Adam(1e-3), 0, 1, 28, 28, 10),
                QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4))).network();
        QuantizedModel.calibrate(net, train.getFeatures().get(NDArrayIndex.interval(2000, 2064)));   // [0, 1] images: conv1 unsigned
        assertFalse(conv1(net).getQuant().isInputSigned());
        List<DataSet> data = batches(0, 4, 16);
        for (DataSet d : data.subList(2, 4)) {   // worker 1's minibatches hold negative pixels
            d.setFeatures(d.getFeatures().sub(0.5));
        }

        Map<Integer, Snapshot> ends = byPartition(round(net, data, acc), false);
        assertTrue(ends.get(1).signed().get("conv1"), "worker 1 turned conv1's input quantizer signed");
        assertFalse(ends.get(0).signed().get("conv1"), "worker 0 saw no negative input");
        assertTrue(conv1(net).getQuant().isInputSigned(), "the driver follows: conv1 signed");
        assertEquals(Map.of("conv1", 1), spark.fitting().signFlips());
        double f = InputQuantization.unsignedToSignedStepFactor(4);
        double step0 = ends.get(0).state().get("conv1/Xs")[0];
        double step1 = ends.get(1).state().get("conv1/Xs")[0];
        double driverStep = StateRecordingHook.state(net).get("conv1/Xs")[0];
        assertEquals((step0 * f + step1) / 2, driverStep, 1e-6, "worker 0's unsigned step joins the mean in signed terms");
        assertNotEquals((float) ((step0 + step1) / 2), (float) driverStep, "not the plain mean of a signed and an unsigned step");

        Map<Integer, Snapshot> starts = byPartition(round(net, batches(64, 4, 16), acc), true);
        for (Snapshot s : starts.values()) {
            assertTrue(s.signed().get("conv1"), "worker " + s.partition() + " starts the next round signed");
            assertEquals((float) driverStep, s.state().get("conv1/Xs")[0], "worker " + s.partition() + " starts from the driver's step");
        }
    }

    private static QuantizedLayerConf conv1(MultiLayerNetwork net) {
        return (QuantizedLayerConf) net.getLayer("conv1").conf().getLayer();
    }

    private static void freezeBatchNorm(MultiLayerNetwork net) {
        for (Layer l : Networks.layers(net)) {
            if (l.conf().getLayer() instanceof QuantizedConvBatchNormLayer bn) {
                bn.setFreezeBatchNorm(true);
            }
        }
    }
}
