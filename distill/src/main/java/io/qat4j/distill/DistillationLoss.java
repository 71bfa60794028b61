package io.qat4j.distill;

import java.util.Objects;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Knowledge-distillation loss (Hinton et al. 2015) as a DL4J {@link ILossFunction}:
 * {@code L = a CE(y, softmax(z_s)) + b T^2 KL(softmax(z_t/T) || softmax(z_s/T))} per example,
 * with gradient {@code dL/dz_s = a (softmax(z_s) sum(y) - y) + b T (softmax(z_s/T) - softmax(z_t/T))}.
 *
 * <p>Teacher logits travel with the labels: the labels array is {@code [N, 2C]}, the true
 * (one-hot or soft) labels {@code y} in columns {@code 0..C-1} and the teacher's logits {@code z_t}
 * in columns {@code C..2C-1} ({@link #packLabels}). This keeps DL4J's ordinary {@code fit(DataSet)}
 * path: no side channel, and the teacher runs once per batch outside the student.
 *
 * <p>The student's pre-activation output {@code z_s} is used as logits, so the output layer's
 * activation must be SOFTMAX (usual) or IDENTITY. Scores average over the minibatch when asked;
 * a per-example mask ({@code [N, 1]}) zeroes masked examples' scores and gradients.
 */
public final class DistillationLoss implements ILossFunction {

    private static final long serialVersionUID = 1L;

    private final double ceWeight;
    private final double kdWeight;
    private final double temperature;

    /**
     * @param ceWeight    a, weight of the hard-label cross entropy, >= 0 (e.g. 0.5)
     * @param kdWeight    b, weight of the distillation term, >= 0 (e.g. 0.5)
     * @param temperature T > 0 (e.g. 4); the KL term is scaled by T^2 so its gradient keeps its size
     */
    @JsonCreator
    public DistillationLoss(@JsonProperty("ceWeight") double ceWeight, @JsonProperty("kdWeight") double kdWeight,
                            @JsonProperty("temperature") double temperature) {
        if (!(ceWeight >= 0) || !(kdWeight >= 0) || Double.isInfinite(ceWeight) || Double.isInfinite(kdWeight)) {
            throw new IllegalArgumentException("DistillationLoss: ceWeight and kdWeight must be finite and >= 0, got "
                    + ceWeight + " and " + kdWeight);
        }
        if (ceWeight + kdWeight == 0) {
            throw new IllegalArgumentException("DistillationLoss: ceWeight and kdWeight are both 0; give at least one a positive weight");
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("DistillationLoss: temperature must be finite and > 0 (typically 2..8), got " + temperature);
        }
        this.ceWeight = ceWeight;
        this.kdWeight = kdWeight;
        this.temperature = temperature;
    }

    public double getCeWeight() {
        return ceWeight;
    }

    public double getKdWeight() {
        return kdWeight;
    }

    public double getTemperature() {
        return temperature;
    }

    /** {@code [N, 2C]} labels for this loss: true labels then teacher logits. */
    public static INDArray packLabels(INDArray labels, INDArray teacherLogits) {
        if (labels.rank() != 2 || !java.util.Arrays.equals(labels.shape(), teacherLogits.shape())) {
            throw new IllegalArgumentException("DistillationLoss.packLabels: labels " + java.util.Arrays.toString(labels.shape())
                    + " and teacher logits " + java.util.Arrays.toString(teacherLogits.shape()) + " must both be [N, C]");
        }
        return org.nd4j.linalg.factory.Nd4j.hstack(labels, teacherLogits.castTo(labels.dataType()));
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask, boolean average) {
        double sum = computeScoreArray(labels, preOutput, activationFn, mask).sumNumber().doubleValue();
        return average ? sum / preOutput.size(0) : sum;
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        Parts p = parts(labels, preOutput, activationFn);
        // CE = -sum y log softmax(z);  KL = sum p_t (log p_t - log p_s^T)
        INDArray ce = p.y.mul(p.logSoftmax).sum(1).negi();
        INDArray kl = p.teacherT.mul(p.teacherLogT.sub(p.logSoftmaxT)).sum(1);
        INDArray score = ce.muli(ceWeight).addi(kl.muli(kdWeight * temperature * temperature)).reshape(p.y.size(0), 1);
        return applyMask(score, mask).castTo(preOutput.dataType());
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        Parts p = parts(labels, preOutput, activationFn);
        INDArray ySum = p.y.sum(1).reshape(p.y.size(0), 1);
        INDArray ce = Transforms.exp(p.logSoftmax, true).mulColumnVector(ySum).subi(p.y);
        INDArray kd = Transforms.exp(p.logSoftmaxT, true).subi(p.teacherT);
        INDArray grad = ce.muli(ceWeight).addi(kd.muli(kdWeight * temperature));
        return applyMask(grad, mask).castTo(preOutput.dataType());
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activationFn,
                                                          INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activationFn, mask, average),
                computeGradient(labels, preOutput, activationFn, mask));
    }

    @Override
    public String name() {
        return "DistillationLoss(a=" + ceWeight + ",b=" + kdWeight + ",T=" + temperature + ")";
    }

    @Override
    public String toString() {
        return name();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DistillationLoss d && d.ceWeight == ceWeight && d.kdWeight == kdWeight && d.temperature == temperature;
    }

    @Override
    public int hashCode() {
        return Objects.hash(ceWeight, kdWeight, temperature);
    }

    /** The float64 pieces every computation needs. */
    private record Parts(INDArray y, INDArray logSoftmax, INDArray logSoftmaxT, INDArray teacherT, INDArray teacherLogT) {
    }

    private Parts parts(INDArray labels, INDArray preOutput, IActivation activationFn) {
        if (!(activationFn instanceof ActivationSoftmax) && !(activationFn instanceof ActivationIdentity)) {
            throw new IllegalArgumentException("DistillationLoss: the output layer's activation must be SOFTMAX or IDENTITY (the loss "
                    + "reads its pre-activations as logits), got " + activationFn);
        }
        long c = preOutput.size(1);
        if (preOutput.rank() != 2 || labels.rank() != 2 || labels.size(1) != 2 * c || labels.size(0) != preOutput.size(0)) {
            throw new IllegalArgumentException("DistillationLoss: labels must be [N, 2C] = true labels then teacher logits "
                    + "(use DistillationLoss.packLabels); got labels " + java.util.Arrays.toString(labels.shape()) + " for output "
                    + java.util.Arrays.toString(preOutput.shape()));
        }
        INDArray l = labels.castTo(DataType.DOUBLE);
        INDArray y = l.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(0, c)).dup();
        INDArray teacher = l.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(c, 2 * c)).dup();
        INDArray z = preOutput.castTo(DataType.DOUBLE);
        INDArray teacherLogT = logSoftmax(teacher.divi(temperature));
        return new Parts(y, logSoftmax(z), logSoftmax(z.div(temperature)), Transforms.exp(teacherLogT, true), teacherLogT);
    }

    /** Row-wise {@code z - max - log(sum(exp(z - max)))}. */
    static INDArray logSoftmax(INDArray z) {
        INDArray shifted = z.subColumnVector(z.max(1).reshape(z.size(0), 1));
        INDArray lse = Transforms.log(Transforms.exp(shifted, true).sum(1), false).reshape(z.size(0), 1);
        return shifted.subiColumnVector(lse);
    }

    private static INDArray applyMask(INDArray values, INDArray mask) {
        if (mask == null) {
            return values;
        }
        if (mask.length() != values.size(0)) {
            throw new IllegalArgumentException("DistillationLoss: only per-example masks [N, 1] are supported, got "
                    + java.util.Arrays.toString(mask.shape()));
        }
        return values.muliColumnVector(mask.castTo(DataType.DOUBLE).reshape(values.size(0), 1));
    }
}
