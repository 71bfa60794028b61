package io.qat4j.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

class CsvDataSetsTest {

    @TempDir
    Path dir;

    static final CsvDataSets.Format FORMAT = new CsvDataSets.Format(0, 3, 1, ',', new long[] {1, 2, 2}, 0.5);

    private Path write(String text) throws IOException {
        Path f = dir.resolve("d.csv");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void readsScaledImagesAndOneHotLabels() throws IOException {
        DataSet ds = CsvDataSets.read(write("label,p0,p1,p2,p3\n2,0,2,4,6\n0,8,10,12,14\n"), FORMAT);
        assertArrayEquals(new long[] {2, 1, 2, 2}, ds.getFeatures().shape());
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, ds.getFeatures().dup('c').data().asFloat());
        assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0}, ds.getLabels().dup('c').data().asFloat());
        DataSet last = CsvDataSets.read(write("0,2,4,6,1\n"), new CsvDataSets.Format(-1, 3, 0, ',', new long[] {4}, 1));
        assertArrayEquals(new float[] {0, 1, 0}, last.getLabels().dup('c').data().asFloat());
    }

    @Test
    void badFilesNameFileLineAndProblem() throws IOException {
        String m = assertThrows(IOException.class, () -> CsvDataSets.read(write("h\n1,2,3\n"), FORMAT)).getMessage();
        assertTrue(m.contains("d.csv:2") && m.contains("3 columns, expected 5"), m);
        m = assertThrows(IOException.class, () -> CsvDataSets.read(write("h\n7,1,2,3,4\n"), FORMAT)).getMessage();
        assertTrue(m.contains("d.csv:2") && m.contains("label 7 is outside 0..2"), m);
        m = assertThrows(IOException.class, () -> CsvDataSets.read(write("h\n1,1,x,3,4\n"), FORMAT)).getMessage();
        assertTrue(m.contains("d.csv:2") && m.contains("'x', not a number"), m);
        m = assertThrows(IOException.class, () -> CsvDataSets.read(write("a,b,c,d,e\n"),
                new CsvDataSets.Format(0, 3, 0, ',', new long[] {1, 2, 2}, 1))).getMessage();
        assertTrue(m.contains("header line? set skipLines: 1") || m.contains("not a class index"), m);
        m = assertThrows(IOException.class, () -> CsvDataSets.read(write("h\n"), FORMAT)).getMessage();
        assertTrue(m.contains("no examples"), m);
        m = assertThrows(IOException.class, () -> CsvDataSets.read(dir.resolve("none.csv"), FORMAT)).getMessage();
        assertTrue(m.contains("none.csv: no such CSV file"), m);
        assertEquals("csv: classes must be in 2..65536, got 1",
                assertThrows(IllegalArgumentException.class, () -> new CsvDataSets.Format(0, 1, 0, ',', new long[] {1}, 1)).getMessage());
    }

    /** Issue 14 §9: {@code classes: 2000000000} ran out of memory allocating the one-hot labels. */
    @Test
    void hugeClassCountsAndShapesAreRejectedBeforeAllocating() throws IOException {
        assertEquals("csv: classes must be in 2..65536, got 2000000000", assertThrows(IllegalArgumentException.class,
                () -> new CsvDataSets.Format(0, 2_000_000_000, 0, ',', new long[] {1}, 1)).getMessage());
        String m = assertThrows(IllegalArgumentException.class,
                () -> new CsvDataSets.Format(0, 10, 0, ',', new long[] {100_000, 100_000}, 1)).getMessage();
        assertTrue(m.contains("[100000, 100000]") && m.contains("values per example"), m);
        assertThrows(IllegalArgumentException.class, () -> new CsvDataSets.Format(0, 10, 0, ',', new long[] {1L << 32, 1L << 32}, 1));

        Path f = write("0,1\n".repeat(1 << 15));
        m = assertThrows(CsvFormatException.class,
                () -> CsvDataSets.read(f, new CsvDataSets.Format(0, CsvDataSets.MAX_CLASSES, 0, ',', new long[] {1}, 1))).getMessage();
        assertTrue(m.startsWith(f + ": 32768 examples") && m.contains("65536 classes") && m.contains("split the file"), m);
    }

    @Test
    void contentErrorsAreCsvFormatExceptionsAndAMissingFileIsNot() throws IOException {
        assertThrows(CsvFormatException.class, () -> CsvDataSets.read(write("h\n1,2,3\n"), FORMAT));
        assertThrows(java.nio.file.NoSuchFileException.class, () -> CsvDataSets.read(dir.resolve("none.csv"), FORMAT));
    }
}
