/**
 * The training library: the trainer ({@link io.qat4j.training.Trainer}, with {@link io.qat4j.training.TrainSpec})
 * and its resumable checkpoints ({@link io.qat4j.training.Checkpoint}), float
 * training ({@link io.qat4j.training.FloatTraining}), configured PTQ runs ({@link io.qat4j.training.PtqRun}),
 * export and evaluation in the INT8 runtime ({@link io.qat4j.training.Int8Evaluation}), the data of a
 * run ({@link io.qat4j.training.RunData}), run provenance ({@link io.qat4j.training.Provenance}); the
 * one model loader ({@link io.qat4j.training.ModelLoader}: DL4J zips of either network kind, Keras
 * .h5, configuration JSON), what a network takes ({@link io.qat4j.training.ModelInput}), the
 * operations on either kind of network ({@link io.qat4j.training.Networks}) and the zoo architectures
 * ({@link io.qat4j.training.ZooArchitecture}). Configurations are in {@code config}, the experiment
 * runner in {@code experiment}. Progress goes through {@link io.qat4j.training.Trainer.Progress} and
 * {@code PrintWriter} logs; bad input is a {@link io.qat4j.training.BadInputException} whose message
 * names the key or file to fix.
 *
 * <p>May depend on every other library module and DL4J (nn, modelimport, zoo); never on the command
 * line (module {@code cli}: picocli, XChart, progressbar, JMH, ONNX Runtime).
 */
package io.qat4j.training;
