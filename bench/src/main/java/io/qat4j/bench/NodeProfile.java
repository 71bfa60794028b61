package io.qat4j.bench;

import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.optimized.OptimizedKernels;

/**
 * Where the INT8 runtime's time goes: runs the benchmark's integer model ({@link InferenceModels})
 * through {@code Int8Model.profileQuantized} (its own kernels, the calling thread) and prints the
 * mean milliseconds per node for one batch. A profile, not a benchmark: {@code qat4j bench} (JMH) is
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
            long[] nanos = new long[g.nodes().size()];
            for (int it = 0; it < 2 * iterations; it++) {
                long[] round = models.int8.profileQuantized(input, n);
                if (it >= iterations) {   // the first half warms up
                    for (int i = 0; i < nanos.length; i++) {
                        nanos[i] += round[i];
                    }
                }
            }
            double total = 0;
            System.out.printf("INT8 runtime, batch %d, 1 thread, mean of %d rounds after %d warm-up rounds%n", n, iterations, iterations);
            for (int i = 0; i < nanos.length; i++) {
                double ms = nanos[i] / (double) iterations / 1e6;
                total += ms;
                System.out.printf("  node %d %-8s %8.2f ms%n", i, g.nodes().get(i).kind().label(), ms);
            }
            System.out.printf("  total          %8.2f ms%n", total);
        }
    }
}
