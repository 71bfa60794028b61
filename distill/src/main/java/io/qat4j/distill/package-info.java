/**
 * Knowledge-distillation losses for DL4J networks: {@link io.qat4j.distill.DistillationLoss}, an
 * {@code ILossFunction} computing {@code a CE(y, softmax(z_s)) + b T^2 KL(softmax(z_t/T) || softmax(z_s/T))}
 * (Hinton et al., 2015) with its hand-derived gradient.
 *
 * <p>May depend on nd4j-api only.
 */
package io.qat4j.distill;
