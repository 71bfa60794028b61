package io.qat4j.cli;

import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import io.qat4j.ptq.QuantPlan;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.experiment.ExperimentResults;
import io.qat4j.training.experiment.StageProvenance;
import io.qat4j.training.experiment.VariantResult;

/**
 * Writes an experiment's report: {@code report.md} (results table, per-layer sensitivity and chosen
 * bits, targets, provenance with the revision each row was produced at), {@code results.csv},
 * {@code results.json} ({@link ExperimentResults#write}), {@code accuracy-vs-size.png} and
 * {@code sensitivity.png} (XChart). Every file is written to a temporary file and renamed.
 */
final class ExperimentReport {

    private ExperimentReport() {
    }

    /** Writes every report file into {@code dir}; {@code title} heads report.md (the name, or the name and how far it got). */
    static void write(Path dir, String title, ExperimentResults r) throws IOException {
        r.write(dir);
        AtomicFiles.write(dir.resolve("results.csv"), csv(r).getBytes(StandardCharsets.UTF_8));
        boolean plot = accuracyVsSize(dir.resolve("accuracy-vs-size.png"), r);
        boolean heat = sensitivityHeatMap(dir.resolve("sensitivity.png"), r);
        AtomicFiles.write(dir.resolve("report.md"), markdown(title, r, plot, heat).getBytes(StandardCharsets.UTF_8));
    }

    static final String[] COLUMNS = {"variant", "method", "weight_bits", "input_bits", "status", "fp32_sim_accuracy", "int8_runtime_accuracy",
        "argmax_agreement", "model_bytes", "size_ratio", "calibration_s", "train_s", "total_s", "target", "target_met", "error",
        "git_revision"};

    static String csv(ExperimentResults r) {
        StringBuilder sb = new StringBuilder(String.join(",", COLUMNS)).append('\n');
        sb.append("fp32,FP32 reference,32,32,").append(r.fp32().trainedHere() ? "TRAINED" : "LOADED").append(',')
                .append(r.fp32().accuracy()).append(",,,").append(r.fp32().parameterBytes()).append(",1.0,,")
                .append(str(r.fp32().trainSeconds())).append(",,,,,").append(quote(r.fp32().provenance().gitRevision())).append('\n');
        for (VariantResult v : r.variants()) {
            VariantResult.Quantization q = v.quantization();
            VariantResult.Int8 i = v.int8();
            sb.append(String.join(",", quote(v.name()), quote(v.method()), q == null ? "" : quote(q.weights()), q == null ? "" : quote(q.inputs()),
                    v.status().name(), str(v.simulatedAccuracy()), i == null ? "" : str(i.accuracy()), i == null ? "" : str(i.agreement()),
                    i == null ? "" : str(i.modelBytes()), i == null ? "" : str(i.sizeRatio()), str(v.timing().calibrationSeconds()),
                    str(v.timing().trainSeconds()), str(v.timing().totalSeconds()), v.target() == null ? "" : quote(v.target().target()),
                    v.target() == null ? "" : str(v.target().met()), quote(v.error()), quote(v.provenance().gitRevision()))).append('\n');
        }
        return sb.toString();
    }

    private static String str(Object o) {
        return o == null ? "" : o.toString();
    }

    private static String quote(String s) {
        return s == null ? "" : "\"" + s.replace("\"", "\"\"") + "\"";
    }

    private static String pct(Double d) {
        return d == null ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * d);
    }

    static String markdown(String name, ExperimentResults r, boolean plot, boolean heat) {
        StringBuilder sb = new StringBuilder();
        sb.append("# qat4j experiment: ").append(name).append("\n\n");
        sb.append(String.format(Locale.ROOT, "FP32 reference CNN: **%.2f%%** test accuracy, %,d parameter bytes%s.%n%n", 100 * r.fp32().accuracy(),
                r.fp32().parameterBytes(), r.fp32().trainedHere() ? String.format(Locale.ROOT, ", trained in %.0f s", r.fp32().trainSeconds())
                        : " (loaded from " + r.fp32().model() + ")"));
        sb.append("Accuracy columns: *FP32-sim* is the quantized DL4J network (fake quantization in float); *INT8 runtime* is the ")
                .append("exported integer model run by qat4j's pure-Java runtime on the same test set; *agreement* is their argmax agreement. ")
                .append("Size is the integer model file against the FP32 parameter bytes. Time is calibration + training + export + evaluation.\n\n");
        sb.append("| variant | W bits | A bits | method | FP32-sim acc | INT8 runtime acc | agreement | model bytes | size vs FP32 | calib s | train s | total s | target |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        sb.append(String.format(Locale.ROOT, "| fp32 | 32 | 32 | FP32 reference | %s | - | - | %,d | 1.000x | - | %s | - | - |%n", pct(r.fp32().accuracy()),
                r.fp32().parameterBytes(), r.fp32().trainedHere() ? String.format(Locale.ROOT, "%.0f", r.fp32().trainSeconds()) : "-"));
        for (VariantResult v : r.variants()) {
            String target = v.target() == null ? "-" : v.target().target() + ": " + (v.target().met() ? "**met**" : "**missed**");
            VariantResult.Timing t = v.timing();
            String train = t.trainSeconds() == null ? "-" : String.format(Locale.ROOT, "%.0f", t.trainSeconds());
            switch (v.status()) {
                case FAILED -> sb.append("| ").append(v.name()).append(" | | | ").append(v.method()).append(" | **failed**: ")
                        .append(v.error().replace("|", "\\|").replace("\n", " ")).append(" | | | | | | | | ")
                        .append(target).append(" |\n");
                case NOT_EXPORTABLE -> sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s (not exportable: %s in float) | %s | - | - | - | - | %.1f | %s | %.0f | %s |%n",
                        v.name(), v.quantization().weights(), v.quantization().inputs(), v.method(), v.quantization().keptInFloat().keySet(),
                        pct(v.simulatedAccuracy()), t.calibrationSeconds(), train, t.totalSeconds(), target));
                case EXPORTED -> sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %,d | %.3fx | %.1f | %s | %.0f | %s |%n",
                        v.name(), v.quantization().weights(), v.quantization().inputs(), v.method(), pct(v.simulatedAccuracy()),
                        pct(v.int8().accuracy()), pct(v.int8().agreement()), v.int8().modelBytes(), v.int8().sizeRatio(), t.calibrationSeconds(),
                        train, t.totalSeconds(), target));
            }
        }
        if (plot) {
            sb.append("\n![accuracy vs size](accuracy-vs-size.png)\n");
        }
        boolean anySensitivity = false;
        for (VariantResult v : r.variants()) {
            if (v.quantization() == null || v.quantization().sensitivity() == null) {
                continue;
            }
            Map<String, QuantPlan.Sensitivity> sensitivity = v.quantization().sensitivity();
            if (!anySensitivity) {
                sb.append("\n## Per-layer sensitivity and chosen weight bits\n\n");
                sb.append("S_l(b): distance between FP32 and network outputs with only layer l quantized at b bits ")
                        .append("(weights, then inputs), on the kept calibration samples.\n");
                anySensitivity = true;
            }
            sb.append("\n### ").append(v.name()).append("\n\n");
            TreeSet<Integer> bits = new TreeSet<>();
            sensitivity.values().forEach(s -> bits.addAll(s.weights().keySet()));
            TreeSet<Integer> inBits = new TreeSet<>();
            sensitivity.values().forEach(s -> inBits.addAll(s.inputs().keySet()));
            sb.append("| layer | chosen W bits |");
            bits.forEach(b -> sb.append(" S_w(").append(b).append(") |"));
            inBits.forEach(b -> sb.append(" S_a(").append(b).append(") |"));
            sb.append("\n|---|---|").append("---|".repeat(bits.size() + inBits.size())).append('\n');
            for (Map.Entry<String, QuantPlan.Sensitivity> e : sensitivity.entrySet()) {
                Integer chosen = v.quantization().layerBits().get(e.getKey());
                sb.append("| ").append(e.getKey()).append(" | ").append(chosen == null ? "" : chosen).append(" |");
                bits.forEach(b -> sb.append(String.format(Locale.ROOT, " %.3g |", e.getValue().weights().getOrDefault(b, Double.NaN))));
                inBits.forEach(b -> sb.append(String.format(Locale.ROOT, " %.3g |", e.getValue().inputs().getOrDefault(b, Double.NaN))));
                sb.append('\n');
            }
        }
        if (heat) {
            sb.append("\n![sensitivity heat map](sensitivity.png)\n");
        }
        sb.append("\n## Provenance\n\n");
        r.provenance().forEach((k, val) -> sb.append("- ").append(k).append(": ").append(val).append('\n'));
        sb.append(String.format(Locale.ROOT, "- experiment wall time: %.0f s%n", r.seconds()));
        sb.append("\nRows by the revision that produced them (a row reused by `--resume` keeps its own):\n\n");
        for (Map.Entry<String, List<String>> e : rowsByRevision(r).entrySet()) {
            sb.append("- ").append(e.getKey()).append(": ").append(String.join(", ", e.getValue())).append('\n');
        }
        return sb.toString();
    }

    /** "revision (uncommitted changes)" to the rows (fp32 and variant names) produced there, in row order. */
    static Map<String, List<String>> rowsByRevision(ExperimentResults r) {
        Map<String, List<String>> rows = new LinkedHashMap<>();
        rows.computeIfAbsent(revision(r.fp32().provenance()), k -> new ArrayList<>()).add("fp32");
        for (VariantResult v : r.variants()) {
            rows.computeIfAbsent(revision(v.provenance()), k -> new ArrayList<>()).add(v.name());
        }
        return rows;
    }

    private static String revision(StageProvenance<?> p) {
        return p.shortRevision() + (p.gitDirty().equals("true") ? " (with uncommitted changes)" : "");
    }

    /** Accuracy (INT8 runtime where exported) against model size, one labelled point per variant; false when there is nothing to plot. */
    static boolean accuracyVsSize(Path file, ExperimentResults r) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(600).title("Accuracy vs model size")
                .xAxisTitle("model size / FP32 parameter bytes").yAxisTitle("test accuracy (%)").build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setMarkerSize(10);
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        XYSeries f = chart.addSeries("fp32", new double[] {1.0}, new double[] {100 * r.fp32().accuracy()});
        f.setMarker(SeriesMarkers.DIAMOND);
        int n = 0;
        for (VariantResult v : r.variants()) {
            if (v.status() == VariantResult.Status.EXPORTED) {
                chart.addSeries(v.name(), new double[] {v.int8().sizeRatio()}, new double[] {100 * v.int8().accuracy()});
                n++;
            }
        }
        if (n == 0) {
            return false;
        }
        png(file, chart);
        return true;
    }

    /** log10 of the weight sensitivity per layer and width of the first variant that measured it. */
    static boolean sensitivityHeatMap(Path file, ExperimentResults r) throws IOException {
        System.setProperty("java.awt.headless", "true");
        for (VariantResult v : r.variants()) {
            Map<String, QuantPlan.Sensitivity> sensitivity = v.quantization() == null ? null : v.quantization().sensitivity();
            if (sensitivity == null || sensitivity.isEmpty()) {
                continue;
            }
            List<String> layers = new ArrayList<>(sensitivity.keySet());
            List<Integer> bits = new ArrayList<>(new TreeSet<>(sensitivity.values().iterator().next().weights().keySet()));
            List<Number[]> cells = new ArrayList<>();
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (int x = 0; x < layers.size(); x++) {
                for (int y = 0; y < bits.size(); y++) {
                    double s = sensitivity.get(layers.get(x)).weights().getOrDefault(bits.get(y), 0.0);
                    double logS = Math.round(100 * Math.log10(Math.max(s, 1e-12))) / 100.0;   // two decimals in the cells
                    lo = Math.min(lo, logS);
                    hi = Math.max(hi, logS);
                    cells.add(new Number[] {x, y, logS});
                }
            }
            HeatMapChart chart = new HeatMapChartBuilder().width(800).height(500)
                    .title("log10 weight sensitivity S_l(b) (" + v.name() + ")").xAxisTitle("layer").yAxisTitle("weight bits").build();
            chart.getStyler().setRangeColors(new Color[] {new Color(255, 255, 204), new Color(253, 141, 60), new Color(189, 0, 38)});
            chart.getStyler().setShowValue(true);
            chart.getStyler().setHeatMapDecimalValueFormatter(d -> String.format(Locale.ROOT, "%.2f", d));
            chart.getStyler().setMin(lo);
            chart.getStyler().setMax(hi > lo ? hi : lo + 1);
            chart.addSeries("log10 S", layers, bits.stream().map(String::valueOf).toList(), cells);
            png(file, chart);
            return true;
        }
        return false;
    }

    private static void png(Path file, org.knowm.xchart.internal.chartpart.Chart<?, ?> chart) throws IOException {
        AtomicFiles.write(file, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
