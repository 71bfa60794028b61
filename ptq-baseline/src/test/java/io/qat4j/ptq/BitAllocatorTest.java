package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

class BitAllocatorTest {

    private static List<BitAllocator.LayerChoices> randomLayers(Random rnd, int count) {
        List<BitAllocator.LayerChoices> layers = new ArrayList<>();
        int[] bits = {2, 3, 4, 8};
        for (int l = 0; l < count; l++) {
            double[] s = new double[bits.length];
            double base = rnd.nextDouble() * 10;
            for (int i = 0; i < bits.length; i++) {
                // decreasing in bits most of the time, with noise that sometimes breaks monotonicity
                s[i] = base * Math.pow(4, -bits[i]) * (0.5 + rnd.nextDouble());
            }
            layers.add(new BitAllocator.LayerChoices("l" + l, 1 + rnd.nextInt(500), bits, s));
        }
        return layers;
    }

    /** {best sensitivity, its cost} by enumerating every assignment. */
    private static double[] bruteForce(List<BitAllocator.LayerChoices> layers, long budget) {
        int n = layers.size();
        int k = layers.get(0).bits().length;
        double best = Double.POSITIVE_INFINITY;
        int total = (int) Math.pow(k, n);
        for (int code = 0; code < total; code++) {
            int c = code;
            long cost = 0;
            double s = 0;
            for (int l = 0; l < n; l++) {
                int choice = c % k;
                c /= k;
                cost += layers.get(l).parameters() * layers.get(l).bits()[choice];
                s += layers.get(l).sensitivity()[choice];
            }
            if (cost <= budget && s < best) {
                best = s;
            }
        }
        return new double[] {best};
    }

    private static long cost(List<BitAllocator.LayerChoices> layers, int[] bits) {
        long c = 0;
        for (int l = 0; l < layers.size(); l++) {
            c += layers.get(l).parameters() * bits[l];
        }
        return c;
    }

    @Test
    void exactDpMatchesBruteForceAndRespectsTheBudget() {
        Random rnd = new Random(17);
        for (int trial = 0; trial < 300; trial++) {
            List<BitAllocator.LayerChoices> layers = randomLayers(rnd, 1 + rnd.nextInt(6));
            double avg = 2 + rnd.nextDouble() * 6;
            long budget = BitAllocator.budgetForAverageBits(layers, avg);
            BitAllocator.Allocation exact = BitAllocator.exact(layers, budget);
            assertEquals(bruteForce(layers, budget)[0], exact.totalSensitivity(), 1e-12, "trial " + trial);
            assertTrue(exact.costBits() <= budget);
            assertEquals(cost(layers, exact.bits()), exact.costBits());
            BitAllocator.Allocation greedy = BitAllocator.greedy(layers, budget);
            assertTrue(greedy.costBits() <= budget);
            assertEquals(cost(layers, greedy.bits()), greedy.costBits());
            assertTrue(exact.totalSensitivity() <= greedy.totalSensitivity() + 1e-12, "exact never loses to greedy");
        }
    }

    /** The total sensitivities of every feasible assignment, ascending. */
    private static List<Double> allFeasible(List<BitAllocator.LayerChoices> layers, long budget) {
        int n = layers.size();
        int k = layers.get(0).bits().length;
        List<Double> out = new java.util.ArrayList<>();
        int total = (int) Math.pow(k, n);
        for (int code = 0; code < total; code++) {
            int c = code;
            long cost = 0;
            double s = 0;
            for (int l = 0; l < n; l++) {
                int choice = c % k;
                c /= k;
                cost += layers.get(l).parameters() * layers.get(l).bits()[choice];
                s += layers.get(l).sensitivity()[choice];
            }
            if (cost <= budget) {
                out.add(s);
            }
        }
        java.util.Collections.sort(out);
        return out;
    }

    @Test
    void theKBestAllocationsMatchBruteForce() {
        Random rnd = new Random(23);
        for (int trial = 0; trial < 200; trial++) {
            List<BitAllocator.LayerChoices> layers = randomLayers(rnd, 1 + rnd.nextInt(6));
            long budget = BitAllocator.budgetForAverageBits(layers, 2 + rnd.nextDouble() * 6);
            int k = 1 + rnd.nextInt(5);
            List<BitAllocator.Allocation> best = BitAllocator.exactBest(layers, budget, k);
            List<Double> all = allFeasible(layers, budget);
            assertEquals(Math.min(k, all.size()), best.size(), "trial " + trial);
            java.util.Set<String> distinct = new java.util.HashSet<>();
            for (int i = 0; i < best.size(); i++) {
                assertEquals(all.get(i), best.get(i).totalSensitivity(), 1e-12, "trial " + trial + ", rank " + i);
                assertTrue(best.get(i).costBits() <= budget);
                assertEquals(cost(layers, best.get(i).bits()), best.get(i).costBits());
                assertTrue(distinct.add(java.util.Arrays.toString(best.get(i).bits())), "distinct allocations");
            }
        }
    }

    @Test
    void exactBeatsGreedyOnAKnownInstance() {
        // Greedy narrows the layer with the best ratio first and gets stuck; the DP finds the better pair.
        List<BitAllocator.LayerChoices> layers = List.of(
                new BitAllocator.LayerChoices("a", 10, new int[] {8, 4, 2}, new double[] {0, 0.5, 1.5}),
                new BitAllocator.LayerChoices("b", 10, new int[] {8, 2}, new double[] {0, 1.2}));
        long budget = 100;   // from 160 bits: greedy takes a 8->4 first (ratio 0.5/40), then must also take b 8->2
        BitAllocator.Allocation exact = BitAllocator.exact(layers, budget);
        BitAllocator.Allocation greedy = BitAllocator.greedy(layers, budget);
        assertArrayEquals(new int[] {8, 2}, exact.bits());
        assertEquals(1.2, exact.totalSensitivity(), 1e-12);
        assertEquals(1.7, greedy.totalSensitivity(), 1e-12);
    }

    @Test
    void noiseModelFallsFourfoldPerBit() {
        double[] s = BitAllocator.modelSensitivity(1.0, 4, new int[] {2, 3, 4, 8});
        assertArrayEquals(new double[] {16, 4, 1, 1.0 / 256}, s, 1e-12);
    }

    @Test
    void infeasibleBudgetAndBadInputsAreReportedByName() {
        List<BitAllocator.LayerChoices> layers = List.of(new BitAllocator.LayerChoices("conv1", 100, new int[] {4, 8}, new double[] {1, 0}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BitAllocator.exact(layers, 399));
        assertTrue(e.getMessage().contains("400"), e.getMessage());
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class,
                () -> new BitAllocator.LayerChoices("fc", 5, new int[] {4}, new double[] {Double.NaN}));
        assertTrue(nan.getMessage().contains("'fc'"), nan.getMessage());
    }
}
