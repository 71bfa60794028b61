package io.qat4j.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.shade.jackson.databind.ObjectMapper;

class DistillationLossTest {

    private static final int N = 6;
    private static final int C = 5;

    private static double[][] random(Random rnd, double sigma) {
        double[][] a = new double[N][C];
        for (double[] row : a) {
            for (int j = 0; j < C; j++) {
                row[j] = rnd.nextGaussian() * sigma;
            }
        }
        return a;
    }

    private static double[][] oneHot(Random rnd) {
        double[][] y = new double[N][C];
        for (double[] row : y) {
            row[rnd.nextInt(C)] = 1;
        }
        return y;
    }

    private static double[] softmax(double[] z, double t) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            m = Math.max(m, v / t);
        }
        double sum = 0;
        double[] p = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            p[i] = Math.exp(z[i] / t - m);
            sum += p[i];
        }
        for (int i = 0; i < z.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** Plain reference of the per-example loss. */
    private static double referenceScore(double[] y, double[] zs, double[] zt, double a, double b, double t) {
        double[] ps = softmax(zs, 1);
        double[] psT = softmax(zs, t);
        double[] ptT = softmax(zt, t);
        double ce = 0;
        double kl = 0;
        for (int c = 0; c < y.length; c++) {
            ce -= y[c] * Math.log(ps[c]);
            kl += ptT[c] * (Math.log(ptT[c]) - Math.log(psT[c]));
        }
        return a * ce + b * t * t * kl;
    }

    @Test
    void scoreMatchesThePlainReference() {
        Random rnd = new Random(1);
        double[][] y = oneHot(rnd);
        double[][] zs = random(rnd, 2);
        double[][] zt = random(rnd, 3);
        DistillationLoss loss = new DistillationLoss(0.3, 0.7, 4.0);
        INDArray labels = DistillationLoss.packLabels(Nd4j.createFromArray(y), Nd4j.createFromArray(zt));
        INDArray scores = loss.computeScoreArray(labels, Nd4j.createFromArray(zs), new ActivationSoftmax(), null);
        double total = 0;
        for (int i = 0; i < N; i++) {
            double ref = referenceScore(y[i], zs[i], zt[i], 0.3, 0.7, 4.0);
            assertEquals(ref, scores.getDouble(i, 0), 1e-12);
            total += ref;
        }
        assertEquals(total / N, loss.computeScore(labels, Nd4j.createFromArray(zs), new ActivationSoftmax(), null, true), 1e-12);
    }

    @Test
    void gradientMatchesCentralFiniteDifferences() {
        Random rnd = new Random(2);
        double[][] y = oneHot(rnd);
        double[][] zs = random(rnd, 2);
        double[][] zt = random(rnd, 2);
        DistillationLoss loss = new DistillationLoss(0.5, 0.5, 3.0);
        INDArray labels = DistillationLoss.packLabels(Nd4j.createFromArray(y), Nd4j.createFromArray(zt));
        INDArray z = Nd4j.createFromArray(zs);
        INDArray grad = loss.computeGradient(labels, z, new ActivationSoftmax(), null);
        double h = 1e-6;
        for (int i = 0; i < N; i++) {
            for (int c = 0; c < C; c++) {
                INDArray up = z.dup();
                up.putScalar(i, c, zs[i][c] + h);
                INDArray down = z.dup();
                down.putScalar(i, c, zs[i][c] - h);
                double fd = (loss.computeScore(labels, up, new ActivationIdentity(), null, false)
                        - loss.computeScore(labels, down, new ActivationIdentity(), null, false)) / (2 * h);
                assertEquals(fd, grad.getDouble(i, c), 1e-6, "d/dz[" + i + "," + c + "]");
            }
        }
    }

    @Test
    void pureCrossEntropyEqualsDl4jsMcxent() {
        Random rnd = new Random(3);
        double[][] y = oneHot(rnd);
        INDArray z = Nd4j.createFromArray(random(rnd, 2)).castTo(DataType.FLOAT);
        INDArray yArr = Nd4j.createFromArray(y).castTo(DataType.FLOAT);
        ILossFunction twin = new LossMCXENT();
        DistillationLoss loss = new DistillationLoss(1.0, 0.0, 1.0);
        INDArray labels = DistillationLoss.packLabels(yArr, Nd4j.zeros(DataType.FLOAT, N, C));
        assertEquals(twin.computeScore(yArr, z.dup(), new ActivationSoftmax(), null, true),
                loss.computeScore(labels, z.dup(), new ActivationSoftmax(), null, true), 1e-5);
        INDArray expected = twin.computeGradient(yArr, z.dup(), new ActivationSoftmax(), null);
        INDArray got = loss.computeGradient(labels, z.dup(), new ActivationSoftmax(), null);
        assertTrue(expected.equalsWithEps(got, 1e-6), expected + " vs " + got);
    }

    @Test
    void studentEqualToTeacherHasNoDistillationLossOrGradient() {
        Random rnd = new Random(4);
        INDArray z = Nd4j.createFromArray(random(rnd, 2));
        DistillationLoss loss = new DistillationLoss(0.0, 1.0, 2.0);
        INDArray labels = DistillationLoss.packLabels(Nd4j.createFromArray(oneHot(rnd)), z);
        assertEquals(0.0, loss.computeScore(labels, z, new ActivationSoftmax(), null, true), 1e-12);
        assertEquals(0.0, loss.computeGradient(labels, z, new ActivationSoftmax(), null).amaxNumber().doubleValue(), 1e-12);
    }

    @Test
    void maskZeroesMaskedExamples() {
        Random rnd = new Random(5);
        DistillationLoss loss = new DistillationLoss(0.5, 0.5, 2.0);
        INDArray labels = DistillationLoss.packLabels(Nd4j.createFromArray(oneHot(rnd)), Nd4j.createFromArray(random(rnd, 1)));
        INDArray z = Nd4j.createFromArray(random(rnd, 1));
        INDArray mask = Nd4j.createFromArray(1.0, 0.0, 1.0, 0.0, 1.0, 1.0).reshape(N, 1);
        INDArray scores = loss.computeScoreArray(labels, z, new ActivationSoftmax(), mask);
        INDArray grad = loss.computeGradient(labels, z, new ActivationSoftmax(), mask);
        assertEquals(0.0, scores.getDouble(1, 0), 0.0);
        assertEquals(0.0, grad.getRow(3).amaxNumber().doubleValue(), 0.0);
        assertTrue(scores.getDouble(0, 0) > 0);
    }

    @Test
    void serializesWithDl4jsJsonMapperAndRejectsBadInput() throws Exception {
        DistillationLoss loss = new DistillationLoss(0.25, 0.75, 6.0);
        ObjectMapper mapper = new ObjectMapper();
        DistillationLoss back = mapper.readValue(mapper.writeValueAsString(loss), DistillationLoss.class);
        assertEquals(loss, back);
        assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(0.5, 0.5, 0.0));
        assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(0, 0, 1));
        IllegalArgumentException wrongWidth = assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(Nd4j.ones(N, C), Nd4j.ones(N, C), new ActivationSoftmax(), null, true));
        assertTrue(wrongWidth.getMessage().contains("packLabels"), wrongWidth.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(Nd4j.ones(N, 2 * C), Nd4j.ones(N, C), new ActivationReLU(), null, true));
    }
}
