package io.qat4j.ptq.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** Every calibrator against a plain double[] reference on Gaussian, Laplace and outlier data. */
class CalibratorsTest {

    static double[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian();
        }
        return v;
    }

    static double[] laplace(int n, double b, long seed) {
        Random r = new Random(seed);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double u = r.nextDouble() - 0.5;
            v[i] = -b * Math.signum(u) * Math.log(1 - 2 * Math.abs(u));
        }
        return v;
    }

    static double[] withOutliers(double[] v, int count, double value) {
        double[] out = v.clone();
        for (int i = 0; i < count; i++) {
            out[i * (v.length / count)] = (i % 2 == 0 ? 1 : -1) * value;
        }
        return out;
    }

    static ActivationStatistics stats(double[] v) {
        ActivationStatistics s = new ActivationStatistics();
        s.observe(v);
        return s;
    }

    // ---------- plain references on the raw samples ----------

    static double refPercentileAbs(double[] v, double p) {
        double[] a = Arrays.stream(v).map(Math::abs).sorted().toArray();
        return a[(int) Math.min(a.length - 1, Math.ceil(p / 100 * a.length) - 1)];
    }

    static double refSquaredError(double[] v, double t, int levels, boolean signed) {
        double s = t / levels;
        double e = 0;
        for (double x : v) {
            double a = signed ? x : Math.max(0, x);
            double q = Math.max(signed ? -levels : 0, Math.min(levels, Math.rint(a / s))) * s;
            e += (a - q) * (a - q);
        }
        return e;
    }

    /**
     * TensorRT/MXNet entropy calibration written out plainly on a fresh |x| histogram whose bin width
     * is the smallest power of two w with max|x| < 2 minBins w, over the bins up to the one holding
     * max|x| (minBins + 1 to 2 minBins of them).
     */
    static double refEntropy(double[] v, int minBins, int nq) {
        double max = Arrays.stream(v).map(Math::abs).max().orElseThrow();
        double width = Math.scalb(1.0, Math.getExponent(max / (2 * minBins)) + 1);
        int bins = (int) Math.floor(max / width) + 1;
        double[] hist = new double[bins];
        for (double x : v) {
            hist[(int) Math.floor(Math.abs(x) / width)]++;
        }
        double best = Double.POSITIVE_INFINITY;
        int bestI = bins;
        for (int i = nq; i <= bins; i++) {
            double[] p = Arrays.copyOf(hist, i);
            for (int j = i; j < bins; j++) {
                p[i - 1] += hist[j];
            }
            double[] q = new double[i];
            int merged = i / nq;
            for (int k = 0; k < nq; k++) {
                int start = k * merged;
                int stop = k == nq - 1 ? i : start + merged;
                double sum = 0;
                int nz = 0;
                for (int j = start; j < stop; j++) {
                    sum += hist[j];
                    if (p[j] != 0) {
                        nz++;
                    }
                }
                for (int j = start; j < stop; j++) {
                    q[j] = p[j] != 0 && nz > 0 ? sum / nz : 0;
                }
            }
            double[] ps = smooth(p);
            double[] qs = smooth(q);
            if (ps == null || qs == null) {
                continue;
            }
            double kl = 0;
            for (int j = 0; j < i; j++) {
                if (ps[j] > 0) {
                    kl += ps[j] * Math.log(ps[j] / qs[j]);
                }
            }
            if (kl < best) {
                best = kl;
                bestI = i;
            }
        }
        return bestI * width;
    }

    static double[] smooth(double[] c) {
        double total = Arrays.stream(c).sum();
        long zeros = Arrays.stream(c).filter(x -> x == 0).count();
        long nonZeros = c.length - zeros;
        if (total == 0 || nonZeros == 0) {
            return null;
        }
        double[] out = new double[c.length];
        for (int j = 0; j < c.length; j++) {
            out[j] = c[j] == 0 ? 1e-4 : c[j] / total - 1e-4 * zeros / nonZeros;
            if (out[j] <= 0) {
                return null;
            }
        }
        return out;
    }

    // ---------- tests ----------

    @Test
    void minMaxKeepsOutliersAndMovingAverageDampsOneOutlierBatch() {
        double[] g = gaussian(10_000, 1);
        double[] o = withOutliers(g, 10, 50);
        Range r = new MinMaxCalibrator().range(stats(o), 8);
        assertEquals(Arrays.stream(o).min().orElseThrow(), r.min(), 0);
        assertEquals(Arrays.stream(o).max().orElseThrow(), r.max(), 0);
        assertEquals(50, r.max(), 0, "min-max must not clip the outliers");

        ActivationStatistics s = new ActivationStatistics();
        for (int b = 0; b < 20; b++) {
            s.observe(gaussian(1000, 10 + b));
        }
        s.observe(new double[] {-60, 60});
        double refMax = 0;
        for (int b = 0; b < 20; b++) {
            double m = Arrays.stream(gaussian(1000, 10 + b)).max().orElseThrow();
            refMax = b == 0 ? m : refMax + 0.01 * (m - refMax);
        }
        refMax += 0.01 * (60 - refMax);
        assertEquals(refMax, new MovingAverageCalibrator().range(s, 8).max(), 1e-12);
        assertEquals(60, new MinMaxCalibrator().range(s, 8).max(), 0);
    }

    @Test
    void percentileMatchesSortedSamplesWithinOneBinAndRelativeAccuracy() {
        for (double[] v : new double[][] {gaussian(100_000, 2), laplace(100_000, 1, 3), withOutliers(gaussian(100_000, 4), 5, 100)}) {
            ActivationStatistics s = stats(v);
            for (double p : new double[] {50.0, 99.0, 99.9, 99.99}) {
                double t = new PercentileCalibrator(p).range(s, 8).max();
                double ref = refPercentileAbs(v, p);
                assertEquals(ref, t, s.binWidth() * 1.01, "percentile " + p);
                assertEquals(ref, t, ref * 0x1p-10, "percentile " + p + " relative");
            }
            assertTrue(new PercentileCalibrator(99.99).range(s, 8).max() < 10, "percentile clips outliers");
        }
    }

    @Test
    void entropyMatchesPlainTensorRtReference() {
        for (double[] v : new double[][] {gaussian(50_000, 5), laplace(50_000, 1, 6), withOutliers(gaussian(50_000, 7), 20, 40)}) {
            ActivationStatistics s = stats(v);
            for (int bits : new int[] {4, 8}) {
                double t = new EntropyCalibrator().range(s, bits).max();
                double ref = refEntropy(v, 2048, (1 << (bits - 1)));
                assertEquals(ref, t, s.binWidth() * 1e-9, "entropy at " + bits + " bits");
            }
        }
        double[] o = withOutliers(gaussian(50_000, 7), 20, 40);
        assertTrue(new EntropyCalibrator().range(stats(o), 8).max() < 10, "entropy clips the outliers");
        // non-negative (ReLU-like) data gets [0, t] and 2^b levels
        double[] relu = Arrays.stream(gaussian(50_000, 8)).map(x -> Math.max(0, x)).toArray();
        Range r = new EntropyCalibrator().range(stats(relu), 8);
        assertEquals(0, r.min(), 0);
        assertEquals(refEntropy(relu, 2048, 256), r.max(), 1e-12);
    }

    @Test
    void mseIsWithinOnePercentOfBruteForceOptimumAndClipsOutliers() {
        for (double[] v : new double[][] {gaussian(50_000, 9), laplace(50_000, 1, 10), withOutliers(gaussian(50_000, 11), 10, 50)}) {
            ActivationStatistics s = stats(v);
            for (int bits : new int[] {3, 4, 8}) {
                int levels = Calibrator.positiveLevels(true, bits);
                double t = new MseCalibrator().range(s, bits).max();
                double max = s.absMax();
                double bestRef = Double.POSITIVE_INFINITY;
                for (int k = 1; k <= 2000; k++) {
                    bestRef = Math.min(bestRef, refSquaredError(v, max * k / 2000, levels, true));
                }
                double ours = refSquaredError(v, t, levels, true);
                assertTrue(ours <= bestRef * 1.01, bits + " bits: error at t=" + t + " is " + ours + ", best " + bestRef);
            }
        }
        double[] o = withOutliers(gaussian(50_000, 11), 10, 50);
        assertTrue(new MseCalibrator().range(stats(o), 4).max() < 10, "MSE clips outliers at 4 bits");
    }

    @Test
    void aciqReproducesTheLaplaceTableAndClipsLaplaceData() {
        double[] table = {2.83, 3.89, 5.03, 6.20, 7.41, 8.64, 9.89};
        for (int m = 2; m <= 8; m++) {
            assertEquals(table[m - 2], AciqCalibrator.laplaceClipRatio(m), 0.01, "k_" + m);
        }
        double[] v = laplace(200_000, 1, 12);
        double t = new AciqCalibrator().range(stats(v), 4).max();
        assertEquals(5.03, t, 5.03 * 0.03);
        assertTrue(t < Arrays.stream(v).map(Math::abs).max().orElseThrow());
    }

    @Test
    void streamingHistogramKeepsCountsWhenRangeGrows() {
        ActivationStatistics s = new ActivationStatistics(16, 0.01);
        s.observe(new double[] {0.1, 0.5, 0.9, 1.0});
        assertEquals(0x1p-4, s.binWidth(), 0, "the smallest power of two w with 1.0 < 2 * 16 w");
        s.observe(new double[] {3.5, -0.2});
        // 3.5 < 2 * 16 / 8: bin width 1/8, bins up to floor(3.5 * 8) = 28
        assertEquals(0.125, s.binWidth(), 0);
        assertEquals(29 * 0.125, s.histogramRange(), 0);
        long[] h = s.histogram();
        assertEquals(29, h.length);
        assertEquals(6, Arrays.stream(h).sum());
        long[] expected = new long[29];
        for (double x : new double[] {0.1, 0.2, 0.5, 0.9, 1.0, 3.5}) {
            expected[(int) Math.floor(x * 8)]++;
        }
        assertArrayEquals(expected, h, "counts of a single pass at width 1/8");
        assertTrue(s.signed());
        assertThrows(IllegalArgumentException.class, () -> s.observe(new double[] {Double.NaN}));
        assertThrows(IllegalStateException.class, () -> new ActivationStatistics().min());
    }
}
