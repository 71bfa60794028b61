package io.qat4j.ptq;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Chooses a bit width per layer: minimize {@code sum_l S_l(b_l)} subject to
 * {@code sum_l n_l b_l <= B} (a multiple-choice knapsack; reference 000, DESIGN.md).
 *
 * <ul>
 *   <li>{@link #exact}: dynamic programming over layers on the Pareto frontier of
 *       (cost, total sensitivity) pairs, pruned at the budget. Exact: every dominated partial
 *       assignment is dropped, never an optimal one.</li>
 *   <li>{@link #greedy}: starts from the widest candidate everywhere and repeatedly narrows the
 *       layer with the smallest sensitivity increase per bit saved until the budget holds (the usual
 *       baseline; not optimal).</li>
 *   <li>{@link #modelSensitivity}: the {@code S_l(b) = c_l 2^(-2b)} noise model fitted from one
 *       measured width, for allocating without measuring every width.</li>
 * </ul>
 */
public final class BitAllocator {

    /** How a budget is met (the {@code ptq.allocation} configuration key). */
    public enum Method {
        /** {@link #exact}: the least total sensitivity within the budget. */
        EXACT,
        /** {@link #greedy}: the usual baseline, not optimal. */
        GREEDY;

        /** The allocation of {@code layers} within {@code budgetBits} by this method. */
        public Allocation allocate(List<LayerChoices> layers, long budgetBits) {
            return switch (this) {
                case EXACT -> exact(layers, budgetBits);
                case GREEDY -> greedy(layers, budgetBits);
            };
        }

        /** The name a plan records ({@code "exact"}, {@code "greedy"}). */
        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * One layer's choices.
     *
     * @param name        layer name (for messages)
     * @param parameters  n_l, the number of weights (cost per bit)
     * @param bits        candidate widths
     * @param sensitivity S_l(b) for each candidate, same order, finite and >= 0
     */
    public record LayerChoices(String name, long parameters, int[] bits, double[] sensitivity) {
        public LayerChoices {
            if (parameters < 1) {
                throw new IllegalArgumentException("BitAllocator: layer '" + name + "' has " + parameters + " parameters; need >= 1");
            }
            if (bits.length == 0 || bits.length != sensitivity.length) {
                throw new IllegalArgumentException("BitAllocator: layer '" + name + "' needs one sensitivity per candidate width, got "
                        + bits.length + " widths and " + sensitivity.length + " sensitivities");
            }
            for (int i = 0; i < bits.length; i++) {
                if (bits[i] < 1 || bits[i] > 32) {
                    throw new IllegalArgumentException("BitAllocator: layer '" + name + "' has candidate width " + bits[i] + "; use 1..32");
                }
                if (!(sensitivity[i] >= 0) || Double.isInfinite(sensitivity[i])) {
                    throw new IllegalArgumentException("BitAllocator: layer '" + name + "' has sensitivity " + sensitivity[i]
                            + " at " + bits[i] + " bits; sensitivities must be finite and >= 0");
                }
            }
            bits = bits.clone();
            sensitivity = sensitivity.clone();
        }

        long cost(int choice) {
            return parameters * bits[choice];
        }
    }

    /** Chosen width per layer (input order), its total cost in bits and total sensitivity. */
    public record Allocation(int[] bits, long costBits, double totalSensitivity) {
        /** Average bits per parameter. */
        public double averageBits(List<LayerChoices> layers) {
            long n = 0;
            for (LayerChoices l : layers) {
                n += l.parameters();
            }
            return (double) costBits / n;
        }
    }

    private BitAllocator() {
    }

    /** The budget {@code B = averageBits * sum_l n_l}, rounded down to whole bits. */
    public static long budgetForAverageBits(List<LayerChoices> layers, double averageBits) {
        long n = 0;
        for (LayerChoices l : layers) {
            n += l.parameters();
        }
        return (long) Math.floor(averageBits * n);
    }

    /** Exact minimum-sensitivity allocation within {@code budgetBits}. */
    public static Allocation exact(List<LayerChoices> layers, long budgetBits) {
        return exactBest(layers, budgetBits, 1).get(0);
    }

    /**
     * The {@code k} allocations of least total sensitivity within {@code budgetBits} (fewer when
     * fewer fit), best first, ties broken by lower cost. The same dynamic programme as
     * {@link #exact} with a relaxed pruning: a partial assignment is dropped only when {@code k}
     * others are at most as costly and at most as sensitive (each of them extends, with the same
     * remaining choices, to an allocation at least as good, so none of the k best is lost).
     *
     * @param k how many, >= 1
     */
    public static List<Allocation> exactBest(List<LayerChoices> layers, long budgetBits, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("BitAllocator: k must be >= 1, got " + k);
        }
        requireFeasible(layers, budgetBits);
        // frontier entries: cost, sensitivity, choice per layer so far (persistent linked list)
        List<State> frontier = List.of(new State(0, 0.0, null, -1));
        for (LayerChoices layer : layers) {
            List<State> next = new ArrayList<>();
            for (State s : frontier) {
                for (int c = 0; c < layer.bits().length; c++) {
                    long cost = s.cost + layer.cost(c);
                    if (cost <= budgetBits) {
                        next.add(new State(cost, s.sensitivity + layer.sensitivity()[c], s, c));
                    }
                }
            }
            frontier = kParetoFront(next, k);
        }
        List<State> ranked = new ArrayList<>(frontier);
        ranked.sort(Comparator.comparingDouble((State s) -> s.sensitivity).thenComparingLong(s -> s.cost));
        List<Allocation> out = new ArrayList<>();
        for (State best : ranked.subList(0, Math.min(k, ranked.size()))) {
            int[] bits = new int[layers.size()];
            State s = best;
            for (int l = layers.size() - 1; l >= 0; l--) {
                bits[l] = layers.get(l).bits()[s.choice];
                s = s.previous;
            }
            out.add(new Allocation(bits, best.cost, best.sensitivity));
        }
        return out;
    }

    /**
     * Keeps the states that fewer than {@code k} earlier states (sorted by cost, then sensitivity)
     * dominate in (cost, sensitivity); {@code k = 1} is the Pareto front.
     */
    private static List<State> kParetoFront(List<State> states, int k) {
        states.sort(Comparator.comparingLong((State s) -> s.cost).thenComparingDouble(s -> s.sensitivity));
        List<State> front = new ArrayList<>();
        java.util.PriorityQueue<Double> smallest = new java.util.PriorityQueue<>(Comparator.reverseOrder());   // the k least so far
        for (State s : states) {
            if (smallest.size() < k || s.sensitivity < smallest.peek()) {
                front.add(s);
            }
            smallest.add(s.sensitivity);
            if (smallest.size() > k) {
                smallest.poll();
            }
        }
        return front;
    }

    private record State(long cost, double sensitivity, State previous, int choice) {
    }

    /** Greedy baseline: widest everywhere, then narrow by least sensitivity increase per bit saved. */
    public static Allocation greedy(List<LayerChoices> layers, long budgetBits) {
        requireFeasible(layers, budgetBits);
        int[][] order = new int[layers.size()][];
        int[] pos = new int[layers.size()];
        long cost = 0;
        for (int l = 0; l < layers.size(); l++) {
            LayerChoices layer = layers.get(l);
            Integer[] idx = new Integer[layer.bits().length];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = i;
            }
            Arrays.sort(idx, Comparator.comparingInt((Integer i) -> -layer.bits()[i]));   // widest first
            order[l] = Arrays.stream(idx).mapToInt(Integer::intValue).toArray();
            cost += layer.cost(order[l][0]);
        }
        while (cost > budgetBits) {
            int bestLayer = -1;
            double bestRatio = Double.POSITIVE_INFINITY;
            for (int l = 0; l < layers.size(); l++) {
                if (pos[l] + 1 >= order[l].length) {
                    continue;
                }
                LayerChoices layer = layers.get(l);
                int now = order[l][pos[l]];
                int next = order[l][pos[l] + 1];
                long saved = layer.cost(now) - layer.cost(next);
                if (saved <= 0) {
                    continue;
                }
                double ratio = (layer.sensitivity()[next] - layer.sensitivity()[now]) / saved;
                if (ratio < bestRatio) {
                    bestRatio = ratio;
                    bestLayer = l;
                }
            }
            LayerChoices layer = layers.get(bestLayer);
            cost -= layer.cost(order[bestLayer][pos[bestLayer]]) - layer.cost(order[bestLayer][pos[bestLayer] + 1]);
            pos[bestLayer]++;
        }
        int[] bits = new int[layers.size()];
        double total = 0;
        for (int l = 0; l < layers.size(); l++) {
            int c = order[l][pos[l]];
            bits[l] = layers.get(l).bits()[c];
            total += layers.get(l).sensitivity()[c];
        }
        return new Allocation(bits, cost, total);
    }

    /**
     * The {@code S(b) = c 2^(-2b)} model (quantization noise power falls by 4x per bit) fitted to one
     * measurement {@code S(measuredBits) = measured}, evaluated at {@code bits}.
     */
    public static double[] modelSensitivity(double measured, int measuredBits, int[] bits) {
        double c = measured * Math.pow(4, measuredBits);
        double[] s = new double[bits.length];
        for (int i = 0; i < bits.length; i++) {
            s[i] = c * Math.pow(4, -bits[i]);
        }
        return s;
    }

    private static void requireFeasible(List<LayerChoices> layers, long budgetBits) {
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("BitAllocator: no layers to allocate");
        }
        long minimum = 0;
        for (LayerChoices l : layers) {
            long cheapest = Long.MAX_VALUE;
            for (int c = 0; c < l.bits().length; c++) {
                cheapest = Math.min(cheapest, l.cost(c));
            }
            minimum += cheapest;
        }
        if (minimum > budgetBits) {
            throw new IllegalArgumentException("BitAllocator: budget " + budgetBits + " bits is below the smallest possible cost "
                    + minimum + " bits (every layer at its narrowest candidate); raise the average bits or add narrower candidates");
        }
    }
}
