package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.layers.ReferenceCnn;

/** {@link Augmentation} against plain array math: shifts with zero fill, flips, and seeded draws. */
class AugmentationTest {

    private static final int N = 5;
    private static final int C = 2;
    private static final int H = 6;
    private static final int W = 7;

    /** Distinct values 1..N*C*H*W (no zero, so a zero in the result can only be fill). */
    private static float[] distinct() {
        float[] v = new float[N * C * H * W];
        for (int i = 0; i < v.length; i++) {
            v[i] = i + 1;
        }
        return v;
    }

    private static INDArray images() {
        return Nd4j.create(distinct(), new long[] {N, C, H, W}, 'c');
    }

    /** The class Javadoc's formula, element by element on the plain array. */
    private static float[] expected(float[] in, int i, int dy, int dx, boolean flip) {
        float[] out = new float[C * H * W];
        for (int c = 0; c < C; c++) {
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    int sy = y - dy;
                    int sx = x - dx;
                    if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
                        continue;   // zero fill
                    }
                    int fx = flip ? W - 1 - sx : sx;
                    out[(c * H + y) * W + x] = in[((i * C + c) * H + sy) * W + fx];
                }
            }
        }
        return out;
    }

    private static float[] image(INDArray batch, int i) {
        return batch.get(org.nd4j.linalg.indexing.NDArrayIndex.point(i)).dup('c').data().asFloat();
    }

    @Test
    void aShiftedAndFlippedImageEqualsThePlainArrayMath() {
        INDArray x = images();
        int[] dy = {0, 2, -1, 3, -3};
        int[] dx = {1, -2, 0, 3, -1};
        boolean[] flip = {false, true, true, false, true};
        INDArray out = Augmentation.transform(x, dy, dx, flip);
        assertArrayEquals(new long[] {N, C, H, W}, out.shape());
        float[] in = distinct();
        for (int i = 0; i < N; i++) {
            assertArrayEquals(expected(in, i, dy[i], dx[i], flip[i]), image(out, i), 0f, "image " + i);
        }
        // spelled out: image 0 moved right by one pixel, its first column zero, its row 0 = the input's row 0 minus the last pixel
        float[] row0 = java.util.Arrays.copyOfRange(image(out, 0), 0, W);
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 6}, row0, 0f);
        // image 1 flipped: its row 2 (input row 0 moved down by 2) read right to left, then moved left by 2
        float[] row2 = java.util.Arrays.copyOfRange(image(out, 1), 2 * W, 3 * W);
        float base = C * H * W;   // image 1 starts at value C*H*W + 1
        assertArrayEquals(new float[] {base + 5, base + 4, base + 3, base + 2, base + 1, 0, 0}, row2, 0f);
        assertArrayEquals(distinct(), x.dup('c').data().asFloat(), 0f, "the input is not changed");
    }

    @Test
    void flippingTwiceAndShiftingByZeroAreTheIdentity() {
        INDArray x = images();
        int[] zero = new int[N];
        boolean[] all = {true, true, true, true, true};
        INDArray once = Augmentation.transform(x, zero, zero, all);
        assertNotEquals(x, once);
        assertEquals(x, Augmentation.transform(once, zero, zero, all));
        assertEquals(x, Augmentation.transform(x, zero, zero, new boolean[N]));
        // a shift and its inverse restore the pixels that stayed inside, and zero the rest
        int[] two = {2, 2, 2, 2, 2};
        int[] minusTwo = {-2, -2, -2, -2, -2};
        INDArray back = Augmentation.transform(Augmentation.transform(x, two, zero, new boolean[N]), minusTwo, zero, new boolean[N]);
        float[] in = distinct();
        float[] b = back.dup('c').data().asFloat();
        for (int k = 0; k < b.length; k++) {
            int y = (k / W) % H;
            assertEquals(y < H - 2 ? in[k] : 0f, b[k], 0f, "element " + k);
        }
    }

    @Test
    void drawsAreSeededAndEveryImageIsAnAllowedTransform() {
        Augmentation a = new Augmentation(2, true);
        INDArray x = images();
        INDArray first = a.apply(x, Augmentation.epochRandom(3, 0));
        assertEquals(first, a.apply(x, Augmentation.epochRandom(3, 0)), "same seed and epoch, same batch");
        assertNotEquals(first, a.apply(x, Augmentation.epochRandom(3, 1)), "another epoch, other draws");
        assertNotEquals(first, a.apply(x, Augmentation.epochRandom(4, 0)), "another seed, other draws");
        // the draws, replayed from the same generator in the documented order (dy, dx, flip per image)
        Random r = Augmentation.epochRandom(3, 0);
        float[] in = distinct();
        for (int i = 0; i < N; i++) {
            int dy = r.nextInt(5) - 2;
            int dx = r.nextInt(5) - 2;
            boolean flip = r.nextBoolean();
            assertArrayEquals(expected(in, i, dy, dx, flip), image(first, i), 0f, "image " + i);
        }
        // over many images every shift in [-2, 2] and both flips occur, and nothing else
        Set<String> seen = new HashSet<>();
        Random many = new Random(11);
        for (int k = 0; k < 400; k++) {
            int dy = many.nextInt(5) - 2;
            int dx = many.nextInt(5) - 2;
            seen.add(dy + "," + dx + "," + many.nextBoolean());
        }
        assertEquals(50, seen.size(), "5 x 5 shifts x 2 flips");
        // flips only: a flipped or unchanged copy of each image
        INDArray flipped = new Augmentation(0, true).apply(x, new Random(5));
        int changed = 0;
        for (int i = 0; i < N; i++) {
            boolean same = java.util.Arrays.equals(image(flipped, i), image(x, i));
            assertTrue(same || java.util.Arrays.equals(image(flipped, i), expected(in, i, 0, 0, true)), "image " + i);
            changed += same ? 0 : 1;
        }
        assertTrue(changed > 0 && changed < N, "about half flipped: " + changed);
    }

    @Test
    void noAugmentationReturnsTheBatchAndBadInputIsRefused() {
        INDArray x = images();
        assertSame(x, Augmentation.NONE.apply(x, new Random(1)));
        assertFalse(Augmentation.NONE.active());
        IllegalArgumentException flat = assertThrows(IllegalArgumentException.class,
                () -> new Augmentation(1, false).apply(Nd4j.rand(DataType.FLOAT, 4, 10), new Random(1)));
        assertTrue(flat.getMessage().contains("train.augment") && flat.getMessage().contains("[4, 10]"), flat.getMessage());
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> new Augmentation(17, false));
        assertTrue(big.getMessage().contains("augment.shift") && big.getMessage().contains("17"), big.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Augmentation(-1, true));
        assertThrows(IllegalArgumentException.class, () -> Augmentation.transform(x, new int[2], new int[N], new boolean[N]));
        // a float64 batch stays float64
        assertEquals(DataType.DOUBLE, new Augmentation(1, true).apply(x.castTo(DataType.DOUBLE), new Random(2)).dataType());
    }

    @Test
    void onlyNchwImageNetworksCanBeAugmented() {
        INDArray images = Nd4j.rand(DataType.FLOAT, 2, 1, 8, 8);
        ModelInput cnn = ModelInput.of(ReferenceCnn.build(1, new Adam(1e-3), 0, 1, 8, 8, 2));
        Augmentation a = new Augmentation(1, true);
        assertNull(a.problem(cnn, images));
        assertNull(Augmentation.NONE.problem(cnn, images.reshape(2, 64)), "nothing to check without augmentation");
        ModelInput nhwc = new ModelInput(ModelInput.Kind.IMAGE, new long[] {1, 8, 8}, org.deeplearning4j.nn.conf.CNN2DFormat.NHWC, "test");
        String p = a.problem(nhwc, images.permute(0, 2, 3, 1));
        assertTrue(p != null && p.contains("train.augment") && p.contains("NCHW"), p);
        ModelInput vectors = new ModelInput(ModelInput.Kind.VECTOR, new long[] {64}, null, "test");
        assertTrue(a.problem(vectors, images.reshape(2, 64)).contains("[2, 64]"));
    }
}
