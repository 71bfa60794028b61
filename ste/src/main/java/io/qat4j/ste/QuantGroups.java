package io.qat4j.ste;

import java.util.Arrays;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layout that {@link QParams} entries refer to: a tensor seen as a float64 matrix
 * {@code [groups, elementsPerGroup]} whose row {@code g} shares scale and zero point {@code g}.
 *
 * <ul>
 *   <li>per-tensor: {@code [1, N]};</li>
 *   <li>per-channel on axis a: the axis is moved first, {@code [C, N/C]}, rows in channel order;</li>
 *   <li>per-group: as per-channel, then each row is cut into {@code K/G} consecutive groups,
 *       {@code [C*K/G, G]}; group {@code c*(K/G) + j} covers elements {@code j*G .. j*G+G-1} of channel c.</li>
 * </ul>
 *
 * <p>The {@code double[]} kernels ({@link UniformKernels}, and lsq's) walk the tensor in C order
 * instead and ask {@link #groupOf(long)} for each flat index; both views give the same groups.
 */
public final class QuantGroups {

    private final long[] shape;
    private final int[] permutation;   // moves the channel axis first; null for per-tensor
    private final int groups;
    private final long groupLength;
    private final long inner;          // elements after the channel axis (C order)
    private final long channels;       // 1 for per-tensor
    private final long groupSize;      // per-group only, else 0

    private QuantGroups(long[] shape, int[] permutation, int groups, long groupLength, int axis, long groupSize) {
        this.shape = shape;
        this.permutation = permutation;
        this.groups = groups;
        this.groupLength = groupLength;
        long in = 1;
        if (permutation != null) {
            for (int d = axis + 1; d < shape.length; d++) {
                in *= shape[d];
            }
        }
        this.inner = in;
        this.channels = permutation == null ? 1 : shape[axis];
        this.groupSize = groupSize;
    }

    /** Per-tensor grouping (one group) of a tensor of {@code shape}. */
    public static QuantGroups perTensor(long[] shape) {
        return of(Granularity.PER_TENSOR, 0, 0, shape);
    }

    /**
     * The grouping of a tensor of {@code shape} under {@code spec}.
     *
     * @throws IllegalArgumentException if the axis is out of range or the group size does not divide the channel
     */
    public static QuantGroups of(QuantSpec spec, long[] shape) {
        return of(spec.granularity(), spec.axis(), spec.groupSize(), shape);
    }

    /**
     * The grouping of a tensor of {@code shape}; {@code axis} is ignored for per-tensor and
     * {@code groupSize} is used for per-group only.
     */
    public static QuantGroups of(Granularity granularity, int axis, int groupSize, long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n == 0) {
            throw new IllegalArgumentException("QuantGroups: cannot quantize an empty tensor of shape " + Arrays.toString(shape));
        }
        return switch (granularity) {
            case PER_TENSOR -> new QuantGroups(shape.clone(), null, 1, n, 0, 0);
            case PER_CHANNEL -> {
                int[] perm = channelFirst(axis, shape);
                long c = shape[axis];
                yield new QuantGroups(shape.clone(), perm, Math.toIntExact(c), n / c, axis, 0);
            }
            case PER_GROUP -> {
                if (groupSize < 1) {
                    throw new IllegalArgumentException("QuantGroups: per-group needs groupSize >= 1, got " + groupSize);
                }
                int[] perm = channelFirst(axis, shape);
                long c = shape[axis];
                long k = n / c;
                if (k % groupSize != 0) {
                    throw new IllegalArgumentException("QuantGroups: group size " + groupSize + " does not divide the "
                            + k + " elements per channel of shape " + Arrays.toString(shape) + " (axis " + axis
                            + "); choose a group size that divides " + k);
                }
                yield new QuantGroups(shape.clone(), perm, Math.toIntExact(c * (k / groupSize)), groupSize, axis, groupSize);
            }
        };
    }

    private static int[] channelFirst(int axis, long[] shape) {
        if (axis < 0 || axis >= shape.length) {
            throw new IllegalArgumentException("QuantGroups: channel axis " + axis + " is out of range for a tensor of rank "
                    + shape.length + " (shape " + Arrays.toString(shape) + ")");
        }
        int[] perm = new int[shape.length];
        perm[0] = axis;
        for (int i = 0, j = 1; i < shape.length; i++) {
            if (i != axis) {
                perm[j++] = i;
            }
        }
        return perm;
    }

    /** Number of qparams entries this tensor needs. */
    public int groups() {
        return groups;
    }

    public long groupLength() {
        return groupLength;
    }

    /** Number of elements of the tensor. */
    public long size() {
        return (long) groups * groupLength;
    }

    /** The shape this grouping was made for. */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The group of the element at flat C-order index {@code i}: 0 per tensor, the channel
     * {@code (i / inner) % C} per channel, and per group the channel's block
     * {@code c (K/G) + p / G}, where {@code p} is the element's position within its channel in C order
     * of the other dimensions.
     */
    public int groupOf(long i) {
        if (groups == 1) {
            return 0;
        }
        long channel = (i / inner) % channels;
        if (groupSize == 0) {
            return (int) channel;
        }
        long position = (i / (inner * channels)) * inner + i % inner;
        return (int) (channel * (groups / channels) + position / groupSize);
    }

    /** A fresh float64 {@code [groups, groupLength]} copy of {@code x} (which must have this grouping's shape). */
    public INDArray toRows(INDArray x) {
        if (!Arrays.equals(x.shape(), shape)) {
            throw new IllegalArgumentException("QuantGroups: expected shape " + Arrays.toString(shape) + ", got "
                    + Arrays.toString(x.shape()));
        }
        INDArray d = x.castTo(DataType.DOUBLE);
        if (permutation != null) {
            d = d.permute(permutation);
        }
        return d.dup('c').reshape('c', groups, groupLength);
    }

    /** The inverse of {@link #toRows}: a new c-order array of the original shape and the given type. */
    public INDArray fromRows(INDArray rows, DataType type) {
        INDArray r = rows.dup('c');
        if (permutation == null) {
            return r.reshape('c', shape).castTo(type);
        }
        long[] permutedShape = new long[shape.length];
        int[] inverse = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            permutedShape[i] = shape[permutation[i]];
            inverse[permutation[i]] = i;
        }
        return r.reshape('c', permutedShape).permute(inverse).dup('c').castTo(type);
    }
}
