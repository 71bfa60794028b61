package io.qat4j.ptq.calibration;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The same calibration data streamed in different batch orders, and in one batch, gives the same
 * ranges (issue 14 §6): within one final bin width for every calibrator except the moving
 * average, which is defined by batch order.
 */
class CalibratorsBatchOrderTest {

    /** Every calibrator whose range depends on the data only, not on the order of the batches. */
    static List<Calibrator> orderFree() {
        List<Calibrator> c = new ArrayList<>();
        for (CalibrationMethod m : CalibrationMethod.values()) {
            if (m != CalibrationMethod.MOVING_AVERAGE) {
                c.add(m.create(PercentileCalibrator.DEFAULT_PERCENTILE));
            }
        }
        return c;
    }

    static ActivationStatistics streamed(List<double[]> batches) {
        ActivationStatistics s = new ActivationStatistics();
        batches.forEach(s::observe);
        return s;
    }

    static double[] concat(List<double[]> batches) {
        double[] all = new double[batches.stream().mapToInt(b -> b.length).sum()];
        int at = 0;
        for (double[] b : batches) {
            System.arraycopy(b, 0, all, at, b.length);
            at += b.length;
        }
        return all;
    }

    /** The ceil(p/100 n)-th smallest |x|, with a heap of the largest ones (no sort of the whole array). */
    static double exactAbsPercentile(double[] v, double p) {
        int rank = (int) Math.ceil(p / 100 * v.length);
        int keep = v.length - rank + 1;
        PriorityQueue<Double> largest = new PriorityQueue<>();
        for (double x : v) {
            double a = Math.abs(x);
            if (largest.size() < keep) {
                largest.add(a);
            } else if (a > largest.peek()) {
                largest.poll();
                largest.add(a);
            }
        }
        return largest.peek();
    }

    static double percentile(ActivationStatistics s, double p) {
        return new PercentileCalibrator(p).range(s, 8).max();
    }

    /** Streams the [from, to) slices of {@code values} in the order given, through one reused buffer. */
    static ActivationStatistics streamedSlices(double[] values, List<int[]> slices) {
        ActivationStatistics s = new ActivationStatistics();
        double[] buffer = new double[slices.stream().mapToInt(b -> b[1] - b[0]).max().orElseThrow()];
        for (int[] b : slices) {
            double[] batch = b[1] - b[0] == buffer.length ? buffer : new double[b[1] - b[0]];
            System.arraycopy(values, b[0], batch, 0, batch.length);
            s.observe(batch);
        }
        return s;
    }

    /** The moving-average reference: EMA (c = 0.01) of the batch maxima, in the order given. */
    static double movingMax(double[] values, List<int[]> slices) {
        double m = 0;
        for (int i = 0; i < slices.size(); i++) {
            double b = Arrays.stream(values, slices.get(i)[0], slices.get(i)[1]).max().orElseThrow();
            m = i == 0 ? b : m + 0.01 * (b - m);
        }
        return m;
    }

    /** Every order-free calibrator's range from the streamed batches is within one final bin width of the one-batch range. */
    static void assertSameRanges(ActivationStatistics onePass, ActivationStatistics streamed, String order, int... bitWidths) {
        double tolerance = onePass.binWidth();
        List<Executable> checks = new ArrayList<>();
        for (int bits : bitWidths) {
            for (Calibrator c : orderFree()) {
                Range expected = c.range(onePass, bits);
                Range actual = c.range(streamed, bits);
                String what = c.name() + " at " + bits + " bits, " + order + ": " + actual + " vs one batch " + expected;
                checks.add(() -> assertEquals(expected.min(), actual.min(), tolerance, what));
                checks.add(() -> assertEquals(expected.max(), actual.max(), tolerance, what));
            }
        }
        assertAll(checks);
    }

    /**
     * Issue 14 §6 as reported: 0..2047 once, then 40 million values uniform in [0, 0.01) (in
     * batches of one million), and the reverse order. The 99.99th percentile is about 0.0100.
     */
    @Test
    void issueCaseWideBatchFirstOrLastGivesTheOneBatchRanges() {
        int wide = 2048;
        int narrow = 40_000_000;
        int batch = 1_000_000;
        double[] all = new double[wide + narrow];
        for (int i = 0; i < wide; i++) {
            all[i] = i;
        }
        Random r = new Random(14);
        for (int i = wide; i < all.length; i++) {
            all[i] = 0.01 * r.nextDouble();
        }
        List<int[]> wideFirst = new ArrayList<>();   // batches as [from, to) slices of all
        wideFirst.add(new int[] {0, wide});
        for (int from = wide; from < all.length; from += batch) {
            wideFirst.add(new int[] {from, from + batch});
        }
        List<int[]> wideLast = new ArrayList<>(wideFirst.subList(1, wideFirst.size()));
        wideLast.add(wideFirst.get(0));

        ActivationStatistics onePass = new ActivationStatistics();
        onePass.observe(all);
        ActivationStatistics first = streamedSlices(all, wideFirst);
        ActivationStatistics last = streamedSlices(all, wideLast);
        assertSameRanges(onePass, first, "wide batch first", 4, 8);
        assertSameRanges(onePass, last, "wide batch last", 4, 8);

        double exact = exactAbsPercentile(all, 99.99);
        assertEquals(0.01, exact, 1e-5, "the 99.99th percentile of the data");
        for (ActivationStatistics s : List.of(onePass, first, last)) {
            assertEquals(exact, percentile(s, 99.99), exact * 0x1p-10, "percentile within the log-linear buckets' relative accuracy");
        }

        double firstMoving = new MovingAverageCalibrator().range(first, 8).max();
        double lastMoving = new MovingAverageCalibrator().range(last, 8).max();
        assertEquals(movingMax(all, wideFirst), firstMoving, 1e-9);
        assertEquals(movingMax(all, wideLast), lastMoving, 1e-9);
        assertNotEquals(firstMoving, lastMoving, 1, "the moving average follows the batch order by definition");
    }

    /** Signed Laplace batches whose scale grows 20% per batch, streamed growing, shuffled and as one batch. */
    @Test
    void signedBatchesOfGrowingScaleCalibrateAlikeInAnyOrder() {
        List<double[]> growing = new ArrayList<>();
        for (int k = 0; k < 48; k++) {
            double scale = Math.pow(1.2, k);
            double[] b = CalibratorsTest.laplace(4096, 1, 100 + k);
            for (int i = 0; i < b.length; i++) {
                b[i] *= scale;
            }
            growing.add(b);
        }
        List<double[]> shuffled = new ArrayList<>(growing);
        Collections.shuffle(shuffled, new Random(7));
        List<double[]> shrinking = new ArrayList<>(growing);
        Collections.reverse(shrinking);

        ActivationStatistics onePass = new ActivationStatistics();
        onePass.observe(concat(growing));
        assertSameRanges(onePass, streamed(growing), "growing", 2, 4, 8);
        assertSameRanges(onePass, streamed(shuffled), "shuffled", 2, 4, 8);
        assertSameRanges(onePass, streamed(shrinking), "shrinking", 2, 4, 8);
    }

    /** Values spread over twelve decades: every percentile, not only the top ones, keeps 0.1% relative accuracy. */
    @Test
    void percentilesKeepRelativeAccuracyOverTwelveDecadesInAnyOrder() {
        Random r = new Random(21);
        double[] v = new double[200_000];
        for (int i = 0; i < v.length; i++) {
            v[i] = (r.nextBoolean() ? 1 : -1) * Math.pow(10, -9 + 12 * r.nextDouble());
        }
        double[] ascending = Arrays.stream(v).map(Math::abs).sorted().toArray();
        List<double[]> small = new ArrayList<>();
        for (int from = 0; from < v.length; from += 1000) {
            small.add(Arrays.copyOfRange(ascending, from, from + 1000));
        }
        List<double[]> large = new ArrayList<>(small);
        Collections.reverse(large);
        for (ActivationStatistics s : List.of(streamed(small), streamed(large), CalibratorsTest.stats(v))) {
            for (double p : new double[] {1, 10, 50, 90, 99, 99.99}) {
                double ref = CalibratorsTest.refPercentileAbs(v, p);
                double t = new PercentileCalibrator(p).range(s, 8).max();
                assertEquals(ref, t, ref * 0x1p-10, "percentile " + p);
            }
        }
    }

    /** Values more than 2^48 below max|x| share one low bucket; what lands there does not depend on when max|x| arrived. */
    @Test
    void valuesFarBelowTheMaximumFoldIntoOneLowBucketInAnyOrder() {
        double[] tiny = new double[900];
        for (int i = 0; i < tiny.length; i++) {
            tiny[i] = Math.scalb(1.0 + i / 1000.0, -60);    // 2^-60 .. 2^-59: a bucket each until 1.0 arrives
        }
        double[] ones = new double[100];
        Arrays.fill(ones, 1.0);
        double[] middle = {0x1p-40, -0x1p-30};
        for (List<double[]> order : List.of(List.of(tiny, middle, ones), List.of(ones, middle, tiny), List.of(concat(List.of(tiny, ones, middle))))) {
            ActivationStatistics s = streamed(order);
            assertEquals(0, percentile(s, 1e-9), 0x1p-47, "below the window: between 0 and its floor");
            assertEquals(0x1p-47 * (0.45 * 1002) / 900, percentile(s, 45), 1e-30, "interpolated across the low bucket [0, 2^-47)");
            assertEquals(0x1p-40, percentile(s, 89.9), 0x1p-50, "the 901st of 1002 values, 2^-40, keeps its own bucket");
            assertEquals(0x1p-30, percentile(s, 90.0), 0x1p-40, "the 902nd");
            assertEquals(1.0, percentile(s, 99.99), 0x1p-10);
        }
    }

    /** The uniform histogram after any batch order equals one pass binned at the final power-of-two width. */
    @Test
    void histogramEqualsOnePassBinningAtTheFinalWidthWhateverTheOrder() {
        Random r = new Random(3);
        List<double[]> batches = new ArrayList<>();
        batches.add(new double[] {0, 0, -0.0});
        for (int k = -30; k <= 30; k += 3) {
            double[] b = CalibratorsTest.gaussian(500, 40 + k);
            for (int i = 0; i < b.length; i++) {
                b[i] = Math.scalb(b[i], k);
            }
            b[0] = Math.scalb(1.0, k);              // exact powers of two sit on bin edges at every width
            b[1] = -Math.scalb(4096.0, k) * (1 - 0x1p-53);   // just below 2 bins 2^k
            batches.add(b);
        }
        List<List<double[]>> orders = new ArrayList<>();
        orders.add(batches);
        List<double[]> reversed = new ArrayList<>(batches);
        Collections.reverse(reversed);
        orders.add(reversed);
        List<double[]> shuffled = new ArrayList<>(batches);
        Collections.shuffle(shuffled, r);
        orders.add(shuffled);
        orders.add(List.of(concat(batches)));

        double[] all = concat(batches);
        double max = Arrays.stream(all).map(Math::abs).max().orElseThrow();
        int bins = ActivationStatistics.DEFAULT_BINS;
        double width = 0x1p-1022;
        while (!(max < 2 * bins * width)) {
            width *= 2;
        }
        long[] expected = new long[(int) Math.floor(max / width) + 1];
        for (double x : all) {
            expected[(int) Math.floor(Math.abs(x) / width)]++;
        }
        for (List<double[]> order : orders) {
            ActivationStatistics s = streamed(order);
            assertEquals(width, s.binWidth(), 0);
            assertArrayEquals(expected, s.histogram());
        }
    }
}
