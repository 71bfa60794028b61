package io.qat4j.bench;

import java.util.ArrayList;
import java.util.List;

import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.optimized.OptimizedKernels;
import io.qat4j.runtime.optimized.VectorKernels;

/**
 * Where the INT8 runtime's time goes: runs the benchmark's integer model ({@link InferenceModels})
 * node by node with the kernels {@code Int8Model} would pick, one thread, and prints the mean
 * milliseconds per node for one batch. A profile, not a benchmark: {@code qat4j bench} (JMH) is
 * what the README's ratios come from.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp "bench/target/classes:$(cat bench/target/classpath.txt)"
 * io.qat4j.bench.NodeProfile [batch] [iterations]} (defaults 256 and 20, after as many warm-up rounds).
 */
public final class NodeProfile {

    private NodeProfile() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        if (n < 1 || iterations < 1) {
            throw new IllegalArgumentException("usage: NodeProfile [batch >= 1] [iterations >= 1], got " + n + " " + iterations);
        }
        if (!OptimizedKernels.vectorAvailable()) {
            throw new IllegalStateException("start the JVM with --add-modules jdk.incubator.vector (the kernels ./qat4j and the benchmark use)");
        }
        try (InferenceModels models = new InferenceModels(1)) {
            Int8Graph g = models.int8.graph();
            byte[] input = models.int8.quantizeInput(InferenceModels.randomImages(n, 11).getFeatures().dup('c').data().asFloat(), n);
            List<VectorKernels.Prepared> prepared = new ArrayList<>();
            for (Int8Graph.Node node : g.nodes()) {
                prepared.add(node instanceof Int8Graph.Conv2D c ? VectorKernels.prepare(c)
                        : node instanceof Int8Graph.Dense d ? VectorKernels.prepare(d) : null);
            }
            long[] nanos = new long[g.nodes().size()];
            for (int it = 0; it < 2 * iterations; it++) {
                byte[][] values = new byte[g.tensors().size()][];
                values[g.input()] = input;
                for (int i = 0; i < g.nodes().size(); i++) {
                    Int8Graph.Node node = g.nodes().get(i);
                    Int8Graph.Tensor in = g.tensors().get(node.input());
                    Int8Graph.Tensor out = g.tensors().get(node.output());
                    byte[] x = values[node.input()];
                    byte[] y = new byte[Math.multiplyExact(n, (int) out.elements())];
                    long start = System.nanoTime();
                    if (node instanceof Int8Graph.Conv2D c) {
                        VectorKernels.conv2d(c, prepared.get(i), in, out, x, y, n, g.rounding());
                    } else if (node instanceof Int8Graph.Dense d) {
                        VectorKernels.dense(d, prepared.get(i), in, out, x, y, n, g.rounding());
                    } else if (node instanceof Int8Graph.MaxPool p) {
                        OptimizedKernels.maxPool(p, in, out, x, y, n);
                    } else if (node instanceof Int8Graph.Flatten) {
                        y = x;
                    } else {
                        throw new IllegalStateException("NodeProfile does not time " + node.getClass().getSimpleName());
                    }
                    long elapsed = System.nanoTime() - start;
                    if (it >= iterations) {
                        nanos[i] += elapsed;
                    }
                    values[node.output()] = y;
                }
            }
            double total = 0;
            System.out.printf("INT8 runtime, batch %d, 1 thread, mean of %d rounds after %d warm-up rounds%n", n, iterations, iterations);
            for (int i = 0; i < nanos.length; i++) {
                double ms = nanos[i] / (double) iterations / 1e6;
                total += ms;
                System.out.printf("  node %d %-8s %8.2f ms%n", i, g.nodes().get(i).getClass().getSimpleName(), ms);
            }
            System.out.printf("  total          %8.2f ms%n", total);
        }
    }
}
