package io.qat4j.lsq;

import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.Rounding;
import io.qat4j.ste.reference.QuantReference;

/** Plain double[] references of LSQ, LSQ+ and PACT, element by element from the papers' formulas. */
final class LearnedReference {

    private LearnedReference() {
    }

    /** Rounding by the ste reference's exact (BigDecimal) rounders; deterministic modes only. */
    static double round(Rounding mode, double v) {
        return switch (mode) {
            case HALF_EVEN -> QuantReference.roundHalfEven(v);
            case HALF_AWAY -> QuantReference.roundHalfAway(v);
            case HALF_UP -> QuantReference.roundHalfUp(v);
            case STOCHASTIC -> throw new IllegalArgumentException("no stochastic rounding in learned quantizers");
        };
    }

    /** {x^[], dx[], ds[], dbeta[]} for LSQ+ (beta = 0 gives LSQ), gradients unscaled then times g. */
    static double[][] lsqPlus(double[] x, double[] gradOut, long[] shape, QuantSpec spec, double[] s, double[] beta, double g) {
        return lsqPlus(x, gradOut, shape, spec, s, beta, g, spec.rounding());
    }

    /**
     * As above with the given rounding. A NaN input gives a NaN output and no gradient at all (it is
     * neither inside nor outside the range).
     */
    static double[][] lsqPlus(double[] x, double[] gradOut, long[] shape, QuantSpec spec, double[] s, double[] beta, double g,
                              Rounding rounding) {
        int qn = -QuantReference.qmin(spec);
        int qp = QuantReference.qmax(spec);
        double[] out = new double[x.length];
        double[] dx = new double[x.length];
        double[] ds = new double[s.length];
        double[] db = new double[s.length];
        for (int i = 0; i < x.length; i++) {
            int k = QuantReference.groupOf(i, spec, shape);
            double v = (x[i] - beta[k]) / s[k];
            double vc = Math.max(-qn, Math.min(qp, v));
            double r = round(rounding, vc);
            out[i] = r * s[k] + beta[k];
            if (Double.isNaN(v)) {
                continue;
            }
            if (v < -qn) {
                ds[k] += gradOut[i] * -qn;
                db[k] += gradOut[i];
            } else if (v > qp) {
                ds[k] += gradOut[i] * qp;
                db[k] += gradOut[i];
            } else {
                dx[i] = gradOut[i];
                ds[k] += gradOut[i] * (r - v);
            }
        }
        for (int k = 0; k < s.length; k++) {
            ds[k] *= g;
            db[k] *= g;
        }
        return new double[][] {out, dx, ds, db};
    }

    /** {y^[], dx[], {dalpha}} for unsigned PACT, ties to even. */
    static double[][] pact(double[] x, double[] gradOut, int bits, double alpha, double decay) {
        return pact(x, gradOut, bits, alpha, decay, false, Rounding.HALF_EVEN);
    }

    /**
     * {y^[], dx[], {dalpha}} for PACT: unsigned {@code [0, alpha]} with {@code 2^b - 1} levels, signed
     * {@code [-alpha, alpha]} with {@code 2^(b-1) - 1} levels each side; dalpha = sum of gradOut where
     * {@code x >= alpha}, minus where {@code x <= -alpha} (signed), plus {@code decay alpha}.
     */
    static double[][] pact(double[] x, double[] gradOut, int bits, double alpha, double decay, boolean signed, Rounding rounding) {
        double levels = signed ? Math.pow(2, bits - 1) - 1 : Math.pow(2, bits) - 1;
        double k = levels / alpha;
        double lo = signed ? -alpha : 0;
        double[] out = new double[x.length];
        double[] dx = new double[x.length];
        double clip = 0;
        for (int i = 0; i < x.length; i++) {
            double y = Double.isNaN(x[i]) ? x[i] : Math.max(lo, Math.min(alpha, x[i]));
            out[i] = round(rounding, y * k) / k;
            if (x[i] >= alpha) {
                clip += gradOut[i];
            } else if (signed && x[i] <= -alpha) {
                clip -= gradOut[i];
            } else if (x[i] >= lo) {
                dx[i] = gradOut[i];
            }
        }
        return new double[][] {out, dx, {clip + decay * alpha}};
    }
}
