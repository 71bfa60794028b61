package io.qat4j.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

/** Image folders through DataVec's ImageRecordReader, on PNGs written here with javax.imageio. */
class ImageFolderDataSetsTest {

    @TempDir
    Path dir;

    /** An RGB PNG whose pixel (y, x) is (r0 + 10x, g0 + 20y, b0 + 5(x + y)). */
    private static void rgb(Path file, int w, int h, int r0, int g0, int b0) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, (r0 + 10 * x) << 16 | (g0 + 20 * y) << 8 | (b0 + 5 * (x + y)));
            }
        }
        Files.createDirectories(file.getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    private static void gray(Path file, int w, int h, int v0) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.getRaster().setSample(x, y, 0, v0 + 7 * x + 3 * y);
            }
        }
        Files.createDirectories(file.getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    @Test
    void rgbImagesAreReadExactlyInRgbOrderWithClassesFromSortedFolderNames() throws IOException {
        Path root = dir.resolve("train");
        rgb(root.resolve("zebra/b.png"), 6, 4, 100, 10, 50);
        rgb(root.resolve("zebra/a.png"), 6, 4, 90, 30, 40);
        rgb(root.resolve("ant/only.png"), 6, 4, 0, 60, 7);
        rgb(root.resolve("cat/nested/x.png"), 6, 4, 20, 0, 90);
        Files.writeString(root.resolve("cat/notes.txt"), "not an image");
        assertEquals(List.of("ant", "cat", "zebra"), ImageFolderDataSets.classes(root));
        DataSet ds = ImageFolderDataSets.read(root, 3, 4, 6);
        assertArrayEquals(new long[] {4, 3, 4, 6}, ds.getFeatures().shape());
        // sorted paths: ant/only, cat/nested/x, zebra/a, zebra/b
        int[][] starts = {{0, 60, 7}, {20, 0, 90}, {90, 30, 40}, {100, 10, 50}};
        int[] labels = {0, 1, 2, 2};
        for (int n = 0; n < 4; n++) {
            assertEquals(labels[n], ds.getLabels().getRow(n).argMax().getInt(0));
            assertEquals(1.0, ds.getLabels().getRow(n).sumNumber().doubleValue(), 0);
            for (int y = 0; y < 4; y++) {
                for (int x = 0; x < 6; x++) {
                    int[] expected = {starts[n][0] + 10 * x, starts[n][1] + 20 * y, starts[n][2] + 5 * (x + y)};
                    for (int c = 0; c < 3; c++) {
                        assertEquals(expected[c] / 255f, ds.getFeatures().getFloat(n, c, y, x), 1e-7f, "image " + n + " (" + c + "," + y + "," + x + ")");
                    }
                }
            }
        }
    }

    @Test
    void grayscaleAndResizing() throws IOException {
        Path root = dir.resolve("g");
        gray(root.resolve("a/1.png"), 5, 3, 40);
        DataSet ds = ImageFolderDataSets.read(root, List.of("a", "b"), 1, 3, 5);
        assertArrayEquals(new long[] {1, 1, 3, 5}, ds.getFeatures().shape());
        assertArrayEquals(new long[] {1, 2}, ds.getLabels().shape());
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 5; x++) {
                assertEquals((40 + 7 * x + 3 * y) / 255f, ds.getFeatures().getFloat(0, 0, y, x), 1e-7f);
            }
        }
        // a uniform colour image keeps its colour at any size; read as grayscale it is OpenCV's BGR-to-gray weighting
        BufferedImage img = new BufferedImage(9, 7, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 7; y++) {
            for (int x = 0; x < 9; x++) {
                img.setRGB(x, y, 200 << 16 | 100 << 8 | 50);
            }
        }
        Files.createDirectories(dir.resolve("u/k"));
        ImageIO.write(img, "png", dir.resolve("u/k/u.png").toFile());
        DataSet small = ImageFolderDataSets.read(dir.resolve("u"), 3, 3, 4);
        assertArrayEquals(new long[] {1, 3, 3, 4}, small.getFeatures().shape());
        assertEquals(200 / 255f, small.getFeatures().getFloat(0, 0, 2, 3), 1e-7f);
        assertEquals(100 / 255f, small.getFeatures().getFloat(0, 1, 0, 0), 1e-7f);
        assertEquals(50 / 255f, small.getFeatures().getFloat(0, 2, 1, 2), 1e-7f);
        DataSet grayOfColour = ImageFolderDataSets.read(dir.resolve("u"), 1, 7, 9);
        double luma = 0.299 * 200 + 0.587 * 100 + 0.114 * 50;   // ITU-R BT.601, OpenCV's COLOR_BGR2GRAY
        assertEquals(Math.round(luma) / 255.0, grayOfColour.getFeatures().getDouble(0, 0, 3, 4), 1e-6);
    }

    @Test
    void badFoldersAreErrorsNamingThePath() throws IOException {
        Path none = Files.createDirectories(dir.resolve("none"));
        assertTrue(assertThrows(ImageFolderException.class, () -> ImageFolderDataSets.read(none, 1, 4, 4)).getMessage()
                .contains("holds no class folders"));
        assertTrue(assertThrows(ImageFolderException.class, () -> ImageFolderDataSets.read(dir.resolve("missing"), 1, 4, 4)).getMessage()
                .contains("is not a directory"));
        Path empty = dir.resolve("empty");
        gray(empty.resolve("a/1.png"), 4, 4, 0);
        Files.createDirectories(empty.resolve("b"));
        String m = assertThrows(ImageFolderException.class, () -> ImageFolderDataSets.read(empty, 1, 4, 4)).getMessage();
        assertTrue(m.contains(empty.resolve("b").toString()) && m.contains("holds no images"), m);
        Path stray = dir.resolve("stray");
        gray(stray.resolve("a/1.png"), 4, 4, 0);
        gray(stray.resolve("loose.png"), 4, 4, 0);
        m = assertThrows(ImageFolderException.class, () -> ImageFolderDataSets.read(stray, 1, 4, 4)).getMessage();
        assertTrue(m.contains("loose.png") && m.contains("not inside a class folder"), m);
        Path test = dir.resolve("test");
        gray(test.resolve("dog/1.png"), 4, 4, 0);
        m = assertThrows(ImageFolderException.class, () -> ImageFolderDataSets.read(test, List.of("a", "b"), 1, 4, 4)).getMessage();
        assertTrue(m.contains(test.resolve("dog").toString()) && m.contains("[a, b]"), m);
        Path broken = dir.resolve("broken");
        gray(broken.resolve("a/1.png"), 4, 4, 0);
        Files.writeString(broken.resolve("a/2.png"), "this is text, not a PNG");
        m = assertThrows(ImageFolderException.class, () -> ImageFolderDataSets.read(broken, 1, 4, 4)).getMessage();
        assertTrue(m.contains("2.png"), m);
        assertThrows(IllegalArgumentException.class, () -> ImageFolderDataSets.read(broken, 2, 4, 4));
    }
}
