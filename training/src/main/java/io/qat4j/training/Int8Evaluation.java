package io.qat4j.training;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.export.Int8Exporter;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.ModelFile;
import io.qat4j.runtime.ModelInputException;

/**
 * Exports a quantized network (QAT or PTQ) to an integer model file, loads it in the INT8 runtime
 * and measures it on a test set next to the network's own fake-quant forward.
 *
 * @param simulatedAccuracy accuracy of the quantized DL4J network (fake quantization in float)
 * @param runtimeAccuracy   accuracy of the exported model in the INT8 runtime
 * @param agreement         argmax agreement of runtime and fake-quant predictions
 * @param modelBytes        size of the model file
 * @param sizeRatio         model bytes / FP32 parameter bytes
 * @param notes             exporter notes
 * @param seconds           export + evaluation wall time
 */
public record Int8Evaluation(double simulatedAccuracy, double runtimeAccuracy, double agreement, long modelBytes, double sizeRatio,
                             List<String> notes, double seconds) {

    /**
     * @param quantized     QAT or PTQ network, MultiLayerNetwork or ComputationGraph (every weighted layer quantized)
     * @param calibration   a few input samples for the logits' output scale
     * @param test          test set
     * @param modelFile     where the integer model is written (atomically)
     * @param fp32ParamBytes FP32 parameter bytes of the original model (4 x parameters)
     */
    public static Int8Evaluation evaluate(Model quantized, INDArray calibration, DataSet test, Path modelFile,
                                          long fp32ParamBytes) throws IOException {
        long start = System.nanoTime();
        int[] simulatedPredictions = Trainer.predictions(quantized, test.getFeatures());
        double simulated = agreement(simulatedPredictions, test.getLabels());
        Int8Exporter.Result exported = switch (Networks.kind(quantized)) {
            case MULTI_LAYER -> Int8Exporter.export((MultiLayerNetwork) quantized, calibration);
            case GRAPH -> Int8Exporter.export((ComputationGraph) quantized, calibration);
        };
        if (modelFile.toAbsolutePath().getParent() != null) {
            Files.createDirectories(modelFile.toAbsolutePath().getParent());
        }
        ModelFile.write(exported.graph(), modelFile);
        Int8Model model = Int8Model.load(modelFile);
        int n = checkFits(model, test);
        int[] predicted = model.predict(test.getFeatures().dup('c').data().asFloat(), n);
        double runtime = agreement(predicted, test.getLabels());
        int same = 0;
        for (int i = 0; i < n; i++) {
            same += predicted[i] == simulatedPredictions[i] ? 1 : 0;
        }
        double agreement = (double) same / n;
        long bytes = Files.size(modelFile);
        return new Int8Evaluation(simulated, runtime, agreement, bytes, (double) bytes / fp32ParamBytes, exported.notes(),
                (System.nanoTime() - start) / 1e9);
    }

    /**
     * Checks that {@code data} fits {@code model} before it is run and scored: the features' per-sample
     * shape is the model's input shape (not only the same element count) and the labels' classes are the
     * model's outputs.
     *
     * @return the number of samples
     * @throws ModelInputException naming both shapes or both class counts
     */
    public static int checkFits(Int8Model model, DataSet data) {
        int n = model.checkInput(data.getFeatures().shape());
        model.checkClasses((int) data.getLabels().size(1));
        return n;
    }

    /** Fraction of {@code predicted} class indices equal to the argmax per row of {@code reference} (labels or outputs). */
    public static double agreement(int[] predicted, INDArray reference) {
        INDArray classes = reference.argMax(1);
        int same = 0;
        for (int i = 0; i < predicted.length; i++) {
            same += predicted[i] == classes.getInt(i) ? 1 : 0;
        }
        return (double) same / predicted.length;
    }
}
