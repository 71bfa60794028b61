package io.qat4j.runtime;

import java.util.List;

/**
 * What a graph costs to hold and to run, computed from its shapes alone (before any kernel
 * allocates), for {@link ModelLimits}. Byte counts are upper bounds of what {@link Int8Model} and
 * its kernels allocate, whichever kernels run; every sum saturates at {@link Long#MAX_VALUE}.
 *
 * @param modelBytes     bytes held for the life of the model: per Conv2D/Dense/DepthwiseConv2D/DenseLogits
 *                       node with {@code O} output channels and {@code K} inputs per output,
 *                       {@link #weightedNodeBytes} = {@code O (9 K + 128)} (the int8 codes, the optimized
 *                       kernels' float weights in rows and in columns of 4 bytes each, weight sums, bias and
 *                       requantization, with the rows' padding), DenseLogits {@code 8 O} more for its
 *                       scales; 8 bytes per divisor of an AvgPoolRequant; 256 per LeakyRelu and LookupTable
 * @param sampleBytes    bytes one sample needs while it runs: one byte per element of every tensor a
 *                       node writes and of the input (a run keeps them all; four per element of
 *                       DenseLogits' int32 output), plus the largest scratch of one node: for Conv2D the
 *                       im2col patches as floats {@code 4 P (K + 8)}, the accumulators {@code 4 P O} and
 *                       the zero-padded float image ({@code P} output positions); for DepthwiseConv2D one
 *                       channel's zero-padded int image and {@code 4 P} accumulators; for Dense and
 *                       DenseLogits {@code 4 (K + 8) + 12 O}
 * @param opsPerSample   operations per sample: multiply-accumulates of Conv2D and DepthwiseConv2D
 *                       ({@code O P K}) and Dense and DenseLogits ({@code O K}), one per window element of
 *                       each pooled output, one per output element of the elementwise and copying nodes
 *                       (Add, Requantize, Concat, LeakyRelu, LookupTable, ZeroPad, Crop, UpsampleNearest);
 *                       Flatten is free
 * @param heaviestNode   index of the node with the most operations (-1 for a graph without nodes)
 * @param largestArray   elements of the largest single array a kernel allocates for one sample
 *                       (Java arrays hold at most {@link Integer#MAX_VALUE})
 */
public record ModelCost(long modelBytes, long sampleBytes, long opsPerSample, int heaviestNode, long largestArray) {

    /** Bytes a Conv2D or Dense node with {@code outputs} channels of {@code reduction} inputs holds (see {@link #modelBytes}). */
    public static long weightedNodeBytes(long outputs, long reduction) {
        return mul(outputs, add(mul(9, reduction), 128));
    }

    /** The cost of a graph that {@link Int8Graph#validate() validates}. */
    public static ModelCost of(Int8Graph graph) {
        List<Int8Graph.Tensor> t = graph.tensors();
        long model = 0;
        long activations = t.get(graph.input()).elements();
        long scratch = 0;
        long ops = 0;
        long heaviestOps = -1;
        int heaviest = -1;
        long largest = activations;
        for (int n = 0; n < graph.nodes().size(); n++) {
            Int8Graph.Node node = graph.nodes().get(n);
            Int8Graph.Tensor in = t.get(node.input());
            Int8Graph.Tensor out = t.get(node.output());
            NodeCost c = node(node, in, out);
            model = add(model, c.modelBytes);
            activations = add(activations, c.activations);
            long nodeOps = c.ops;
            ops = add(ops, nodeOps);
            scratch = Math.max(scratch, c.scratch);
            largest = Math.max(largest, c.largestArray);
            if (nodeOps > heaviestOps) {
                heaviestOps = nodeOps;
                heaviest = n;
            }
        }
        return new ModelCost(model, add(activations, scratch), ops, heaviest, largest);
    }

    /** One node's share: bytes it holds, activation bytes it writes, operations, scratch bytes and largest array per sample. */
    private record NodeCost(long modelBytes, long activations, long ops, long scratch, long largestArray) {
        /** A node without weights or scratch whose largest array is its output. */
        static NodeCost elementwise(long outElements, long ops) {
            return new NodeCost(0, outElements, ops, 0, outElements);
        }
    }

    /** A switch expression without a default: every kind has a cost. */
    private static NodeCost node(Int8Graph.Node node, Int8Graph.Tensor in, Int8Graph.Tensor out) {
        long outElements = out.elements();
        return switch (node.kind()) {
            case CONV2D -> {
                Int8Graph.Conv2D c = (Int8Graph.Conv2D) node;
                Int8Graph.Window w = c.window();
                long k = (long) c.inChannels() * w.kernelH() * w.kernelW();
                long positions = (long) out.dims()[1] * out.dims()[2];
                // the zero-padded image of VectorKernels.conv2d: hp x wp per input channel
                long hp = w.paddedH(in.dims()[1], out.dims()[1]);
                long wp = w.paddedW(in.dims()[2], out.dims()[2]);
                long patches = mul(positions, k + 8);
                long image = mul(c.inChannels(), mul(hp, wp));
                long sums = mul(positions, c.outChannels());
                yield new NodeCost(weightedNodeBytes(c.outChannels(), k), outElements, mul(c.outChannels(), mul(positions, k)),
                        mul(4, add(add(patches, sums), add(image, positions + k))),
                        Math.max(Math.max(patches, image), Math.max(sums, outElements)));
            }
            case DENSE -> {
                Int8Graph.Dense d = (Int8Graph.Dense) node;
                yield new NodeCost(weightedNodeBytes(d.outFeatures(), d.inFeatures()), outElements, (long) d.outFeatures() * d.inFeatures(),
                        4L * (d.inFeatures() + 8) + 12L * d.outFeatures(), outElements);
            }
            case MAX_POOL -> NodeCost.elementwise(outElements, windowOps(outElements, ((Int8Graph.MaxPool) node).window()));
            case AVG_POOL -> NodeCost.elementwise(outElements, windowOps(outElements, ((Int8Graph.AvgPool) node).window()));
            case AVG_POOL_REQUANT -> {
                Int8Graph.Window w = ((Int8Graph.AvgPoolRequant) node).window();
                // one multiplier and shift per divisor
                yield new NodeCost(mul(8, (long) w.kernelH() * w.kernelW()), outElements, windowOps(outElements, w), 0, outElements);
            }
            case DEPTHWISE_CONV2D -> {
                Int8Graph.DepthwiseConv2D c = (Int8Graph.DepthwiseConv2D) node;
                Int8Graph.Window w = c.window();
                long k = (long) w.kernelH() * w.kernelW();
                long positions = (long) out.dims()[1] * out.dims()[2];
                // OptimizedKernels.depthwiseConv2d: one zero-padded int image of a channel and one int accumulator row per position
                long image = mul(w.paddedH(in.dims()[1], out.dims()[1]), w.paddedW(in.dims()[2], out.dims()[2]));
                yield new NodeCost(weightedNodeBytes(c.outChannels(), k), outElements, mul(c.outChannels(), mul(positions, k)),
                        mul(4, add(image, positions)), Math.max(Math.max(image, positions), outElements));
            }
            case DENSE_LOGITS -> {
                Int8Graph.DenseLogits d = (Int8Graph.DenseLogits) node;
                long acc = 4L * outElements;   // int32 accumulators, 4 bytes each
                yield new NodeCost(add(weightedNodeBytes(d.outFeatures(), d.inFeatures()), 8L * d.outFeatures()), acc,
                        (long) d.outFeatures() * d.inFeatures(), 4L * (d.inFeatures() + 8) + 12L * d.outFeatures(), acc);
            }
            // LeakyRelu and LookupTable hold a 256-entry table (the optimized LeakyRelu builds one)
            case LEAKY_RELU, LOOKUP_TABLE -> new NodeCost(256, outElements, outElements, 0, outElements);
            case ADD, REQUANTIZE, CONCAT, ZERO_PAD, CROP, UPSAMPLE_NEAREST -> NodeCost.elementwise(outElements, outElements);
            case FLATTEN -> new NodeCost(0, 0, 0, 0, 0);   // the same bytes under another shape
        };
    }

    /** One operation per window element of each pooled output. */
    private static long windowOps(long outElements, Int8Graph.Window w) {
        return mul(outElements, (long) w.kernelH() * w.kernelW());
    }

    static long add(long a, long b) {
        long r = a + b;
        return r < 0 ? Long.MAX_VALUE : r;   // both non-negative: a negative sum overflowed
    }

    static long mul(long a, long b) {
        return a != 0 && b > Long.MAX_VALUE / a ? Long.MAX_VALUE : a * b;
    }
}
