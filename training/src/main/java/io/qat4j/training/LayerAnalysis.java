package io.qat4j.training;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

import com.fasterxml.jackson.databind.json.JsonMapper;

import io.qat4j.export.Int8Exporter;
import io.qat4j.ptq.LayerDiagnostics;
import io.qat4j.runtime.AtomicFiles;

/**
 * Per-layer diagnostics of a quantized network ({@link LayerDiagnostics}) with its integer export,
 * on a stated set of samples, and their files: {@value #JSON_FILE} (the whole analysis, histograms
 * included) and {@value #CSV_FILE} (one row per layer, RFC 4180). Used by {@code qat4j analyze} and
 * by every experiment variant.
 *
 * @param samples       where the analysed samples come from, e.g. "validation split (first 1000 of 5400)"
 * @param exported      whether the integer comparison ran (false when the network has layers kept in float, or its
 *                      export failed)
 * @param report        the diagnostics
 * @param exportProblem why there is no integer comparison when the export was tried and failed, else null
 */
public record LayerAnalysis(String samples, boolean exported, LayerDiagnostics.Report report, String exportProblem) {

    /** An analysis whose export was not tried or succeeded. */
    public LayerAnalysis(String samples, boolean exported, LayerDiagnostics.Report report) {
        this(samples, exported, report, null);
    }

    /** The JSON file name in a run or variant directory. */
    public static final String JSON_FILE = "diagnostics.json";
    /** The CSV file name in a run or variant directory. */
    public static final String CSV_FILE = "diagnostics.csv";

    // SQNR is +Infinity for exact tensors and clipping ranges NaN without an integer grid: Jackson writes them as the
    // strings "Infinity" and "NaN" (valid JSON) and reads those strings back into doubles
    private static final JsonMapper JSON = new JsonMapper();

    /**
     * Exports {@code quantized} (unless {@code export} is false) and runs the diagnostics on the first
     * {@code maxSamples} samples of {@code data}.
     *
     * @param fp32        the float network the quantized one was wrapped from (MultiLayerNetwork or ComputationGraph)
     * @param quantized   its quantized twin, calibrated or trained
     * @param calibration a few input samples for the export's output scale ({@code [n, ...]})
     * @param data        samples with one-hot labels
     * @param what        where {@code data} comes from ("validation split", "test set"), for the report
     * @param maxSamples  at most this many samples, >= 1
     * @param bins        histogram bins, >= 2
     * @param export      false to skip the integer comparison (a network with layers kept in float has no integer form); when
     *                    the export fails, the analysis runs without it and {@link #exportProblem} says why
     * @throws IllegalArgumentException as {@link LayerDiagnostics#run} does, or when {@code maxSamples < 1}
     */
    public static LayerAnalysis run(Model fp32, Model quantized, INDArray calibration, DataSet data, String what, int maxSamples,
                                    int bins, boolean export) {
        if (maxSamples < 1) {
            throw new IllegalArgumentException("diagnostics: samples must be >= 1, got " + maxSamples);
        }
        if (io.qat4j.layers.QuantizedModel.quantizedLayers(quantized).isEmpty()) {
            // before the export, whose error would name the first float layer instead
            throw new IllegalArgumentException("LayerDiagnostics: the quantized network has no quantized layer (wrap it first)");
        }
        int n = Math.min(maxSamples, data.numExamples());
        INDArray x = data.getFeatures().get(NDArrayIndex.interval(0, n));
        INDArray labels = data.getLabels().get(NDArrayIndex.interval(0, n));
        Int8Exporter.Result exported = null;
        String problem = null;
        if (export) {
            try {
                exported = switch (Networks.kind(quantized)) {
                    case MULTI_LAYER -> Int8Exporter.export((MultiLayerNetwork) quantized, calibration);
                    case GRAPH -> Int8Exporter.export((ComputationGraph) quantized, calibration);
                };
            } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
                problem = e.getMessage();   // e.g. layers kept in float: the float-side diagnostics still apply
            }
        }
        LayerDiagnostics.Report r = LayerDiagnostics.run(fp32, quantized, exported == null ? null : exported.graph(),
                exported == null ? null : exported.nodeVertices(), x, labels, bins);
        String source = n == data.numExamples() ? what + " (" + n + " samples)" : what + " (first " + n + " of " + data.numExamples() + ")";
        return new LayerAnalysis(source, exported != null, r, problem);
    }

    /** Writes {@value #JSON_FILE} and {@value #CSV_FILE} into {@code dir}, each atomically. */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        AtomicFiles.write(dir.resolve(JSON_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(this));
        AtomicFiles.write(dir.resolve(CSV_FILE), csv().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads a {@value #JSON_FILE}.
     *
     * @throws IOException when it cannot be read or is not a diagnostics file (the message names the file)
     */
    public static LayerAnalysis read(Path file) throws IOException {
        try {
            return JSON.readValue(file.toFile(), LayerAnalysis.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(file + " is not a qat4j diagnostics file (" + e.getOriginalMessage() + ")", e);
        }
    }

    /**
     * One row per layer: layer, kind, weight SQNR dB, input SQNR dB, accuracy with only this layer
     * quantized, with all but this layer, int8 node, mean/max steps and differing fraction, the clipping
     * range; empty cells where a value does not apply.
     */
    public String csv() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintWriter w = new PrintWriter(new java.io.OutputStreamWriter(bytes, StandardCharsets.UTF_8))) {
            w.print("layer,kind,weight_sqnr_db,input_sqnr_db,accuracy_only_this,accuracy_all_but_this,int8_node,int8_mean_steps,"
                    + "int8_max_steps,int8_differing,clip_min,clip_max\r\n");
            for (LayerDiagnostics.Layer l : report.layers()) {
                LayerDiagnostics.Int8Difference d = l.int8();
                w.print(String.join(",", List.of(quoted(l.name()), quoted(l.kind()), number(l.weightSqnrDb()), number(l.inputSqnrDb()),
                        number(l.accuracyOnlyThis()), number(l.accuracyAllButThis()), d == null ? "" : Integer.toString(d.node()),
                        d == null ? "" : number(d.meanSteps()), d == null ? "" : number(d.maxSteps()), d == null ? "" : number(d.differing()),
                        number(l.inputHistogram().clipMin()), number(l.inputHistogram().clipMax()))));
                w.print("\r\n");
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static String number(Double v) {
        return v == null || v.isNaN() ? "" : v.isInfinite() ? (v > 0 ? "inf" : "-inf") : String.format(Locale.ROOT, "%.6g", v);
    }

    private static String quoted(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
