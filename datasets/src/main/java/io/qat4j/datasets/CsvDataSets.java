package io.qat4j.datasets;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.datavec.api.records.reader.impl.csv.CSVRecordReader;
import org.datavec.api.split.FileSplit;
import org.datavec.api.writable.Writable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Labelled numeric CSV files (one example per line, one column holding the class index) read with
 * DataVec's {@link CSVRecordReader} into a {@link DataSet}: features float32, multiplied by
 * {@code scale} and reshaped to {@code [N, shape...]} (e.g. {@code [N, 1, 28, 28]} for the
 * Fashion-MNIST CSV export with {@code scale = 1/255}), labels one-hot {@code [N, classes]}.
 * Every problem is an {@link IOException} naming the file, the line and what to fix.
 */
public final class CsvDataSets {

    /**
     * How to read a CSV file.
     *
     * @param labelColumn column of the class index (0-based; negative counts from the end, -1 = last)
     * @param classes     number of classes, >= 2
     * @param skipLines   header lines to skip (e.g. 1)
     * @param delimiter   column separator (usually ',')
     * @param shape       per-example feature shape; its product must equal the number of feature columns
     * @param scale       factor applied to every feature (1 for none, 1/255 for pixels)
     */
    public record Format(int labelColumn, int classes, int skipLines, char delimiter, long[] shape, double scale) {
        public Format {
            if (classes < 2) {
                throw new IllegalArgumentException("csv: classes must be >= 2, got " + classes);
            }
            if (skipLines < 0) {
                throw new IllegalArgumentException("csv: skipLines must be >= 0, got " + skipLines);
            }
            if (shape == null || shape.length == 0) {
                throw new IllegalArgumentException("csv: give the per-example feature shape, e.g. [1, 28, 28]");
            }
            for (long d : shape) {
                if (d < 1) {
                    throw new IllegalArgumentException("csv: shape dimensions must be >= 1, got " + java.util.Arrays.toString(shape));
                }
            }
            if (!(scale > 0) || Double.isInfinite(scale)) {
                throw new IllegalArgumentException("csv: scale must be finite and > 0, got " + scale);
            }
            shape = shape.clone();
        }

        long features() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private CsvDataSets() {
    }

    public static DataSet read(Path file, Format f) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": no such CSV file");
        }
        int features = (int) f.features();
        List<float[]> rows = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        try (CSVRecordReader reader = new CSVRecordReader(f.skipLines(), f.delimiter())) {
            try {
                reader.initialize(new FileSplit(file.toFile()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(file + ": interrupted while opening", e);
            }
            int line = f.skipLines();
            while (reader.hasNext()) {
                line++;
                List<Writable> record;
                try {
                    record = reader.next();
                } catch (RuntimeException e) {
                    throw new IOException(file + ":" + line + ": unreadable CSV record (" + e.getMessage() + ")", e);
                }
                if (record.size() != features + 1) {
                    throw new IOException(file + ":" + line + ": " + record.size() + " columns, expected " + (features + 1) + " ("
                            + features + " features for shape " + java.util.Arrays.toString(f.shape()) + " plus the label)");
                }
                int labelAt = f.labelColumn() < 0 ? record.size() + f.labelColumn() : f.labelColumn();
                if (labelAt < 0 || labelAt >= record.size()) {
                    throw new IOException(file + ": labelColumn " + f.labelColumn() + " is outside the " + record.size() + " columns");
                }
                float[] x = new float[features];
                int k = 0;
                for (int c = 0; c < record.size(); c++) {
                    String text = record.get(c).toString().trim();
                    if (c == labelAt) {
                        int y;
                        try {
                            y = Integer.parseInt(text);
                        } catch (NumberFormatException e) {
                            throw new IOException(file + ":" + line + ": label '" + text + "' in column " + c + " is not a class index");
                        }
                        if (y < 0 || y >= f.classes()) {
                            throw new IOException(file + ":" + line + ": label " + y + " is outside 0.." + (f.classes() - 1)
                                    + " (classes: " + f.classes() + ")");
                        }
                        labels.add(y);
                        continue;
                    }
                    double v;
                    try {
                        v = Double.parseDouble(text);
                    } catch (NumberFormatException e) {
                        throw new IOException(file + ":" + line + ": column " + c + " holds '" + text + "', not a number"
                                + (line == 1 && f.skipLines() == 0 ? " (a header line? set skipLines: 1)" : ""));
                    }
                    if (!Double.isFinite(v)) {
                        throw new IOException(file + ":" + line + ": column " + c + " is " + text + "; features must be finite");
                    }
                    x[k++] = (float) (v * f.scale());
                }
                rows.add(x);
            }
        }
        if (rows.isEmpty()) {
            throw new IOException(file + ": no examples after skipping " + f.skipLines() + " line(s)");
        }
        int n = rows.size();
        float[] all = new float[n * features];
        for (int i = 0; i < n; i++) {
            System.arraycopy(rows.get(i), 0, all, i * features, features);
        }
        long[] shape = new long[f.shape().length + 1];
        shape[0] = n;
        System.arraycopy(f.shape(), 0, shape, 1, f.shape().length);
        float[] y = new float[n * f.classes()];
        for (int i = 0; i < n; i++) {
            y[i * f.classes() + labels.get(i)] = 1;
        }
        return new DataSet(Nd4j.create(all, shape, 'c'), Nd4j.create(y, new long[] {n, f.classes()}, 'c').castTo(DataType.FLOAT));
    }
}
