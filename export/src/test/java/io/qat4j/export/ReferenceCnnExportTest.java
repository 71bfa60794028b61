package io.qat4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.layers.conf.QuantizedConvBatchNormLayer;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.ModelFile;

/**
 * The widened reference CNN with dropout (three blocks, {@link ReferenceCnn.Options}) exports: the
 * float ONNX model runs in ONNX Runtime as DL4J's {@code output()}, and after QAT with dropout the
 * integer model file is byte for byte the one of the same network without dropout, runs in the INT8
 * runtime as the fake-quant network predicts, and exports as ONNX QDQ.
 */
class ReferenceCnnExportTest {

    @TempDir
    Path dir;

    private static final ReferenceCnn.Options OPTIONS = new ReferenceCnn.Options(List.of(4, 6, 8), 12, 0.3);

    /** The same network (configuration and parameters) without dropout. */
    private static MultiLayerNetwork withoutDropout(MultiLayerNetwork net) {
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
        for (NeuralNetConfiguration c : conf.getConfs()) {
            c.getLayer().setIDropout(null);
        }
        MultiLayerNetwork twin = new MultiLayerNetwork(conf);
        twin.init();
        twin.setParams(net.params().dup());
        return twin;
    }

    @Test
    void theWidenedCnnWithDropoutExportsAsItsTwinWithout() throws Exception {
        DataSet train = SyntheticImages.blobs(600, 1);
        DataSet test = SyntheticImages.blobs(300, 2);
        int size = SyntheticImages.SIZE;
        MultiLayerNetwork fp = ReferenceCnn.build(11, new Adam(1e-2), 0, 1, size, size, SyntheticImages.CLASSES, OPTIONS);
        Int8ExportEndToEndTest.fit(fp, train, 3);
        FloatOnnxExportTest.check("reference CNN [4, 6, 8] with dropout", fp, test.getFeatures().get(NDArrayIndex.interval(0, 32)));

        QuantizedModel.Wrapped<MultiLayerNetwork> wrapped = QuantizedModel.wrap(fp,
                QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 8, InputQuantMode.LSQ, 8)));
        assertEquals(List.of("conv1", "conv2", "conv3", "fc1", "out"), wrapped.quantized(), wrapped.summary());
        MultiLayerNetwork q = wrapped.network();
        q.setLearningRate(2e-3);
        Int8ExportEndToEndTest.fit(q, train, 1);   // QAT with dropout
        for (org.deeplearning4j.nn.api.Layer l : q.getLayers()) {
            if (l.conf().getLayer() instanceof QuantizedConvBatchNormLayer bn) {
                bn.setFreezeBatchNorm(true);
            }
        }
        Int8ExportEndToEndTest.fit(q, train, 1);
        MultiLayerNetwork twin = withoutDropout(q);
        INDArray cal = train.getFeatures().get(NDArrayIndex.interval(0, 64));
        Int8Exporter.Result r = Int8Exporter.export(q, cal);
        Int8Exporter.Result rTwin = Int8Exporter.export(twin, cal);
        ModelFile.write(r.graph(), dir.resolve("dropout.q4j"));
        ModelFile.write(rTwin.graph(), dir.resolve("twin.q4j"));
        assertArrayEquals(Files.readAllBytes(dir.resolve("twin.q4j")), Files.readAllBytes(dir.resolve("dropout.q4j")),
                "the integer model does not depend on dropout");

        int n = (int) test.numExamples();
        float[] x = test.getFeatures().dup('c').data().asFloat();
        Int8Model model = Int8Model.load(dir.resolve("dropout.q4j"));
        int[] runtime = model.predict(x, n);
        INDArray fakeQuant = q.output(test.getFeatures(), false).argMax(1);
        INDArray truth = test.getLabels().argMax(1);
        int agree = 0;
        int correct = 0;
        for (int i = 0; i < n; i++) {
            agree += runtime[i] == fakeQuant.getInt(i) ? 1 : 0;
            correct += runtime[i] == truth.getInt(i) ? 1 : 0;
        }
        System.out.printf("reference CNN [4, 6, 8] + dropout, QAT W8A8: INT8 runtime accuracy %.4f, agreement with fake quant %.4f%n",
                (double) correct / n, (double) agree / n);
        assertTrue(agree >= 0.98 * n, "INT8 runtime vs fake quant: " + agree + " of " + n);
        assertTrue(correct >= 0.8 * n, "the network learned the blobs: " + correct + " of " + n);

        Path onnx = dir.resolve("dropout.onnx");
        OnnxExporter.write(OnnxExporter.qdq(r), onnx);
        double[] cmp = OnnxExportTest.compare(OnnxExportTest.runOrt(onnx, x, n, new long[] {n, 1, size, size}), model.run(x, n), n,
                SyntheticImages.CLASSES, r.graph().tensors().get(r.graph().output()).scale());
        assertTrue(cmp[0] >= 0.98 && cmp[1] <= 3, "ONNX QDQ vs the INT8 runtime: agreement " + cmp[0] + ", " + cmp[1] + " output steps");
    }
}
