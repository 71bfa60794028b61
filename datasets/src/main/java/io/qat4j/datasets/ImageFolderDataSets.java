package io.qat4j.datasets;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import org.bytedeco.opencv.global.opencv_imgproc;
import org.datavec.api.records.Record;
import org.datavec.api.split.CollectionInputSplit;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.Writable;
import org.datavec.image.recordreader.ImageRecordReader;
import org.datavec.image.transform.ColorConversionTransform;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A folder of images, one subfolder per class ({@code root/<class>/<image>}, any depth below the
 * class folder), read with DataVec's {@link ImageRecordReader} (OpenCV decoding through
 * {@code NativeImageLoader}) into a {@link DataSet}: features {@code [N, C, H, W]} float32, each
 * image resized to {@code H x W} and scaled to [0, 1] (pixel / 255, as the IDX reader does); labels
 * one-hot {@code [N, classes]}.
 *
 * <p>Channels: 1 reads every image as grayscale (OpenCV's BGR-to-gray conversion of colour images);
 * 3 reads it as RGB (OpenCV decodes to BGR; the reader converts to RGB, the order Keras and most
 * pretrained models use). Classes: the class folders' names sorted by {@link String#compareTo}
 * (class index = position in that list), or a list given by the caller (a test folder is read
 * with its training folder's classes). Images are read in the order of their sorted paths, so the
 * dataset is the same on every run and file system. Files with other extensions than
 * {@link #EXTENSIONS} and hidden files are skipped; an image file directly in {@code root}, an empty
 * class folder, a folder name that is not one of the given classes or an image that does not
 * decode is an {@link ImageFolderException} naming the path.
 */
public final class ImageFolderDataSets {

    /** File extensions read as images (lower case; OpenCV's decoders). */
    public static final List<String> EXTENSIONS = List.of("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "pbm", "pgm", "ppm", "pnm",
            "webp", "jp2");
    /** Most values in the features array (a Java array's limit, with headroom). */
    static final long MAX_VALUES = Integer.MAX_VALUE - 8;

    private ImageFolderDataSets() {
    }

    /**
     * The class folders of {@code root}: the names of its non-hidden subdirectories, sorted.
     *
     * @throws ImageFolderException when {@code root} is not a directory or holds no class folder
     */
    public static List<String> classes(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new ImageFolderException(root + " is not a directory; give a folder with one subfolder of images per class");
        }
        List<String> names;
        try (Stream<Path> s = Files.list(root)) {
            names = s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
        }
        if (names.isEmpty()) {
            throw new ImageFolderException(root + " holds no class folders; put the images of each class in a subfolder named after "
                    + "the class (e.g. " + root.resolve("cat") + "/1.png)");
        }
        return names;
    }

    /**
     * Reads {@code root} with the classes of its own folders ({@link #classes}).
     *
     * @param channels 1 (grayscale) or 3 (RGB)
     * @param height   image height in pixels after resizing, >= 1
     * @param width    image width in pixels after resizing, >= 1
     */
    public static DataSet read(Path root, int channels, int height, int width) throws IOException {
        return read(root, classes(root), channels, height, width);
    }

    /**
     * Reads {@code root} labelling each image with the index of its class folder in {@code classes};
     * {@code root} may lack some of the classes (a small test folder) but holds no other folder.
     */
    public static DataSet read(Path root, List<String> classes, int channels, int height, int width) throws IOException {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("image folders: channels must be 1 (grayscale) or 3 (RGB), got " + channels);
        }
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("image folders: height and width must be >= 1, got " + height + " x " + width);
        }
        Map<Path, Integer> labels = new HashMap<>();
        List<Path> files = new ArrayList<>();
        for (String name : classes(root)) {
            int label = classes.indexOf(name);
            if (label < 0) {
                throw new ImageFolderException(root.resolve(name) + " is a class folder, but the classes are " + classes
                        + " (the training folder's); rename or remove it, or add the class to the training folder");
            }
            List<Path> images = images(root.resolve(name));
            if (images.isEmpty()) {
                throw new ImageFolderException(root.resolve(name) + " holds no images (" + String.join(", ", EXTENSIONS) + ")");
            }
            for (Path p : images) {
                labels.put(p, label);
            }
            files.addAll(images);
        }
        try (Stream<Path> s = Files.list(root)) {
            Path stray = s.filter(p -> Files.isRegularFile(p) && isImage(p)).sorted().findFirst().orElse(null);
            if (stray != null) {
                throw new ImageFolderException(stray + " is not inside a class folder; move it into the folder of its class");
            }
        }
        long perImage = (long) channels * height * width;
        if (files.size() * perImage > MAX_VALUES) {
            throw new ImageFolderException(root + ": " + files.size() + " images of " + channels + " x " + height + " x " + width
                    + " need " + files.size() * perImage + " values in one array, more than " + MAX_VALUES + "; use fewer or smaller images");
        }
        float[] features = new float[(int) (files.size() * perImage)];
        float[] oneHot = new float[files.size() * classes.size()];
        ImageRecordReader reader = channels == 3
                ? new ImageRecordReader(height, width, channels, new ColorConversionTransform(opencv_imgproc.COLOR_BGR2RGB))
                : new ImageRecordReader(height, width, channels);
        List<URI> uris = files.stream().map(p -> p.toFile().toURI()).toList();
        reader.initialize(new CollectionInputSplit(uris));
        int i = 0;
        while (i < files.size()) {
            Record r;
            try {
                if (!reader.hasNext()) {
                    break;
                }
                r = reader.nextRecord();
            } catch (RuntimeException e) {
                throw new ImageFolderException(files.get(i) + " is not an image OpenCV can decode (" + e.getMessage() + ")", e);
            }
            Path file = Path.of(r.getMetaData().getURI()).toAbsolutePath().normalize();
            Integer label = labels.get(file);
            if (label == null) {
                throw new IllegalStateException("DataVec returned " + file + ", which is not one of the listed images of " + root);
            }
            INDArray image = image(r.getRecord(), file);
            if (image.length() != perImage) {
                throw new ImageFolderException(file + " was read as " + java.util.Arrays.toString(image.shape()) + ", not [1, " + channels
                        + ", " + height + ", " + width + "]");
            }
            float[] pixels = image.castTo(DataType.FLOAT).dup('c').data().asFloat();
            for (int k = 0; k < pixels.length; k++) {
                features[(int) (i * perImage) + k] = pixels[k] / 255f;
            }
            oneHot[i * classes.size() + label] = 1f;
            i++;
        }
        if (i != files.size()) {
            throw new IllegalStateException("DataVec read " + i + " of the " + files.size() + " images of " + root);
        }
        return new DataSet(Nd4j.create(features, new long[] {files.size(), channels, height, width}, 'c'),
                Nd4j.create(oneHot, new long[] {files.size(), classes.size()}, 'c'));
    }

    private static INDArray image(List<Writable> record, Path file) throws ImageFolderException {
        if (record.isEmpty() || !(record.get(0) instanceof NDArrayWritable w)) {
            throw new ImageFolderException(file + " gave no image array (" + record + ")");
        }
        return w.get();
    }

    /** The image files under {@code dir}, absolute and normalized, sorted by path; hidden files and folders skipped. */
    private static List<Path> images(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(ImageFolderDataSets::isImage)
                    .filter(p -> !hidden(dir.relativize(p)))
                    .map(p -> p.toAbsolutePath().normalize()).sorted().toList();
        }
    }

    private static boolean hidden(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static boolean isImage(Path p) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }
}
