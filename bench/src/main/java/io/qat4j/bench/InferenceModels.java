package io.qat4j.bench;

import java.nio.FloatBuffer;
import java.util.Map;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.export.Int8Exporter;
import io.qat4j.export.OnnxExporter;
import io.qat4j.runtime.Int8Model;

/**
 * The four inference engines of {@link InferenceBenchmark} on one reference CNN (same weights,
 * same inputs): (a) DL4J FP32 {@code output()}, (b) the qat4j INT8 runtime, (c) ONNX Runtime on
 * the QDQ export of (b), (d) ONNX Runtime on the float export of (a).
 *
 * <p>The FP32 network is the reference CNN (seeded initialization, batch-norm statistics from a few
 * training steps on random images); the INT8 model is its W8A8 LSQ QAT wrap with the batch norms
 * folded and frozen, its quantizers initialized on random images, exported with
 * {@link Int8Exporter}. Random weights cost the same as trained ones; accuracy is not measured here.
 */
public final class InferenceModels implements AutoCloseable {

    /** Multiply-accumulates of one reference-CNN sample: conv1 112,896 + conv2 903,168 + fc1 200,704 + out 1,280. */
    public static final long MACS_PER_SAMPLE = 16L * 9 * 28 * 28 + 32L * 16 * 9 * 14 * 14 + 1568L * 128 + 128L * 10;

    public final MultiLayerNetwork fp32;
    public final Int8Model int8;
    public final OrtSession ortQdq;
    public final OrtSession ortFp32;
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();

    /**
     * @param threads intra-op threads for ONNX Runtime and the qat4j runtime; DL4J's native
     *                (OpenMP) thread count is set process-wide by the caller
     */
    public InferenceModels(int threads) throws OrtException {
        Nd4j.getRandom().setSeed(7);
        fp32 = ReferenceCnn.build(7, new Adam(1e-3), 0, 1, 28, 28, 10);
        DataSet warm = randomImages(64, 3);
        fp32.fit(warm);                                   // moves BN statistics off their initial values
        QuantSettings w8a8 = QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8);
        MultiLayerNetwork q = QuantizedModel.wrap(fp32, QuantizationPlan.uniform(w8a8)).network();
        for (int i = 0; i < q.getnLayers(); i++) {
            if (q.getLayer(i).conf().getLayer() instanceof QuantizedConvBatchNormLayer bn) {
                bn.setFreezeBatchNorm(true);
            }
        }
        q.setLearningRate(0);
        q.fit(warm);                                      // initializes every LSQ step on real activations
        Int8Exporter.Result exported = Int8Exporter.export(q, warm.getFeatures());
        int8 = new Int8Model(exported.graph()).withThreads(threads);
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            ortQdq = env.createSession(OnnxExporter.qdq(exported).toByteArray(), opts);
            ortFp32 = env.createSession(OnnxExporter.float32(fp32, new int[] {1, 28, 28}).toByteArray(), opts);
        }
    }

    /** {@code n} random images in [0, 1) with one-hot labels. */
    public static DataSet randomImages(int n, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, n, 1, 28, 28);
        INDArray y = Nd4j.zeros(DataType.FLOAT, n, 10);
        for (int i = 0; i < n; i++) {
            y.putScalar(i, i % 10, 1f);
        }
        return new DataSet(x, y);
    }

    /** ONNX Runtime's first output for {@code x} ([n, 1, 28, 28], C order). */
    public float[][] runOrt(OrtSession session, float[] x, int n) throws OrtException {
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {n, 1, 28, 28});
             OrtSession.Result r = session.run(Map.of("input", in))) {
            return (float[][]) r.get(0).getValue();
        }
    }

    @Override
    public void close() throws OrtException {
        ortQdq.close();
        ortFp32.close();
    }
}
