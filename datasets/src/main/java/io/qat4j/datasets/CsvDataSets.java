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
 * Every problem with the file's content is a {@link CsvFormatException} naming the file, the line
 * and what to fix. The class count and the feature count are bounded ({@link #MAX_CLASSES},
 * {@link #MAX_FEATURES}) and the one-hot labels are sized before they are allocated, so a wrong
 * format gives an error, never an OutOfMemoryError.
 */
public final class CsvDataSets {

    /** Most classes a format may declare (the one-hot labels take {@code N * classes} floats). */
    public static final int MAX_CLASSES = 1 << 16;
    /** Most feature values per example (a 3 x 2048 x 2048 image has 12.6 M). */
    public static final long MAX_FEATURES = 1L << 24;
    /** Most values in one features or labels array (a Java array's limit, with headroom). */
    static final long MAX_ARRAY_VALUES = Integer.MAX_VALUE - 8;

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
            if (classes < 2 || classes > MAX_CLASSES) {
                throw new IllegalArgumentException("csv: classes must be in 2.." + MAX_CLASSES + ", got " + classes);
            }
            if (skipLines < 0) {
                throw new IllegalArgumentException("csv: skipLines must be >= 0, got " + skipLines);
            }
            if (shape == null || shape.length == 0) {
                throw new IllegalArgumentException("csv: give the per-example feature shape, e.g. [1, 28, 28]");
            }
            long features = 1;
            for (long d : shape) {
                if (d < 1) {
                    throw new IllegalArgumentException("csv: shape dimensions must be >= 1, got " + java.util.Arrays.toString(shape));
                }
                if (d > MAX_FEATURES || (features *= d) > MAX_FEATURES) {
                    throw new IllegalArgumentException("csv: shape " + java.util.Arrays.toString(shape) + " has more than " + MAX_FEATURES
                            + " values per example");
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
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "no such CSV file");
        }
        int features = (int) f.features();
        List<float[]> rows = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        try (CSVRecordReader reader = new CSVRecordReader(f.skipLines(), f.delimiter())) {
            try {
                reader.initialize(new FileSplit(file.toFile()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException(file + ": interrupted while opening");
            }
            int line = f.skipLines();
            while (reader.hasNext()) {
                line++;
                List<Writable> record;
                try {
                    record = reader.next();
                } catch (RuntimeException e) {
                    throw new CsvFormatException(file + ":" + line + ": unreadable CSV record (" + e.getMessage() + ")", e);
                }
                if (record.size() != features + 1) {
                    throw new CsvFormatException(file + ":" + line + ": " + record.size() + " columns, expected " + (features + 1) + " ("
                            + features + " features for shape " + java.util.Arrays.toString(f.shape()) + " plus the label)");
                }
                int labelAt = f.labelColumn() < 0 ? record.size() + f.labelColumn() : f.labelColumn();
                if (labelAt < 0 || labelAt >= record.size()) {
                    throw new CsvFormatException(file + ": labelColumn " + f.labelColumn() + " is outside the " + record.size() + " columns");
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
                            throw new CsvFormatException(file + ":" + line + ": label '" + text + "' in column " + c + " is not a class index");
                        }
                        if (y < 0 || y >= f.classes()) {
                            throw new CsvFormatException(file + ":" + line + ": label " + y + " is outside 0.." + (f.classes() - 1)
                                    + " (classes: " + f.classes() + ")");
                        }
                        labels.add(y);
                        continue;
                    }
                    double v;
                    try {
                        v = Double.parseDouble(text);
                    } catch (NumberFormatException e) {
                        throw new CsvFormatException(file + ":" + line + ": column " + c + " holds '" + text + "', not a number"
                                + (line == 1 && f.skipLines() == 0 ? " (a header line? set skipLines: 1)" : ""));
                    }
                    if (!Double.isFinite(v)) {
                        throw new CsvFormatException(file + ":" + line + ": column " + c + " is " + text + "; features must be finite");
                    }
                    x[k++] = (float) (v * f.scale());
                }
                rows.add(x);
            }
        }
        if (rows.isEmpty()) {
            throw new CsvFormatException(file + ": no examples after skipping " + f.skipLines() + " line(s)");
        }
        int n = rows.size();
        for (long values : new long[] {(long) n * features, (long) n * f.classes()}) {
            if (values > MAX_ARRAY_VALUES) {
                throw new CsvFormatException(file + ": " + n + " examples of " + features + " features and " + f.classes()
                        + " classes need " + values + " values in one array, more than " + MAX_ARRAY_VALUES + "; split the file");
            }
        }
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
