package io.qat4j.ptq.calibration;

/**
 * ACIQ (Banner, Nahshan, Soudry, "Post training 4-bit quantization of convolutional networks for
 * rapid-deployment", NeurIPS 2019): models the tensor as Laplace(mu, b) and clips at the
 * {@code alpha} minimizing the analytic expected error of an M-bit uniform quantizer on
 * {@code [-alpha, alpha]}: {@code E(alpha) = 2 b^2 e^(-alpha/b) + alpha^2 / (3 4^M)} (clipping noise
 * plus rounding noise). The optimum scales with b: {@code alpha* = k_M b} with {@code k_M} =
 * 2.83, 3.89, 5.03, 6.20, 7.41, 8.64, 9.89 for M = 2..8 (the paper's table), which
 * {@link #laplaceClipRatio} recomputes. {@code b} comes from the method of moments,
 * {@code b = std / sqrt(2)}; the threshold is {@code |mu| + k_M b}, never above max |x|.
 * Non-negative data spends all 2^b codes on one side, so it counts as {@code M = b + 1}.
 */
public final class AciqCalibrator implements Calibrator {

    @Override
    public Range range(ActivationStatistics stats, int bits) {
        Calibrator.checkBits(bits);
        int m = stats.signed() ? bits : bits + 1;
        double b = stats.std() / Math.sqrt(2);
        return stats.clipped(Math.abs(stats.mean()) + laplaceClipRatio(m) * b);
    }

    /** {@code k_M = argmin_k 2 e^(-k) + k^2 / (3 4^M)} (alpha / b for unit b), by golden-section search. */
    public static double laplaceClipRatio(int m) {
        double lo = 0;
        double hi = 64;
        double g = (Math.sqrt(5) - 1) / 2;
        double fourM = Math.pow(4, m);
        for (int it = 0; it < 200; it++) {
            double a = hi - g * (hi - lo);
            double c = lo + g * (hi - lo);
            double fa = 2 * Math.exp(-a) + a * a / (3 * fourM);
            double fc = 2 * Math.exp(-c) + c * c / (3 * fourM);
            if (fa < fc) {
                hi = c;
            } else {
                lo = a;
            }
        }
        return (lo + hi) / 2;
    }

    @Override
    public String name() {
        return "aciq";
    }
}
