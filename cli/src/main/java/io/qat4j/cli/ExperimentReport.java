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

/**
 * Writes an experiment's report: {@code report.md} (results table, per-layer sensitivity and chosen
 * bits, targets, provenance), {@code results.csv}, {@code results.json}, {@code accuracy-vs-size.png}
 * and {@code sensitivity.png} (XChart). Every file is written to a temporary file and renamed.
 */
final class ExperimentReport {

    /** Everything the report shows. */
    record Results(Experiment.Fp32Result fp32, List<Experiment.VariantResult> variants, double seconds) {
    }

    private ExperimentReport() {
    }

    static void write(Path dir, String name, Results r, Map<String, Object> provenance) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("experiment", name);
        json.put("provenance", provenance);
        json.put("fp32", r.fp32());
        json.put("variants", r.variants());
        json.put("seconds", r.seconds());
        AtomicFiles.write(dir.resolve("results.json"), Runs.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
        AtomicFiles.write(dir.resolve("results.csv"), csv(r).getBytes(StandardCharsets.UTF_8));
        boolean plot = accuracyVsSize(dir.resolve("accuracy-vs-size.png"), r);
        boolean heat = sensitivityHeatMap(dir.resolve("sensitivity.png"), r);
        AtomicFiles.write(dir.resolve("report.md"), markdown(name, r, provenance, plot, heat).getBytes(StandardCharsets.UTF_8));
    }

    static final String[] COLUMNS = {"variant", "method", "weight_bits", "input_bits", "status", "fp32_sim_accuracy", "int8_runtime_accuracy",
        "argmax_agreement", "model_bytes", "size_ratio", "calibration_s", "train_s", "total_s", "target", "target_met", "error"};

    static String csv(Results r) {
        StringBuilder sb = new StringBuilder(String.join(",", COLUMNS)).append('\n');
        sb.append("fp32,FP32 reference,32,32,ok,").append(r.fp32().accuracy()).append(",,,").append(r.fp32().parameterBytes())
                .append(",1.0,,").append(r.fp32().trainSeconds()).append(",,,,\n");
        for (Experiment.VariantResult v : r.variants()) {
            sb.append(String.join(",", quote(v.name()), quote(v.method()), quote(v.weights()), quote(v.inputs()), v.status(),
                    str(v.simulatedAccuracy()), str(v.int8Accuracy()), str(v.agreement()), str(v.modelBytes()), str(v.sizeRatio()),
                    str(v.calibrationSeconds()), str(v.trainSeconds()), str(v.totalSeconds()), quote(v.target()), str(v.targetMet()),
                    quote(v.error()))).append('\n');
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

    static String markdown(String name, Results r, Map<String, Object> provenance, boolean plot, boolean heat) {
        StringBuilder sb = new StringBuilder();
        sb.append("# qat4j experiment: ").append(name).append("\n\n");
        sb.append(String.format(Locale.ROOT, "FP32 reference CNN: **%.2f%%** test accuracy, %,d parameter bytes%s.%n%n", 100 * r.fp32().accuracy(),
                r.fp32().parameterBytes(), r.fp32().trainSeconds() > 0 ? String.format(Locale.ROOT, ", trained in %.0f s", r.fp32().trainSeconds())
                        : " (loaded from " + r.fp32().model() + ")"));
        sb.append("Accuracy columns: *FP32-sim* is the quantized DL4J network (fake quantization in float); *INT8 runtime* is the ")
                .append("exported integer model run by qat4j's pure-Java runtime on the same test set; *agreement* is their argmax agreement. ")
                .append("Size is the integer model file against the FP32 parameter bytes. Time is calibration + training + export + evaluation.\n\n");
        sb.append("| variant | W bits | A bits | method | FP32-sim acc | INT8 runtime acc | agreement | model bytes | size vs FP32 | calib s | train s | total s | target |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        sb.append(String.format(Locale.ROOT, "| fp32 | 32 | 32 | FP32 reference | %s | - | - | %,d | 1.000x | - | %.0f | - | - |%n", pct(r.fp32().accuracy()),
                r.fp32().parameterBytes(), r.fp32().trainSeconds()));
        for (Experiment.VariantResult v : r.variants()) {
            if (!"ok".equals(v.status())) {
                sb.append("| ").append(v.name()).append(" | | | ").append(v.method()).append(" | **failed**: ")
                        .append(v.error() == null ? "" : v.error().replace("|", "\\|").replace("\n", " ")).append(" | | | | | | | | ")
                        .append(v.target() == null ? "-" : v.target() + ": missed").append(" |\n");
                continue;
            }
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s | %.0f | %s |%n", v.name(), v.weights(),
                    v.inputs(), v.method(), pct(v.simulatedAccuracy()), pct(v.int8Accuracy()), pct(v.agreement()),
                    v.modelBytes() == null ? "-" : String.format(Locale.ROOT, "%,d", v.modelBytes()),
                    v.sizeRatio() == null ? "-" : String.format(Locale.ROOT, "%.3fx", v.sizeRatio()), v.calibrationSeconds(),
                    v.trainSeconds() == null ? "-" : String.format(Locale.ROOT, "%.0f", v.trainSeconds()), v.totalSeconds(),
                    v.target() == null ? "-" : v.target() + ": " + (Boolean.TRUE.equals(v.targetMet()) ? "**met**" : "**missed**")));
        }
        if (plot) {
            sb.append("\n![accuracy vs size](accuracy-vs-size.png)\n");
        }
        boolean anySensitivity = false;
        for (Experiment.VariantResult v : r.variants()) {
            if (v.sensitivity() == null) {
                continue;
            }
            if (!anySensitivity) {
                sb.append("\n## Per-layer sensitivity and chosen weight bits\n\n");
                sb.append("S_l(b): distance between FP32 and network outputs with only layer l quantized at b bits ")
                        .append("(weights, then inputs), on the kept calibration samples.\n");
                anySensitivity = true;
            }
            sb.append("\n### ").append(v.name()).append("\n\n");
            TreeSet<Integer> bits = new TreeSet<>();
            v.sensitivity().values().forEach(s -> bits.addAll(s.weights().keySet()));
            TreeSet<Integer> inBits = new TreeSet<>();
            v.sensitivity().values().forEach(s -> inBits.addAll(s.inputs().keySet()));
            sb.append("| layer | chosen W bits |");
            bits.forEach(b -> sb.append(" S_w(").append(b).append(") |"));
            inBits.forEach(b -> sb.append(" S_a(").append(b).append(") |"));
            sb.append("\n|---|---|").append("---|".repeat(bits.size() + inBits.size())).append('\n');
            for (Map.Entry<String, QuantPlan.Sensitivity> e : v.sensitivity().entrySet()) {
                sb.append("| ").append(e.getKey()).append(" | ").append(v.layerBits() == null ? "" : v.layerBits().get(e.getKey())).append(" |");
                bits.forEach(b -> sb.append(String.format(Locale.ROOT, " %.3g |", e.getValue().weights().getOrDefault(b, Double.NaN))));
                inBits.forEach(b -> sb.append(String.format(Locale.ROOT, " %.3g |", e.getValue().inputs().getOrDefault(b, Double.NaN))));
                sb.append('\n');
            }
        }
        if (heat) {
            sb.append("\n![sensitivity heat map](sensitivity.png)\n");
        }
        sb.append("\n## Provenance\n\n");
        provenance.forEach((k, val) -> sb.append("- ").append(k).append(": ").append(val).append('\n'));
        sb.append(String.format(Locale.ROOT, "- experiment wall time: %.0f s%n", r.seconds()));
        return sb.toString();
    }

    /** Accuracy (INT8 runtime where exported) against model size, one labelled point per variant; false when there is nothing to plot. */
    static boolean accuracyVsSize(Path file, Results r) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(600).title("Accuracy vs model size")
                .xAxisTitle("model size / FP32 parameter bytes").yAxisTitle("test accuracy (%)").build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setMarkerSize(10);
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        XYSeries f = chart.addSeries("fp32", new double[] {1.0}, new double[] {100 * r.fp32().accuracy()});
        f.setMarker(SeriesMarkers.DIAMOND);
        int n = 0;
        for (Experiment.VariantResult v : r.variants()) {
            if ("ok".equals(v.status()) && v.sizeRatio() != null && v.accuracy() != null) {
                chart.addSeries(v.name(), new double[] {v.sizeRatio()}, new double[] {100 * v.accuracy()});
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
    static boolean sensitivityHeatMap(Path file, Results r) throws IOException {
        System.setProperty("java.awt.headless", "true");
        for (Experiment.VariantResult v : r.variants()) {
            if (v.sensitivity() == null || v.sensitivity().isEmpty()) {
                continue;
            }
            List<String> layers = new ArrayList<>(v.sensitivity().keySet());
            List<Integer> bits = new ArrayList<>(new TreeSet<>(v.sensitivity().values().iterator().next().weights().keySet()));
            List<Number[]> cells = new ArrayList<>();
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (int x = 0; x < layers.size(); x++) {
                for (int y = 0; y < bits.size(); y++) {
                    double s = v.sensitivity().get(layers.get(x)).weights().getOrDefault(bits.get(y), 0.0);
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
