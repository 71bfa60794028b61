package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

/** One model, many threads: every concurrent run gives the bytes a sequential run gives. */
class Int8ModelConcurrencyTest {

    @Test
    void concurrentRunsEqualSequentialRuns() throws Exception {
        Int8Model model = new Int8Model(RandomGraphs.cnn(9, 2, 12, 12, 7, 4));
        int inputs = 24;
        List<byte[]> expected = new ArrayList<>();
        List<byte[]> quantized = new ArrayList<>();
        for (int i = 0; i < inputs; i++) {
            int n = 1 + i % 5;
            byte[] q = model.quantizeInput(RandomGraphs.images(100 + i, n, model.inputSize()), n);
            quantized.add(q);
            expected.add(model.runQuantized(q, n));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (int round = 0; round < 3; round++) {
                List<Future<byte[]>> results = new ArrayList<>();
                for (int i = 0; i < inputs; i++) {
                    int idx = i;
                    results.add(pool.submit(() -> model.runQuantized(quantized.get(idx), 1 + idx % 5)));
                }
                for (int i = 0; i < inputs; i++) {
                    assertArrayEquals(expected.get(i), results.get(i).get(), "input " + i + ", round " + round);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void multithreadedBatchesGiveTheSameBytes() {
        Int8Model one = new Int8Model(RandomGraphs.cnn(10, 2, 12, 12, 7, 4));
        for (int threads : new int[] {2, 3, 8}) {
            Int8Model many = one.withThreads(threads);
            for (int n : new int[] {1, 2, 5, 17}) {
                byte[] q = one.quantizeInput(RandomGraphs.images(n, n, one.inputSize()), n);
                assertArrayEquals(one.runQuantized(q, n), many.runQuantized(q, n), threads + " threads, batch " + n);
            }
        }
    }

    @Test
    void predictionsAreTheArgmaxOfTheDequantizedOutputsAndProfilesCoverEveryNode() {
        Int8Model model = new Int8Model(RandomGraphs.cnn(11, 2, 12, 12, 7, 4));
        int n = 9;
        float[] images = RandomGraphs.images(7, n, model.inputSize());
        byte[] q = model.quantizeInput(images, n);
        float[] y = model.run(images, n);
        int classes = model.outputSize();
        int[] predicted = model.predict(images, n);
        for (int b = 0; b < n; b++) {
            int best = 0;
            for (int k = 1; k < classes; k++) {
                best = y[b * classes + k] > y[b * classes + best] ? k : best;
            }
            assertEquals(best, predicted[b], "sample " + b);
        }
        assertArrayEquals(predicted, model.predictions(model.runQuantized(q, n), n));
        long[] nanos = model.profileQuantized(q, n);
        assertEquals(model.graph().nodes().size(), nanos.length);
        for (long t : nanos) {
            assertTrue(t >= 0);
        }
    }
}
