package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.qat4j.export.FloatOnnxExporter;
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
 * ~6 dB-per-bit law, fixed-point requantization stays within one unit of real arithmetic, and ONNX
 * Runtime runs in this JVM (the float ONNX export of a small dense network gives DL4J's outputs).
 * The last is what crashed (SIGSEGV, exit 139) when the launcher passed its 9 KB classpath on the
 * command line: ONNX Runtime 1.29.0's Java binding fails in a JVM whose command line exceeds about 4 KB.
 */
@Command(name = "selfcheck", mixinStandardHelpOptions = true,
        description = "Check the ND4J backend, qat4j's quantizer and fixed-point arithmetic, and ONNX Runtime in this JVM on this machine.")
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
        boolean ok = checkQuantizer(out) & checkFixedPoint(out) & checkOnnxRuntime(out);
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

    /** Largest |ONNX Runtime - DL4J| output difference accepted (float32 sums of 16 and 8 products). */
    static final double ONNX_TOLERANCE = 1e-5;

    /** A 16-8-3 dense network (seeded), exported as float ONNX, run in ONNX Runtime against DL4J's own output on 4 inputs. */
    private boolean checkOnnxRuntime(PrintWriter out) {
        out.println();
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(seed).list()
                .layer(new DenseLayer.Builder().nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(16)).build());
        net.init();
        SplittableRandom rnd = new SplittableRandom(seed + 2);
        float[] x = new float[4 * 16];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) gaussian(rnd);
        }
        float[] want = net.output(Nd4j.create(x, new long[] {4, 16}), false).castTo(DataType.FLOAT).dup('c').data().asFloat();
        try {
            byte[] model = FloatOnnxExporter.export(net, new int[] {16}).toByteArray();
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            float[][] got;
            try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
                opts.setIntraOpNumThreads(1);
                try (OrtSession session = env.createSession(model, opts);
                     OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {4, 16});
                     OrtSession.Result r = session.run(Map.of(FloatOnnxExporter.INPUT, in))) {
                    got = (float[][]) r.get(FloatOnnxExporter.OUTPUT).orElseThrow().getValue();
                }
            }
            double maxDiff = 0;
            for (int i = 0; i < want.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(got[i / 3][i % 3] - want[i]));
            }
            boolean ok = maxDiff <= ONNX_TOLERANCE;
            out.printf("ONNX Runtime %s in this JVM: float ONNX export of a 16-8-3 dense network, max |ORT - DL4J| = %.2e (<= %.0e required)%n",
                    env.getVersion(), maxDiff, ONNX_TOLERANCE);
            return ok;
        } catch (OrtException | RuntimeException e) {
            out.println("ONNX Runtime does not run in this JVM: " + e);
            return false;
        }
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v);
    }
}
