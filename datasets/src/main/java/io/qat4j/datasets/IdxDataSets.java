package io.qat4j.datasets;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An image IDX file and a label IDX file ({@code [N]}) as an ND4J {@link DataSet}: features
 * {@code [N, C, H, W]} float32 scaled to [0, 1] (pixel / 255), labels one-hot {@code [N, classes]}.
 * A 3-D image file {@code [N, H, W]} is one channel ({@code C = 1}, MNIST / Fashion-MNIST); a 4-D
 * file is read as {@code [N, C, H, W]} (channels first, ND4J's layout; IDX itself fixes no order).
 */
public final class IdxDataSets {

    private IdxDataSets() {
    }

    /**
     * The number of classes the label files use: their largest label + 1 (labels are 0-based class
     * indices, so a class above every label present cannot be told from the files alone; the caller
     * widens to a model's output count where it knows one).
     *
     * @throws IdxFormatException when a file is not a 1-D label file
     */
    public static int classes(Path... labelFiles) throws IOException {
        int max = 0;
        for (Path f : labelFiles) {
            IdxReader.IdxArray lab = IdxReader.read(f);
            if (lab.dims().length != 1) {
                throw new IdxFormatException(f + ": label files must be [N], got dimensions " + Arrays.toString(lab.dims()));
            }
            for (byte b : lab.data()) {
                max = Math.max(max, b & 0xFF);
            }
        }
        return max + 1;
    }

    /** The pair of files as features and one-hot labels over {@code classes} classes (2..256). */
    public static DataSet load(Path images, Path labels, int classes) throws IOException {
        if (classes < 2 || classes > 256) {
            // IDX labels are unsigned bytes; the bound also keeps the one-hot [N, classes] array small
            throw new IllegalArgumentException("IdxDataSets: classes must be in 2..256 (IDX labels are bytes), got " + classes);
        }
        IdxReader.IdxArray img = IdxReader.read(images);
        IdxReader.IdxArray lab = IdxReader.read(labels);
        if (img.dims().length != 3 && img.dims().length != 4) {
            throw new IdxFormatException(images + ": image files must be [N, H, W] or [N, C, H, W], got dimensions "
                    + Arrays.toString(img.dims()));
        }
        if (lab.dims().length != 1) {
            throw new IdxFormatException(labels + ": label files must be [N], got dimensions " + Arrays.toString(lab.dims()));
        }
        if (img.count() != lab.count()) {
            throw new IdxFormatException(images + " holds " + img.count() + " images but " + labels + " holds " + lab.count()
                    + " labels; use the matching pair of files");
        }
        int n = img.count();
        int size = img.itemSize();
        float[] pixels = new float[n * size];
        byte[] raw = img.data();
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (raw[i] & 0xFF) / 255f;
        }
        float[] oneHot = new float[n * classes];
        for (int i = 0; i < n; i++) {
            int label = lab.data()[i] & 0xFF;
            if (label >= classes) {
                throw new IdxFormatException(labels + ": label " + label + " at index " + i + " is outside 0.." + (classes - 1));
            }
            oneHot[i * classes + label] = 1f;
        }
        int[] d = img.dims();
        long[] shape = d.length == 3 ? new long[] {n, 1, d[1], d[2]} : new long[] {n, d[1], d[2], d[3]};
        INDArray features = Nd4j.create(pixels, shape, DataType.FLOAT);
        INDArray targets = Nd4j.create(oneHot, new long[] {n, classes}, DataType.FLOAT);
        return new DataSet(features, targets);
    }
}
