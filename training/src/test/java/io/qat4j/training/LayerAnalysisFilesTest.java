package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.ptq.LayerDiagnostics;

/** {@link LayerAnalysis}'s files: JSON round trip with the non-finite values diagnostics produce, and the CSV's cells. */
class LayerAnalysisFilesTest {

    @TempDir
    Path dir;

    private static LayerAnalysis sample() {
        LayerDiagnostics.Layer exact = new LayerDiagnostics.Layer("conv1", "ConvolutionLayer", 42.5, Double.POSITIVE_INFINITY, 0.9, 0.8,
                new LayerDiagnostics.Int8Difference(0, 0.01, 1, 0.01),
                new LayerDiagnostics.Histogram(new double[] {0, 0.5, 1}, new long[] {3, 4}, 0, 0.98));
        LayerDiagnostics.Layer noGrid = new LayerDiagnostics.Layer("fc, \"wide\"", "DenseLayer", null, 18.25, 0.7, 0.6, null,
                new LayerDiagnostics.Histogram(new double[] {-1, 0, 1}, new long[] {5, 6}, Double.NaN, Double.NaN));
        return new LayerAnalysis("test set (2 samples)", true, new LayerDiagnostics.Report(2, 0.95, 0.9, List.of(exact, noGrid)));
    }

    @Test
    void jsonRoundTripKeepsInfinityNaNAndNullWeightSqnr() throws IOException {
        LayerAnalysis a = sample();
        a.write(dir);
        LayerAnalysis back = LayerAnalysis.read(dir.resolve(LayerAnalysis.JSON_FILE));
        assertEquals(a.samples(), back.samples());
        assertEquals(a.report().layers().size(), back.report().layers().size());
        for (int i = 0; i < a.report().layers().size(); i++) {
            LayerDiagnostics.Layer x = a.report().layers().get(i);
            LayerDiagnostics.Layer y = back.report().layers().get(i);
            assertEquals(x.name(), y.name());
            assertEquals(x.weightSqnrDb(), y.weightSqnrDb());
            assertEquals(x.inputSqnrDb(), y.inputSqnrDb());
            assertEquals(x.int8(), y.int8());
            assertArrayEquals(x.inputHistogram().edges(), y.inputHistogram().edges());
            assertArrayEquals(x.inputHistogram().counts(), y.inputHistogram().counts());
            assertEquals(x.inputHistogram().clipMin(), y.inputHistogram().clipMin());
            assertEquals(x.inputHistogram().clipMax(), y.inputHistogram().clipMax());
        }
        assertTrue(Double.isNaN(back.report().layers().get(1).inputHistogram().clipMax()));
    }

    @Test
    void csvHasOneQuotedRowPerLayerAndEmptyCellsWhereNothingApplies() throws IOException {
        sample().write(dir);
        String[] rows = Files.readString(dir.resolve(LayerAnalysis.CSV_FILE)).split("\r\n");
        assertEquals(3, rows.length);
        assertEquals("conv1,ConvolutionLayer,42.5000,inf,0.900000,0.800000,0,0.0100000,1.00000,0.0100000,0.00000,0.980000", rows[1]);
        assertEquals("\"fc, \"\"wide\"\"\",DenseLayer,,18.2500,0.700000,0.600000,,,,,,", rows[2]);
    }

    @Test
    void aFileThatIsNotADiagnosticsFileIsNamed() throws IOException {
        Path f = dir.resolve("results.json");
        Files.writeString(f, "[1, 2]");
        IOException e = assertThrows(IOException.class, () -> LayerAnalysis.read(f));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("not a qat4j diagnostics file"), e.getMessage());
    }
}
