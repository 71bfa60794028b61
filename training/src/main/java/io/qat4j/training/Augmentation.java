package io.qat4j.training;

import java.util.Random;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Training-time augmentation of image batches ({@code [N, C, H, W]}, NCHW): per image, an optional
 * horizontal flip (probability 1/2), then a translation by {@code (dy, dx)} pixels, each drawn
 * uniformly from {@code [-shift, shift]}, the uncovered border filled with zeros (the background of
 * Fashion-MNIST and MNIST). Exactly, for every image n, channel c, row y, column x:
 * <pre>
 *   f(y, x)   = flip ? in(y, W - 1 - x) : in(y, x)
 *   out(y, x) = f(y - dy, x - dx)   when 0 <= y - dy < H and 0 <= x - dx < W, else 0
 * </pre>
 * Random shifts and flips are the standard light augmentation of small-image classifiers (e.g. the
 * random-crop-with-padding and flip of the CIFAR ResNet recipe, He et al. 2016, section 4.2); a
 * padded random crop of size H x W is the same as a shift by up to the padding with zero fill.
 *
 * <p>Deterministic: the draws come from the {@link Random} given to {@link #apply}, per image in the
 * order dy, dx (when {@code shift > 0}), flip (when {@code flipHorizontal}); {@link Trainer} seeds one
 * per epoch from the run's seed and the epoch ({@link #epochRandom}), so the same seed gives the same
 * batches, also after a resume. Only training batches are augmented, never validation, test or
 * calibration data.
 *
 * @param shift          largest translation in pixels along each axis, 0 (none) to {@value #MAX_SHIFT}
 * @param flipHorizontal mirror each image left-right with probability 1/2 (a symmetric class set: clothing, not digits)
 */
public record Augmentation(int shift, boolean flipHorizontal) {

    /** Largest {@link #shift}: beyond a few pixels a 28x28 image loses its object. */
    public static final int MAX_SHIFT = 16;

    /** No augmentation. */
    public static final Augmentation NONE = new Augmentation(0, false);

    public Augmentation {
        if (shift < 0 || shift > MAX_SHIFT) {
            throw new IllegalArgumentException("augment.shift must be 0 (none) to " + MAX_SHIFT + " pixels, got " + shift);
        }
    }

    /** True when this changes any image (a shift or flips). */
    public boolean active() {
        return shift > 0 || flipHorizontal;
    }

    /** The generator of epoch {@code epoch} (0-based) of a run with seed {@code seed}: a different stream per epoch. */
    public static Random epochRandom(long seed, int epoch) {
        return new Random(seed * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L * (epoch + 1L));
    }

    /**
     * A new, augmented copy of {@code images} with this augmentation's draws from {@code random}
     * (the input is not changed; with {@link #active()} false, {@code images} itself).
     *
     * @param images {@code [N, C, H, W]} images
     * @throws IllegalArgumentException when {@code images} is not rank 4
     */
    public INDArray apply(INDArray images, Random random) {
        if (!active()) {
            return images;
        }
        int n = (int) checkImages(images).size(0);
        int[] dy = new int[n];
        int[] dx = new int[n];
        boolean[] flip = new boolean[n];
        for (int i = 0; i < n; i++) {
            if (shift > 0) {
                dy[i] = random.nextInt(2 * shift + 1) - shift;
                dx[i] = random.nextInt(2 * shift + 1) - shift;
            }
            flip[i] = flipHorizontal && random.nextBoolean();
        }
        return transform(images, dy, dx, flip);
    }

    /**
     * The formula of the class Javadoc with given draws: image i flipped when {@code flip[i]}, then
     * moved down by {@code dy[i]} and right by {@code dx[i]} pixels (negative: up, left), zero filled.
     *
     * @param images {@code [N, C, H, W]} images; the result is a new array of the same shape and data type
     * @throws IllegalArgumentException when {@code images} is not rank 4 or an array's length is not N
     */
    public static INDArray transform(INDArray images, int[] dy, int[] dx, boolean[] flip) {
        long[] shape = checkImages(images).shape();
        int n = (int) shape[0];
        int planes = (int) shape[1];
        int h = (int) shape[2];
        int w = (int) shape[3];
        if (dy.length != n || dx.length != n || flip.length != n) {
            throw new IllegalArgumentException("Augmentation.transform: " + n + " images but " + dy.length + " dy, " + dx.length + " dx and "
                    + flip.length + " flips");
        }
        float[] in = images.dup('c').data().asFloat();
        float[] out = new float[in.length];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < planes; c++) {
                int plane = (i * planes + c) * h * w;
                for (int y = Math.max(0, dy[i]); y < Math.min(h, h + dy[i]); y++) {
                    int row = plane + (y - dy[i]) * w;
                    for (int x = Math.max(0, dx[i]); x < Math.min(w, w + dx[i]); x++) {
                        int sx = x - dx[i];
                        out[plane + y * w + x] = in[row + (flip[i] ? w - 1 - sx : sx)];
                    }
                }
            }
        }
        return Nd4j.create(out, shape, 'c').castTo(images.dataType());
    }

    /**
     * Why this augmentation cannot run on {@code features} fitted to a network taking {@code input}, or
     * null (always null when not {@link #active()}): it needs rank-4 NCHW images, so a network taking
     * NHWC images (Keras channels_last) or flat vectors is refused before training.
     */
    public String problem(ModelInput input, INDArray features) {
        if (!active()) {
            return null;
        }
        boolean nchw = features.rank() == 4 && (input.kind() == ModelInput.Kind.FLAT_IMAGE
                || (input.kind() == ModelInput.Kind.IMAGE && input.format() == org.deeplearning4j.nn.conf.CNN2DFormat.NCHW));
        return nchw ? null : "train.augment shifts and flips images in NCHW layout, but the network takes " + input.describe() + " (from "
                + input.from() + ") and the training features have shape " + java.util.Arrays.toString(features.shape())
                + "; remove train.augment for this model";
    }

    private static INDArray checkImages(INDArray images) {
        if (images.rank() != 4) {
            throw new IllegalArgumentException("train.augment shifts and flips images [N, C, H, W] (NCHW), but the training features have "
                    + "shape " + java.util.Arrays.toString(images.shape()) + "; remove train.augment for this data or model");
        }
        return images;
    }
}
