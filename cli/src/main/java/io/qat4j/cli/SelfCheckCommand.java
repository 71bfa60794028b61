package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.ste.QParams;
import io.qat4j.ste.QuantSpec;
import io.qat4j.ste.UniformQuantizer;
import io.qat4j.training.Provenance;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Checks that this machine's ND4J backend and qat4j's arithmetic behave: fake quantization on the
 * backend equals a plain Java loop bit for bit, the quantization noise of a Gaussian follows the
 * ~6 dB-per-bit law, and fixed-point requantization stays within one unit of real arithmetic.
 */
@Command(name = "selfcheck", mixinStandardHelpOptions = true,
        description = "Check the ND4J backend and qat4j's quantizer and fixed-point arithmetic on this machine.")
public final class SelfCheckCommand implements Callable<Integer> {

    @Option(names = "--samples", defaultValue = "200000", description = "Gaussian samples per bit width (default ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (samples < 1000) {
            spec.commandLine().getErr().println("selfcheck: --samples must be >= 1000, got " + samples);
            return Qat4jCommand.EXIT_USAGE;
        }
        long start = System.nanoTime();
        out.println("qat4j selfcheck");
        for (Map.Entry<String, String> e : Provenance.describe(Path.of(".")).entrySet()) {
            out.printf("  %-16s %s%n", e.getKey(), e.getValue());
        }
        boolean ok = checkQuantizer(out) & checkFixedPoint(out);
        out.printf("%s in %.1f s%n", ok ? "PASS" : "FAIL", (System.nanoTime() - start) / 1e9);
        out.flush();
        return ok ? 0 : Qat4jCommand.EXIT_FAILED;
    }

    /** Fake-quant SQNR per bit width, and the ND4J result against a plain loop. */
    private boolean checkQuantizer(PrintWriter out) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] x = new double[samples];
        double absMax = 0;
        double power = 0;
        for (int i = 0; i < x.length; i++) {
            x[i] = gaussian(rnd);
            absMax = Math.max(absMax, Math.abs(x[i]));
            power += x[i] * x[i];
        }
        INDArray xa = Nd4j.createFromArray(x).castTo(DataType.FLOAT).castTo(DataType.DOUBLE);
        double[] xf = xa.toDoubleVector();
        out.println();
        out.println("fake quantization of N(0,1), symmetric per-tensor, min-max range");
        out.println("  bits  SQNR dB  gain dB  backend==loop");
        boolean ok = true;
        double previous = Double.NaN;
        for (int bits = 2; bits <= 8; bits++) {
            QuantSpec qs = QuantSpec.weightsPerTensor(bits);
            QParams qp = QParams.fromRange(qs, new double[] {-absMax}, new double[] {absMax});
            double[] fq = new UniformQuantizer(qs).fakeQuant(xa, qp).toDoubleVector();
            double s = qp.scale(0);
            double noise = 0;
            boolean same = true;
            for (int i = 0; i < xf.length; i++) {
                double q = Math.max(qs.qmin(), Math.min(qs.qmax(), Math.rint(xf[i] / s)));
                same &= q * s == fq[i];
                noise += (xf[i] - fq[i]) * (xf[i] - fq[i]);
            }
            double sqnr = 10 * Math.log10(power / noise);
            double gain = sqnr - previous;
            // from 4 bits on, min-max quantization of a Gaussian gains ~6.02 dB per bit
            boolean lawHolds = bits < 4 || (gain > 4.5 && gain < 7.5);
            out.printf("  %4d  %7.2f  %7s  %s%s%n", bits, sqnr, Double.isNaN(gain) ? "-" : String.format("%.2f", gain),
                    same ? "yes" : "NO", lawHolds ? "" : "  <- expected 4.5..7.5 dB per bit");
            ok &= same && lawHolds;
            previous = sqnr;
        }
        return ok;
    }

    /** TFLite requantization against real arithmetic on random accumulators and multipliers. */
    private boolean checkFixedPoint(PrintWriter out) {
        SplittableRandom rnd = new SplittableRandom(seed + 1);
        int trials = 1_000_000;
        int exact = 0;
        double maxError = 0;
        for (int i = 0; i < trials; i++) {
            double m = Math.scalb(0.5 + rnd.nextDouble() * 0.5, rnd.nextInt(-16, 0));
            int acc = rnd.nextInt(-(1 << 24), 1 << 24);
            int got = FixedPoint.multiplyByQuantizedMultiplier(acc, FixedPoint.quantizeMultiplier(m));
            double real = acc * m;
            maxError = Math.max(maxError, Math.abs(got - real));
            if (got == Math.round(real)) {
                exact++;
            }
        }
        boolean ok = maxError <= 1.0;
        out.println();
        out.printf("fixed-point requantization, %d random (acc, M): max |MBQM - acc*M| = %.4f (<= 1 required), "
                + "equal to round(acc*M) in %.4f%%%n", trials, maxError, 100.0 * exact / trials);
        return ok;
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v);
    }
}
