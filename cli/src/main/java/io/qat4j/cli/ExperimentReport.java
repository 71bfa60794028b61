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

import io.qat4j.ptq.LayerDiagnostics;
import io.qat4j.ptq.QuantPlan;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.LayerAnalysis;
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
        Map<String, LayerAnalysis> diagnostics = diagnostics(dir, r);
        for (Map.Entry<String, LayerAnalysis> e : diagnostics.entrySet()) {
            DiagnosticsCharts.histograms(dir.resolve(DIAGNOSTICS_DIR).resolve(e.getKey() + ".png"), e.getKey(), e.getValue());
        }
        if (!diagnostics.isEmpty()) {
            AtomicFiles.write(dir.resolve(LayerAnalysis.CSV_FILE), diagnosticsCsv(diagnostics).getBytes(StandardCharsets.UTF_8));
        }
        AtomicFiles.write(dir.resolve("report.md"), markdown(title, r, plot, heat, diagnostics).getBytes(StandardCharsets.UTF_8));
    }

    /** Where the report puts each variant's input-histogram PNG ({@code <variant>.png}). */
    static final String DIAGNOSTICS_DIR = "diagnostics";

    /**
     * Each variant's per-layer diagnostics ({@code variants/<name>/diagnostics.json}, written by the experiment), in report
     * order; failed variants and variants without a readable file (diagnostics off or failed, results from before them)
     * are left out.
     */
    static Map<String, LayerAnalysis> diagnostics(Path dir, ExperimentResults r) {
        Map<String, LayerAnalysis> out = new java.util.LinkedHashMap<>();
        for (VariantResult v : r.variants()) {
            Path f = dir.resolve("variants").resolve(v.name()).resolve(LayerAnalysis.JSON_FILE);
            if (v.status() != VariantResult.Status.FAILED && java.nio.file.Files.isRegularFile(f)) {
                try {
                    out.put(v.name(), LayerAnalysis.read(f));
                } catch (IOException e) {
                    // diagnostics never stop the report: this variant's subsection is left out, and stderr says why
                    System.err.println("qat4j experiment: " + e.getMessage() + "; the report leaves out " + v.name() + "'s diagnostics");
                }
            }
        }
        return out;
    }

    /** Every variant's diagnostics rows in one CSV, a {@code variant} column first. */
    static String diagnosticsCsv(Map<String, LayerAnalysis> diagnostics) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, LayerAnalysis> e : diagnostics.entrySet()) {
            String[] rows = e.getValue().csv().split("\r\n");
            if (sb.isEmpty()) {
                sb.append("variant,").append(rows[0]).append("\r\n");
            }
            for (int i = 1; i < rows.length; i++) {
                sb.append(field(e.getKey())).append(',').append(rows[i]).append("\r\n");
            }
        }
        return sb.toString();
    }

    /**
     * The columns of {@code results.csv}. Times in seconds as in {@link VariantResult.Timing}: {@code total_s} is what
     * the variant costs on its own (calibration, the shared pass included, + training + export + evaluation), so
     * {@code calibration_s + train_s <= total_s}. {@code q4j_epoch} and {@code best_zip_epoch}: for QAT variants, the
     * epoch the integer model holds (the last) and the one {@code best.zip} holds (best validation accuracy).
     */
    static final String[] COLUMNS = {"variant", "method", "weight_bits", "input_bits", "status", "fp32_sim_accuracy", "int8_runtime_accuracy",
        "argmax_agreement", "model_bytes", "size_ratio", "q4j_epoch", "best_zip_epoch", "calibration_s", "train_s", "total_s", "target",
        "target_met", "error", "git_revision"};

    /**
     * {@code results.csv}: RFC 4180, every field through {@link #field} (quoted exactly when it holds a comma,
     * a double quote or a line break, in every row alike), an empty field for a value that does not apply.
     */
    static String csv(ExperimentResults r) {
        StringBuilder sb = new StringBuilder();
        row(sb, List.of(COLUMNS));
        row(sb, java.util.Arrays.asList("fp32", "FP32 reference", 32, 32, r.fp32().trainedHere() ? "TRAINED" : "LOADED", r.fp32().accuracy(),
                null, null, r.fp32().parameterBytes(), 1.0, null, null, null, r.fp32().trainSeconds(), null, null, null, null,
                r.fp32().provenance().gitRevision()));
        for (VariantResult v : r.variants()) {
            VariantResult.Quantization q = v.quantization();
            VariantResult.Int8 i = v.int8();
            VariantResult.Timing t = v.timing();
            row(sb, java.util.Arrays.asList(v.name(), v.method(), q == null ? null : q.weights(), q == null ? null : q.inputs(), v.status().name(),
                    v.simulatedAccuracy(), i == null ? null : i.accuracy(), i == null ? null : i.agreement(), i == null ? null : i.modelBytes(),
                    i == null ? null : i.sizeRatio(), i == null ? null : i.epoch(), i == null ? null : i.bestEpoch(), t.calibrationSeconds(),
                    t.trainSeconds(), t.totalSeconds(), v.target() == null ? null : v.target().target(),
                    v.target() == null ? null : v.target().met(), v.error(), v.provenance().gitRevision()));
        }
        return sb.toString();
    }

    private static void row(StringBuilder sb, List<?> cells) {
        if (cells.size() != COLUMNS.length) {
            throw new IllegalStateException("results.csv row of " + cells.size() + " cells for " + COLUMNS.length + " columns");
        }
        for (int c = 0; c < cells.size(); c++) {
            sb.append(c == 0 ? "" : ",").append(field(cells.get(c)));
        }
        sb.append('\n');
    }

    /** One CSV field (RFC 4180): empty for null, quoted with doubled quotes when it holds a comma, quote or line break. */
    static String field(Object value) {
        String s = value == null ? "" : value.toString();
        return s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    private static String pct(Double d) {
        return d == null ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * d);
    }

    static String markdown(String name, ExperimentResults r, boolean plot, boolean heat) {
        return markdown(name, r, plot, heat, Map.of());
    }

    static String markdown(String name, ExperimentResults r, boolean plot, boolean heat, Map<String, LayerAnalysis> diagnostics) {
        StringBuilder sb = new StringBuilder();
        sb.append("# qat4j experiment: ").append(name).append("\n\n");
        sb.append(String.format(Locale.ROOT, "FP32 reference CNN: **%.2f%%** test accuracy, %,d parameter bytes%s.%n%n", 100 * r.fp32().accuracy(),
                r.fp32().parameterBytes(), r.fp32().trainedHere() ? String.format(Locale.ROOT, ", trained in %.0f s", r.fp32().trainSeconds())
                        : " (loaded from " + r.fp32().model() + ")"));
        sb.append("Accuracy columns: *FP32-sim* is the quantized DL4J network (fake quantization in float); *INT8 runtime* is the ")
                .append("exported integer model run by qat4j's pure-Java runtime on the same test set; *agreement* is their argmax agreement. ")
                .append("Size is the integer model file against the FP32 parameter bytes. ")
                .append("Times in seconds: *calib* is calibration and the PTQ passes, *train* QAT training, *total* calib + train + export ")
                .append("+ evaluation, what the variant costs on its own; variants with the same calibration settings share one calibration ")
                .append("pass, counted in each, so the totals add up to more than the experiment's wall time (under Provenance). ")
                .append("A QAT variant's model.q4j holds its last epoch; best.zip beside it holds the epoch of best validation accuracy ")
                .append("(the one `qat4j export` of that best.zip exports); the method column names both.\n\n");
        sb.append("| variant | W bits | A bits | method | FP32-sim acc | INT8 runtime acc | agreement | model bytes | size vs FP32 | calib s | train s | total s | target |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        sb.append(String.format(Locale.ROOT, "| fp32 | 32 | 32 | FP32 reference | %s | - | - | %,d | 1.000x | - | %s | - | - |%n", pct(r.fp32().accuracy()),
                r.fp32().parameterBytes(), r.fp32().trainedHere() ? String.format(Locale.ROOT, "%.1f", r.fp32().trainSeconds()) : "-"));
        for (VariantResult v : r.variants()) {
            String target = v.target() == null ? "-" : v.target().target() + ": " + (v.target().met() ? "**met**" : "**missed**");
            VariantResult.Timing t = v.timing();
            // one decimal in every time column: rounding keeps calib + train <= total visible as such
            String train = t.trainSeconds() == null ? "-" : String.format(Locale.ROOT, "%.1f", t.trainSeconds());
            switch (v.status()) {
                case FAILED -> sb.append("| ").append(v.name()).append(" | | | ").append(v.method()).append(" | **failed**: ")
                        .append(v.error().replace("|", "\\|").replace("\n", " ")).append(" | | | | | | | | ")
                        .append(target).append(" |\n");
                case NOT_EXPORTABLE -> sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s (not exportable: %s in float) | %s | - | - | - | - | %.1f | %s | %.1f | %s |%n",
                        v.name(), v.quantization().weights(), v.quantization().inputs(), v.method(), v.quantization().keptInFloat().keySet(),
                        pct(v.simulatedAccuracy()), t.calibrationSeconds(), train, t.totalSeconds(), target));
                case EXPORTED -> sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %,d | %.3fx | %.1f | %s | %.1f | %s |%n",
                        v.name(), v.quantization().weights(), v.quantization().inputs(), v.method() + epochs(v.int8()), pct(v.simulatedAccuracy()),
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
        if (!diagnostics.isEmpty()) {
            sb.append("\n## Per-layer diagnostics\n\n");
            sb.append("For each quantized layer: the SQNR of its quantized weights against the float weights, and of its quantized input ")
                    .append("against the float network's input to the same layer (every earlier layer's error included), ")
                    .append("10 log10(sum x^2 / sum (x - x^)^2) dB; the accuracy with only this layer's quantizers on, and with every ")
                    .append("quantizer but this layer's on; the integer model's output codes at this layer's node against the fake-quant ")
                    .append("network's output on the same grid (mean and largest difference in output steps, share of codes that differ; none for the ")
                    .append("output layer, whose integer node writes float logits); ")
                    .append("the input quantizer's clipping range. Each variant's input histograms, with the clipping range marked, are in ")
                    .append("`").append(DIAGNOSTICS_DIR).append("/<variant>.png`; every number is in `")
                    .append(LayerAnalysis.CSV_FILE).append("`. Measured on the validation split when the data has one, else on the ")
                    .append("test set, as each heading says.\n");
            for (Map.Entry<String, LayerAnalysis> e : diagnostics.entrySet()) {
                LayerDiagnostics.Report d = e.getValue().report();
                sb.append(String.format(Locale.ROOT, "%n### %s%n%n%s: float %.2f%%, fake quant %.2f%%. [input histograms](%s/%s.png)%n%n",
                        e.getKey(), e.getValue().samples(), 100 * d.floatAccuracy(), 100 * d.quantizedAccuracy(), DIAGNOSTICS_DIR, e.getKey()));
                if (e.getValue().exportProblem() != null) {
                    sb.append("No INT8 comparison: the integer export failed: ").append(e.getValue().exportProblem().replace("|", "\\|"))
                            .append("\n\n");
                }
                sb.append(DiagnosticsCharts.table(e.getValue()));
            }
        }
        sb.append("\n## Provenance\n\n");
        r.provenance().forEach((k, val) -> sb.append("- ").append(k).append(": ").append(val).append('\n'));
        sb.append("- experiment wall time: ").append(wallTime(r)).append('\n');
        sb.append("\nRows by the revision and ND4J thread count that produced them (a row reused by `--resume` keeps its own; "
                + "the same seed gives the same numbers only with the same thread count):\n\n");
        for (Map.Entry<String, List<String>> e : rowsByRevision(r).entrySet()) {
            sb.append("- ").append(e.getKey()).append(": ").append(String.join(", ", e.getValue())).append('\n');
        }
        return sb.toString();
    }

    /** "; model.q4j: epoch 3 (the last), best.zip: epoch 2" for a QAT variant's integer model, else "". */
    private static String epochs(VariantResult.Int8 i) {
        return i.epoch() == null ? "" : "; model.q4j: epoch " + i.epoch() + " (the last), best.zip: epoch " + i.bestEpoch();
    }

    /** "812 s" for one invocation; "812 s over 2 invocations (810 s, then 2 s with --resume)" for more. */
    static String wallTime(ExperimentResults r) {
        List<Double> parts = r.invocationSeconds();
        String total = String.format(Locale.ROOT, "%.0f s", r.seconds());
        if (parts.size() == 1) {
            return total;
        }
        List<String> each = new ArrayList<>();
        for (int k = 0; k < parts.size(); k++) {
            each.add(String.format(Locale.ROOT, "%.0f s", parts.get(k)) + (k == 0 ? "" : " with --resume"));
        }
        return total + " over " + parts.size() + " invocations (" + String.join(", then ", each) + ")";
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
        return p.shortRevision() + (p.gitDirty().equals("true") ? " (with uncommitted changes)" : "")
                + (p.nd4jThreads() == null ? ", ND4J threads not recorded" : ", " + p.nd4jThreads() + " ND4J thread"
                + (p.nd4jThreads() == 1 ? "" : "s"));
    }

    /**
     * Distinguishable without colour: one marker shape per series, cycling through these (similar
     * shapes far apart), each with a colour of the Okabe-Ito palette (readable by colour-blind readers)
     * without its yellow, which is nearly invisible on white; the colour cycle shifts by one each time
     * round, so that no two series share shape and colour.
     */
    static final org.knowm.xchart.style.markers.Marker[] MARKERS = {SeriesMarkers.CIRCLE, SeriesMarkers.SQUARE, SeriesMarkers.TRIANGLE_UP,
        SeriesMarkers.DIAMOND, SeriesMarkers.TRIANGLE_DOWN, SeriesMarkers.CROSS, SeriesMarkers.PLUS, SeriesMarkers.TRAPEZOID,
        SeriesMarkers.RECTANGLE, SeriesMarkers.OVAL};
    static final Color[] COLORS = {new Color(0, 114, 178), new Color(213, 94, 0), new Color(0, 158, 115), new Color(204, 121, 167),
        new Color(86, 180, 233), new Color(230, 159, 0), Color.BLACK};

    /** The accuracy-vs-size plot as a file; false when no variant was exported (nothing to plot). */
    static boolean accuracyVsSize(Path file, ExperimentResults r) throws IOException {
        XYChart chart = accuracyVsSizeChart(r);
        if (chart == null) {
            return false;
        }
        png(file, chart);
        return true;
    }

    /**
     * INT8-runtime test accuracy of every exported variant against its model size relative to the FP32
     * parameter bytes, on a logarithmic size axis (sizes span 1/16 to 1/4 and the FP32 point is at 1),
     * with the FP32 model at 1; each point its own series (marker shape and colour, in the legend) and
     * labelled with the variant's name beside it. Null when no variant was exported.
     */
    static XYChart accuracyVsSizeChart(ExperimentResults r) {
        System.setProperty("java.awt.headless", "true");
        List<String> names = new ArrayList<>(List.of("fp32"));
        List<double[]> points = new ArrayList<>();
        points.add(new double[] {1.0, 100 * r.fp32().accuracy()});
        for (VariantResult v : r.variants()) {
            if (v.status() == VariantResult.Status.EXPORTED) {
                names.add(v.name());
                points.add(new double[] {v.int8().sizeRatio(), 100 * v.int8().accuracy()});
            }
        }
        if (names.size() == 1) {
            return null;
        }
        XYChart chart = new XYChartBuilder().width(1000).height(650).title("INT8-runtime test accuracy vs model size")
                .xAxisTitle("model size / FP32 parameter bytes (log scale)")
                .yAxisTitle("test accuracy (%), integer model in the INT8 runtime (fp32: float)").build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setMarkerSize(11);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setXAxisDecimalPattern("0.00");
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        chart.getStyler().setAnnotationTextFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 12));
        chart.getStyler().setAnnotationTextFontColor(Color.BLACK);
        // fixed axis ranges, so that a label's width (about 7 px a character) converts to a distance along the axes
        double xMin = points.stream().mapToDouble(q -> q[0]).min().orElse(0.1) / 1.25;
        double xMax = 1.0 * 2.2;   // room for the fp32 point's label
        double yMin = points.stream().mapToDouble(q -> q[1]).min().orElse(0);
        double yMax = points.stream().mapToDouble(q -> q[1]).max().orElse(100);
        double pad = Math.max(yMax - yMin, 1) * 0.06;
        chart.getStyler().setXAxisMin(xMin);
        chart.getStyler().setXAxisMax(xMax);
        chart.getStyler().setYAxisMin(yMin - pad);
        chart.getStyler().setYAxisMax(yMax + pad);
        double decadesPerPixel = Math.log10(xMax / xMin) / 700;   // the plot area is about 700 of the 1000 px
        double lineHeight = (yMax - yMin + 2 * pad) / 560 * 16;      // and about 560 px high; a label line is 16 px
        List<double[]> placed = new ArrayList<>();   // {log10 left edge, log10 right edge, y} of each label
        for (int k = 0; k < names.size(); k++) {
            double[] q = points.get(k);
            XYSeries series = chart.addSeries(names.get(k), new double[] {q[0]}, new double[] {q[1]});
            series.setMarker(MARKERS[k % MARKERS.length]);
            series.setMarkerColor(COLORS[(k + k / COLORS.length) % COLORS.length]);
            // the label starts 10 px right of its point; it moves down a line while it would cover a placed one
            double halfWidth = 7 * names.get(k).length() / 2.0 * decadesPerPixel;
            double left = Math.log10(q[0]) + 10 * decadesPerPixel;
            double y = q[1];
            boolean moved = true;
            while (moved) {
                moved = false;
                for (double[] other : placed) {
                    boolean overlapX = left < other[1] && other[0] < left + 2 * halfWidth;
                    if (overlapX && Math.abs(other[2] - y) < 0.999 * lineHeight) {   // y only decreases: this ends
                        y = other[2] - lineHeight;
                        moved = true;
                    }
                }
            }
            placed.add(new double[] {left, left + 2 * halfWidth, y});
            // AnnotationText centres its text on (x, y)
            chart.addAnnotation(new org.knowm.xchart.AnnotationText(names.get(k), Math.pow(10, left + halfWidth), y, false));
        }
        return chart;
    }

    /** The sensitivity heat map as a file, its colour bar labelled; false when no variant measured sensitivity. */
    static boolean sensitivityHeatMap(Path file, ExperimentResults r) throws IOException {
        HeatMapChart chart = sensitivityChart(r);
        if (chart == null) {
            return false;
        }
        java.awt.image.BufferedImage image = withColourBarTitle(BitmapEncoder.getBufferedImage(chart), COLOUR_BAR_TITLE,
                chart.getStyler().getChartBackgroundColor());
        AtomicFiles.write(file, out -> javax.imageio.ImageIO.write(image, "png", out));
        return true;
    }

    /** What the heat map's colour bar measures (XChart draws the bar with its end values only). */
    static final String COLOUR_BAR_TITLE = "log10 S_l(b): higher = more sensitive";

    /** The chart with a strip on the right holding {@code title} vertically, beside the colour bar XChart draws at the right edge. */
    static java.awt.image.BufferedImage withColourBarTitle(java.awt.image.BufferedImage chart, String title, Color background) {
        int strip = 30;
        java.awt.image.BufferedImage out = new java.awt.image.BufferedImage(chart.getWidth() + strip, chart.getHeight(),
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(java.awt.RenderingHints.KEY_TEXT_ANTIALIASING, java.awt.RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(background);
            g.fillRect(0, 0, out.getWidth(), out.getHeight());
            g.drawImage(chart, 0, 0, null);
            g.setColor(Color.BLACK);
            g.setFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 13));
            int textWidth = g.getFontMetrics().stringWidth(title);
            g.rotate(Math.PI / 2);   // top to bottom, read with the head tilted right, as a colour bar's title beside it
            g.drawString(title, (out.getHeight() - textWidth) / 2, -(chart.getWidth() + (strip - 13) / 2));
        } finally {
            g.dispose();
        }
        return out;
    }

    /** The colour bar's and the cells' number format: always a digit before the point ("-0.24", never "-.24"). */
    static final String LOG_FORMAT = "0.00";

    /**
     * log10 of the sensitivity S_l(b) of the first variant that measured it, per layer (columns) and
     * quantized tensor and width (rows: weights at each candidate width, then inputs), the colour bar
     * titled with what it measures; cells without a measurement are left out. Null when no variant
     * measured sensitivity.
     */
    static HeatMapChart sensitivityChart(ExperimentResults r) {
        System.setProperty("java.awt.headless", "true");
        for (VariantResult v : r.variants()) {
            Map<String, QuantPlan.Sensitivity> sensitivity = v.quantization() == null ? null : v.quantization().sensitivity();
            if (sensitivity == null || sensitivity.isEmpty()) {
                continue;
            }
            List<String> layers = new ArrayList<>(sensitivity.keySet());
            TreeSet<Integer> weightBits = new TreeSet<>();
            TreeSet<Integer> inputBits = new TreeSet<>();
            sensitivity.values().forEach(s -> {
                weightBits.addAll(s.weights().keySet());
                inputBits.addAll(s.inputs().keySet());
            });
            List<String> rows = new ArrayList<>();
            weightBits.forEach(b -> rows.add("weights " + b + "b"));
            inputBits.forEach(b -> rows.add("inputs " + b + "b"));
            List<Number[]> cells = new ArrayList<>();
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (int x = 0; x < layers.size(); x++) {
                QuantPlan.Sensitivity s = sensitivity.get(layers.get(x));
                int y = 0;
                for (int b : weightBits) {
                    lo = Math.min(lo, addCell(cells, x, y, s.weights().get(b)));
                    hi = Math.max(hi, cellValue(s.weights().get(b), Double.NEGATIVE_INFINITY));
                    y++;
                }
                for (int b : inputBits) {
                    lo = Math.min(lo, addCell(cells, x, y, s.inputs().get(b)));
                    hi = Math.max(hi, cellValue(s.inputs().get(b), Double.NEGATIVE_INFINITY));
                    y++;
                }
            }
            if (cells.isEmpty()) {
                continue;
            }
            HeatMapChart chart = new HeatMapChartBuilder().width(900).height(120 + 45 * rows.size())
                    .title("Sensitivity of " + v.name() + ": log10 S_l(b), output distance with only that tensor quantized")
                    .xAxisTitle("layer").yAxisTitle("quantized tensor, bits").build();
            chart.getStyler().setRangeColors(new Color[] {new Color(255, 247, 236), new Color(253, 141, 60), new Color(127, 0, 0)});
            chart.getStyler().setShowValue(true);
            chart.getStyler().setValueFontColor(Color.BLACK);
            chart.getStyler().setHeatMapValueDecimalPattern(LOG_FORMAT);
            chart.getStyler().setHeatMapDecimalValueFormatter(d -> new java.text.DecimalFormat(LOG_FORMAT,
                    java.text.DecimalFormatSymbols.getInstance(Locale.ROOT)).format(d));
            chart.getStyler().setMin(lo);
            chart.getStyler().setMax(hi > lo ? hi : lo + 1);
            chart.getStyler().setPlotContentSize(0.95);
            chart.addSeries(COLOUR_BAR_TITLE, layers, rows, cells);
            return chart;
        }
        return null;
    }

    /** Adds the cell of a measurement (none when null); returns its log10 value, or +infinity when there is none. */
    private static double addCell(List<Number[]> cells, int x, int y, Double s) {
        if (s == null) {
            return Double.POSITIVE_INFINITY;
        }
        double logS = cellValue(s, 0);
        cells.add(new Number[] {x, y, logS});
        return logS;
    }

    /** log10 of a sensitivity, floored at 1e-12 (a distance of 0 has no logarithm), rounded to the two decimals shown. */
    private static double cellValue(Double s, double absent) {
        return s == null ? absent : Math.round(100 * Math.log10(Math.max(s, 1e-12))) / 100.0;
    }

    private static void png(Path file, org.knowm.xchart.internal.chartpart.Chart<?, ?> chart) throws IOException {
        AtomicFiles.write(file, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
