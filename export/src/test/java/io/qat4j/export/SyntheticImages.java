package io.qat4j.export;

import java.util.Random;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/** Synthetic 10x10 grey images of 3 classes for the export tests. */
final class SyntheticImages {

    static final int SIZE = 10;
    static final int CLASSES = 3;

    private SyntheticImages() {
    }

    /** Class k: a bright 3x3 blob in column band k, random row, plus noise. */
    static DataSet blobs(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * SIZE * SIZE];
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(CLASSES);
            y[i * CLASSES + k] = 1;
            int row = 1 + r.nextInt(SIZE - 3);
            int col = k * 3 + r.nextInt(2);
            for (int p = 0; p < SIZE * SIZE; p++) {
                x[i * SIZE * SIZE + p] = (float) (0.25 * r.nextDouble());
            }
            for (int dy = 0; dy < 3; dy++) {
                for (int dx = 0; dx < 3; dx++) {
                    x[i * SIZE * SIZE + (row + dy) * SIZE + col + dx] = (float) (0.7 + 0.3 * r.nextDouble());
                }
            }
        }
        return new DataSet(Nd4j.create(x, new long[] {n, 1, SIZE, SIZE}, DataType.FLOAT),
                Nd4j.create(y, new long[] {n, CLASSES}, DataType.FLOAT));
    }
}
