package io.qat4j.lsq;

import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.reference.QuantReference;

/** Plain double[] references of LSQ, LSQ+ and PACT, element by element from the papers' formulas. */
final class LearnedReference {

    private LearnedReference() {
    }

    /** {x^[], dx[], ds[], dbeta[]} for LSQ+ (beta = 0 gives LSQ), gradients unscaled then times g. */
    static double[][] lsqPlus(double[] x, double[] gradOut, long[] shape, QuantSpec spec, double[] s, double[] beta, double g) {
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
            double r = QuantReference.roundHalfEven(vc);
            out[i] = r * s[k] + beta[k];
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

    /** {y^[], dx[], {dalpha}} for PACT. */
    static double[][] pact(double[] x, double[] gradOut, int bits, double alpha, double decay) {
        double k = (Math.pow(2, bits) - 1) / alpha;
        double[] out = new double[x.length];
        double[] dx = new double[x.length];
        double da = decay * alpha;
        for (int i = 0; i < x.length; i++) {
            double y = Math.max(0, Math.min(alpha, x[i]));
            out[i] = QuantReference.roundHalfEven(y * k) / k;
            if (x[i] >= alpha) {
                da += gradOut[i];
            } else if (x[i] >= 0) {
                dx[i] = gradOut[i];
            }
        }
        return new double[][] {out, dx, {da}};
    }
}
