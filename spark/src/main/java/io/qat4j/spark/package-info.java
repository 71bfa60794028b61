/**
 * Data-parallel training on Apache Spark through DL4J's own engine (dl4j-spark 1.0.0-M2 on the M2.1 core;
 * notes/spark-probe): {@link io.qat4j.spark.SparkTraining} starts the Spark context and gives a
 * {@link io.qat4j.training.Trainer} whose epochs are fitted by {@link io.qat4j.spark.ParameterAveragingFitting}
 * ({@code SparkDl4jMultiLayer} / {@code SparkComputationGraph} with {@code ParameterAveragingTrainingMaster}),
 * so that FP32 and QAT runs keep the single-JVM trainer's epochs, schedule, freezes, distillation, model
 * selection and checkpoints. Quantizer state carried by the parameter vector (LSQ steps and offsets, PACT
 * clipping values, FIXED observer ranges and counts, batch-norm running statistics) is averaged with the
 * weights; the one piece that lives in the layer configuration, an input quantizer's signedness, is
 * re-synchronised after every averaging round by {@link io.qat4j.spark.InputQuantizerSigns}.
 *
 * <p>May depend on {@code training} and the library modules under it, dl4j-spark and Spark; nothing in
 * qat4j depends on this package except the command line ({@code cli}).
 */
package io.qat4j.spark;
