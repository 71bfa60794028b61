/**
 * Knowledge-distillation losses for DL4J networks ({@link io.qat4j.distill.DistillationLoss}).
 * Depends on nd4j-api only.
 */
package io.qat4j.distill;
