package io.qat4j.cli;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import io.qat4j.ptq.LayerDiagnostics;
import io.qat4j.runtime.AtomicFiles;
import io.qat4j.training.LayerAnalysis;

/**
 * The per-layer diagnostics as a PNG and as a Markdown table: for every quantized layer, the histogram
 * of its float input (the float network's tensor the layer's input quantizer sees) with the chosen
 * clipping range marked, in a grid of panels; the table gives the SQNR, the accuracy with only / all
 * but this layer quantized and the INT8-vs-fake-quant steps.
 */
final class DiagnosticsCharts {

    private static final int PANEL_WIDTH = 420;
    private static final int PANEL_HEIGHT = 300;
    /** Panels a row from five layers on. */
    private static final int COLUMNS = 3;
    private static final Color CLIP = new Color(213, 94, 0);

    private DiagnosticsCharts() {
    }

    /** Writes the grid of per-layer input histograms to {@code file} (PNG, atomically); {@code title} heads it. */
    static void histograms(Path file, String title, LayerAnalysis a) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<LayerDiagnostics.Layer> layers = a.report().layers();
        int columns = layers.size() <= 4 ? Math.min(2, layers.size()) : COLUMNS;   // 2x2 for the reference CNN's four layers
        int rows = (layers.size() + columns - 1) / columns;
        int header = 34;
        BufferedImage image = new BufferedImage(columns * PANEL_WIDTH, header + rows * PANEL_HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, image.getWidth(), image.getHeight());
            g.setColor(Color.BLACK);
            g.setRenderingHint(java.awt.RenderingHints.KEY_TEXT_ANTIALIASING, java.awt.RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.BOLD, 15));
            g.drawString(title + ": float input of each quantized layer (count + 1, log scale), clipping range dashed; "
                    + a.samples(), 10, 22);
            for (int i = 0; i < layers.size(); i++) {
                BufferedImage panel = BitmapEncoder.getBufferedImage(panel(layers.get(i)));
                g.drawImage(panel, (i % columns) * PANEL_WIDTH, header + (i / columns) * PANEL_HEIGHT, null);
            }
        } finally {
            g.dispose();
        }
        AtomicFiles.write(file, out -> javax.imageio.ImageIO.write(image, "png", out));
    }

    /** One layer's panel: the histogram as a step line, the clipping range as two dashed vertical lines. */
    static XYChart panel(LayerDiagnostics.Layer l) {
        LayerDiagnostics.Histogram h = l.inputHistogram();
        String sqnr = db(l.inputSqnrDb()) + (Double.isInfinite(l.inputSqnrDb()) ? "" : " dB");
        XYChart chart = new XYChartBuilder().width(PANEL_WIDTH).height(PANEL_HEIGHT)
                .title(l.name() + " (input SQNR " + sqnr + ")").xAxisTitle("input value").yAxisTitle("count + 1").build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setChartTitleFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 13));
        chart.getStyler().setXAxisDecimalPattern("0.##");
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        double top = 1;
        for (int b = 0; b < h.counts().length; b++) {
            double y = h.counts()[b] + 1.0;
            xs.add(h.edges()[b]);
            ys.add(y);
            xs.add(h.edges()[b + 1]);
            ys.add(y);
            top = Math.max(top, y);
        }
        XYSeries s = chart.addSeries("input", xs, ys);
        s.setMarker(SeriesMarkers.NONE);
        s.setLineColor(new Color(0, 114, 178));
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Area);
        if (!Double.isNaN(h.clipMin())) {
            for (double edge : new double[] {h.clipMin(), h.clipMax()}) {
                XYSeries c = chart.addSeries(String.format(Locale.ROOT, "clip %.4g", edge), new double[] {edge, edge}, new double[] {1, top * 2});
                c.setMarker(SeriesMarkers.NONE);
                c.setLineColor(CLIP);
                c.setLineStyle(SeriesLines.DASH_DASH);
                c.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            }
        }
        return chart;
    }

    /**
     * The diagnostics as a Markdown table: layer, weight SQNR, input SQNR, accuracy with only this layer
     * quantized and with all but this one, INT8 runtime vs fake quant (mean / max output steps, share of
     * differing codes), clipping range.
     */
    static String table(LayerAnalysis a) {
        StringBuilder sb = new StringBuilder();
        sb.append("| layer | W SQNR dB | input SQNR dB | acc, only this layer quantized | acc, all but this layer | INT8 vs fake quant: mean / max steps, differing | clipping range |\n");
        sb.append("|---|---|---|---|---|---|---|\n");
        for (LayerDiagnostics.Layer l : a.report().layers()) {
            LayerDiagnostics.Int8Difference d = l.int8();
            LayerDiagnostics.Histogram h = l.inputHistogram();
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %.2f%% | %.2f%% | %s | %s |%n", l.name(),
                    l.weightSqnrDb() == null ? "-" : String.format(Locale.ROOT, "%.1f", l.weightSqnrDb()), db(l.inputSqnrDb()),
                    100 * l.accuracyOnlyThis(), 100 * l.accuracyAllButThis(),
                    d == null ? "-" : String.format(Locale.ROOT, "%.4f / %.0f, %.2f%%", d.meanSteps(), d.maxSteps(), 100 * d.differing()),
                    Double.isNaN(h.clipMin()) ? "-" : String.format(Locale.ROOT, "[%.4g, %.4g]", h.clipMin(), h.clipMax())));
        }
        return sb.toString();
    }

    /** "exact" for +Infinity (no error), "-inf" for -Infinity (a zero reference against a non-zero quantized tensor). */
    private static String db(double v) {
        return v == Double.POSITIVE_INFINITY ? "exact" : v == Double.NEGATIVE_INFINITY ? "-inf" : String.format(Locale.ROOT, "%.1f", v);
    }
}
