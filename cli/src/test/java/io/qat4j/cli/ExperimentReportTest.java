package io.qat4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;

import io.qat4j.ptq.QuantPlan;
import io.qat4j.training.config.ExperimentConfig;
import io.qat4j.training.config.RunConfig;
import io.qat4j.training.experiment.ExperimentResults;
import io.qat4j.training.experiment.Fp32Result;
import io.qat4j.training.experiment.StageProvenance;
import io.qat4j.training.experiment.VariantResult;

/**
 * The report files of an experiment, from typed results made here (no training): results.csv
 * quoted alike in every row, time columns that keep calibration + training <= total after rounding,
 * the wall time over several invocations, which epoch each QAT file holds, and the two plots'
 * labels, scales and markers.
 */
class ExperimentReportTest {

    @TempDir
    Path dir;

    private static final String REVISION = "0123456789abcdef0123456789abcdef01234567";

    private static StageProvenance<ExperimentConfig.Variant> provenance(String name) {
        return new StageProvenance<>("2024-01-01T00:00:00Z", REVISION, "false", "0.1.0-SNAPSHOT", 1,
                ExperimentConfig.Variant.postTraining(name, RunConfig.Ptq.builder().build()), 1);
    }

    private static VariantResult exported(String name, String method, String weights, double accuracy, double sizeRatio,
                                          VariantResult.Timing timing, Integer epoch, Integer bestEpoch, Map<String, QuantPlan.Sensitivity> s) {
        VariantResult.Quantization q = new VariantResult.Quantization(weights, "8", Map.of("conv1", 8), s, List.of("fold"), null,
                "variants/" + name + "/plan.json");
        VariantResult.Int8 int8 = new VariantResult.Int8(accuracy, 0.99, Math.round(838_000 * sizeRatio), sizeRatio,
                "variants/" + name + "/model.q4j", epoch, bestEpoch);
        return new VariantResult(name, method, VariantResult.Status.EXPORTED, null, q, accuracy + 0.001, int8, timing, null, provenance(name));
    }

    static ExperimentResults results() {
        Map<String, QuantPlan.Sensitivity> sensitivity = new LinkedHashMap<>();
        sensitivity.put("conv1", new QuantPlan.Sensitivity("mse", Map.of(2, 0.575, 4, 0.0123, 8, 1.1e-5), Map.of(4, 0.08, 8, 2.2e-4), 0, null));
        sensitivity.put("conv2", new QuantPlan.Sensitivity("mse", Map.of(2, 1.7, 4, 0.03, 8, 4.0e-5), Map.of(4, 0.2, 8, 7.0e-4), 0, null));
        sensitivity.put("fc1", new QuantPlan.Sensitivity("mse", Map.of(2, 0.31, 4, 0.004, 8, 2.0e-6), Map.of(4, 0.05, 8, 1.0e-4), 0, null));
        List<VariantResult> variants = new ArrayList<>();
        // calibration 7.46 s and total 7.49 s: shown with one decimal each, never "7.5" against "7"
        variants.add(exported("ptq-w8a8-percentile", "PTQ percentile", "8", 0.884, 0.253, new VariantResult.Timing(7.46, null, 7.49),
                null, null, null));
        variants.add(exported("ptq-w8a8-entropy", "PTQ entropy", "8", 0.883, 0.253, new VariantResult.Timing(7.2, null, 7.9), null, null, null));
        variants.add(exported("ptq-w4a4", "PTQ mse", "4", 0.81, 0.131, new VariantResult.Timing(5.0, null, 5.6), null, null, null));
        variants.add(exported("ptq-w3a8", "PTQ percentile", "3", 0.85, 0.101, new VariantResult.Timing(5.0, null, 5.6), null, null, null));
        variants.add(exported("ptq-mixed-w3", "PTQ percentile, mixed precision (exact)", "mixed 3.02 avg", 0.86, 0.102,
                new VariantResult.Timing(40.0, null, 41.0), null, null, sensitivity));
        variants.add(exported("qat-w4a4-lsq", "QAT LSQ/LSQ from PTQ plan", "4", 0.875, 0.131, new VariantResult.Timing(5.1, 120.0, 127.0),
                3, 2, null));
        variants.add(exported("qat-ternary-a8", "QAT TERNARY/LSQ from \"PTQ\" plan", "ternary", 0.86, 0.067,
                new VariantResult.Timing(5.1, 118.0, 125.0), 3, 3, null));
        variants.add(VariantResult.failed("ptq-broken", "PTQ", "IllegalStateException: a, b and \"c\"", 0.4, provenance("ptq-broken")));
        Fp32Result fp32 = new Fp32Result(0.886, 838_000, 200.0, "fp32/best.zip",
                new StageProvenance<>("2024-01-01T00:00:00Z", REVISION, "false", "0.1.0-SNAPSHOT", 1,
                        ExperimentConfig.Fp32.schedule(RunConfig.Train.of(10, 1e-3)), 2));
        return new ExperimentResults("quickstart", Map.of("git.revision", REVISION), fp32, variants, 812.0, List.of(810.0, 2.0));
    }

    /** RFC 4180 fields of one record (the test's own reader), each with whether it was quoted. */
    private static List<String[]> fields(String line) {
        List<String[]> out = new ArrayList<>();
        int i = 0;
        while (i <= line.length()) {
            StringBuilder f = new StringBuilder();
            boolean quoted = i < line.length() && line.charAt(i) == '"';
            if (quoted) {
                i++;
                while (true) {
                    char c = line.charAt(i++);
                    if (c == '"' && i < line.length() && line.charAt(i) == '"') {
                        f.append('"');
                        i++;
                    } else if (c == '"') {
                        break;
                    } else {
                        f.append(c);
                    }
                }
            } else {
                while (i < line.length() && line.charAt(i) != ',') {
                    f.append(line.charAt(i++));
                }
            }
            out.add(new String[] {f.toString(), Boolean.toString(quoted)});
            i++;   // the comma
        }
        return out;
    }

    @Test
    void resultsCsvQuotesTheSameWayInEveryRow() {
        String csv = ExperimentReport.csv(results());
        List<String> lines = csv.lines().toList();
        assertEquals(10, lines.size(), csv);
        Set<Integer> numeric = new HashSet<>();
        List<String> header = fields(lines.get(0)).stream().map(f -> f[0]).toList();
        assertEquals(List.of(ExperimentReport.COLUMNS), header);
        for (String column : List.of("fp32_sim_accuracy", "int8_runtime_accuracy", "argmax_agreement", "model_bytes", "size_ratio", "q4j_epoch",
                "best_zip_epoch", "calibration_s", "train_s", "total_s")) {
            numeric.add(header.indexOf(column));
        }
        for (String line : lines.subList(1, lines.size())) {
            List<String[]> row = fields(line);
            assertEquals(header.size(), row.size(), line);
            for (int c = 0; c < row.size(); c++) {
                String value = row.get(c)[0];
                boolean quoted = Boolean.parseBoolean(row.get(c)[1]);
                assertEquals(value.contains(",") || value.contains("\""), quoted, "quoted exactly when it must be: column "
                        + header.get(c) + " in " + line);
                if (numeric.contains(c)) {
                    assertTrue(value.isEmpty() || value.matches("-?[0-9.]+(E-?[0-9]+)?"), header.get(c) + " = " + value + " in " + line);
                }
            }
        }
        assertTrue(csv.contains(",\"PTQ percentile, mixed precision (exact)\",mixed 3.02 avg,8,EXPORTED,"), csv);
        assertTrue(csv.contains("\"IllegalStateException: a, b and \"\"c\"\"\""), csv);
        assertTrue(csv.contains("qat-w4a4-lsq,QAT LSQ/LSQ from PTQ plan,4,8,EXPORTED,0.876,0.875,0.99,109778,0.131,3,2,5.1,120.0,127.0,"), csv);
    }

    /** Rows are grouped by revision and thread count, the two things besides the seed and config that decide a number. */
    @Test
    void rowsAreListedByRevisionAndNd4jThreadCount() {
        ExperimentResults r = results();
        List<VariantResult> variants = new ArrayList<>(r.variants());
        // a row written before the thread count was recorded (null) says so instead of guessing
        variants.add(VariantResult.failed("ptq-old", "PTQ", "x", 0.1, new StageProvenance<>("2024-01-01T00:00:00Z", REVISION, "false",
                "0.1.0-SNAPSHOT", 1, ExperimentConfig.Variant.postTraining("ptq-old", RunConfig.Ptq.builder().build()), null)));
        String md = ExperimentReport.markdown("quickstart", new ExperimentResults("quickstart", r.provenance(), r.fp32(), variants,
                r.seconds(), r.invocationSeconds()), false, false);
        assertTrue(md.contains("- 0123456789, 2 ND4J threads: fp32\n"), md);
        assertTrue(md.contains("- 0123456789, 1 ND4J thread: ptq-w8a8-percentile, "), md);
        assertTrue(md.contains("- 0123456789, ND4J threads not recorded: ptq-old\n"), md);
    }

    @Test
    void reportTimesKeepCalibrationWithinTotalAndTheWallTimeSpansEveryInvocation() {
        String md = ExperimentReport.markdown("quickstart", results(), true, true);
        assertTrue(md.contains("| 7.5 | - | 7.5 |"), "calibration 7.46 s within total 7.49 s, both to one decimal:\n" + md);
        assertFalse(md.contains("| 7.5 | - | 7 |"), md);
        assertTrue(md.contains("| 5.1 | 120.0 | 127.0 |"), md);
        assertTrue(md.contains("*total* calib + train + export + evaluation"), md);
        assertTrue(md.contains("- experiment wall time: 812 s over 2 invocations (810 s, then 2 s with --resume)"), md);
        assertTrue(md.contains("| QAT LSQ/LSQ from PTQ plan; model.q4j: epoch 3 (the last), best.zip: epoch 2 |"), md);
        assertEquals("812 s", ExperimentReport.wallTime(new ExperimentResults("x", Map.of(), results().fp32(), List.of(), 812.0, null)));
    }

    @Test
    void accuracyVsSizeSaysWhatItPlotsLabelsEveryPointAndTellsThemApartWithoutColour() throws Exception {
        XYChart chart = ExperimentReport.accuracyVsSizeChart(results());
        assertNotNull(chart);
        assertTrue(chart.getStyler().isXAxisLogarithmic(), "sizes from 1/16 to 1 on a log axis");
        assertTrue(chart.getYAxisTitle().contains("INT8 runtime"), chart.getYAxisTitle());
        Map<String, XYSeries> series = chart.getSeriesMap();
        assertEquals(List.of("fp32", "ptq-w8a8-percentile", "ptq-w8a8-entropy", "ptq-w4a4", "ptq-w3a8", "ptq-mixed-w3", "qat-w4a4-lsq",
                "qat-ternary-a8"), new ArrayList<>(series.keySet()), "one series per exported variant, the failed one left out");
        Set<Class<?>> shapes = new HashSet<>();
        for (XYSeries s : series.values()) {
            shapes.add(s.getMarker().getClass());
            Color c = s.getMarkerColor();
            double luminance = (0.2126 * c.getRed() + 0.7152 * c.getGreen() + 0.0722 * c.getBlue()) / 255;
            assertTrue(luminance < 0.75, s.getName() + "'s colour " + c + " is too pale on white");
        }
        assertEquals(series.size(), shapes.size(), "a marker shape per point");
        java.lang.reflect.Field annotations = org.knowm.xchart.internal.chartpart.Chart.class.getDeclaredField("annotations");
        annotations.setAccessible(true);
        assertEquals(series.size(), ((List<?>) annotations.get(chart)).size(), "every point labelled with its name");

        Path png = dir.resolve("accuracy-vs-size.png");
        assertTrue(ExperimentReport.accuracyVsSize(png, results()));
        assertTrue(Files.size(png) > 10_000);
        Files.copy(png, Path.of("target", "accuracy-vs-size-example.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void sensitivityMapShowsWeightsAndInputsWithALabelledColourBarAndReadableNumbers() throws Exception {
        HeatMapChart chart = ExperimentReport.sensitivityChart(results());
        assertNotNull(chart);
        assertEquals(List.of("weights 2b", "weights 4b", "weights 8b", "inputs 4b", "inputs 8b"), chart.getHeatMapSeries().getYData());
        assertEquals(List.of("conv1", "conv2", "fc1"), chart.getHeatMapSeries().getXData());
        assertTrue(chart.getHeatMapSeries().getName().startsWith("log10 S_l(b)"), "the colour bar says what it measures");
        assertEquals(15, chart.getHeatMapSeries().getHeatData().size());
        assertEquals("-0.24", new java.text.DecimalFormat(chart.getStyler().getHeatMapValueDecimalPattern()).format(-0.24));
        assertEquals("-0.24", chart.getStyler().getHeatMapDecimalValueFormatter().apply(-0.24));
        Path png = dir.resolve("sensitivity.png");
        assertTrue(ExperimentReport.sensitivityHeatMap(png, results()));
        java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(png.toFile());
        assertEquals(chart.getWidth() + 30, image.getWidth(), "a strip for the colour bar's title");
        int dark = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = chart.getWidth(); x < image.getWidth(); x++) {
                dark += (image.getRGB(x, y) & 0xff) < 100 ? 1 : 0;
            }
        }
        assertTrue(dark > 100, "the title is drawn in the strip (" + dark + " dark pixels)");
        Files.copy(png, Path.of("target", "sensitivity-example.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void diagnosticsSectionHasATablePerAnalysedVariantTheirHistogramsAndOneCsv() throws Exception {
        ExperimentResults r = results();
        io.qat4j.ptq.LayerDiagnostics.Layer conv1 = new io.qat4j.ptq.LayerDiagnostics.Layer("conv1", "ConvolutionLayer", 38.04, 41.2, 0.88,
                0.87, new io.qat4j.ptq.LayerDiagnostics.Int8Difference(0, 0.0012, 1, 0.0012),
                new io.qat4j.ptq.LayerDiagnostics.Histogram(new double[] {0, 0.5, 1}, new long[] {90, 10}, 0, 0.99));
        io.qat4j.ptq.LayerDiagnostics.Layer out = new io.qat4j.ptq.LayerDiagnostics.Layer("out", "OutputLayer", 35.5,
                Double.POSITIVE_INFINITY, 0.886, 0.884, null,
                new io.qat4j.ptq.LayerDiagnostics.Histogram(new double[] {-1, 0, 1}, new long[] {5, 6}, Double.NaN, Double.NaN));
        // two variants analysed, the others not (diagnostics off, or results from before them)
        for (String v : List.of("ptq-w4a4", "qat-w4a4-lsq")) {
            new io.qat4j.training.LayerAnalysis("validation split (500 samples)", true,
                    new io.qat4j.ptq.LayerDiagnostics.Report(500, 0.9, 0.88, List.of(conv1, out))).write(dir.resolve("variants").resolve(v));
        }
        // a failed variant's leftover file and an unreadable one: left out, and the report is still written
        new io.qat4j.training.LayerAnalysis("test set (2 samples)", true,
                new io.qat4j.ptq.LayerDiagnostics.Report(2, 0.5, 0.5, List.of(conv1))).write(dir.resolve("variants").resolve("ptq-broken"));
        Files.createDirectories(dir.resolve("variants/ptq-w3a8"));
        Files.writeString(dir.resolve("variants/ptq-w3a8").resolve(io.qat4j.training.LayerAnalysis.JSON_FILE), "{\"samples\": [");
        ExperimentReport.write(dir, "quickstart", r);
        String md = Files.readString(dir.resolve("report.md"));
        assertFalse(md.contains("### ptq-broken") || md.contains("### ptq-w3a8"), md);
        int section = md.indexOf("## Per-layer diagnostics");
        assertTrue(section > 0 && section < md.indexOf("## Provenance"), md);
        assertTrue(md.contains("### ptq-w4a4\n\nvalidation split (500 samples): float 90.00%, fake quant 88.00%. "
                + "[input histograms](diagnostics/ptq-w4a4.png)"), md);
        assertTrue(md.contains("| conv1 | 38.0 | 41.2 | 88.00% | 87.00% | 0.0012 / 1, 0.12% | [0.000, 0.9900] |"), md);
        assertTrue(md.contains("| out | 35.5 | exact | 88.60% | 88.40% | - | - |"), md);
        assertFalse(md.contains("### ptq-w8a8-percentile"), "no diagnostics file, no subsection");
        for (String v : List.of("ptq-w4a4", "qat-w4a4-lsq")) {
            java.awt.image.BufferedImage png = javax.imageio.ImageIO.read(dir.resolve("diagnostics").resolve(v + ".png").toFile());
            assertEquals(2 * 420, png.getWidth());
        }
        String[] csv = Files.readString(dir.resolve("diagnostics.csv")).split("\r\n");
        assertEquals(5, csv.length);
        assertTrue(csv[0].startsWith("variant,layer,kind,weight_sqnr_db"), csv[0]);
        assertTrue(csv[4].startsWith("qat-w4a4-lsq,out,OutputLayer,35.5000,inf,"), csv[4]);
    }
}
