/**
 * Training, experiments and run provenance ({@link io.qat4j.training.Provenance}); the one model
 * loader of every command ({@link io.qat4j.training.ModelLoader}: DL4J zips of either network kind,
 * Keras .h5, configuration JSON), what a network takes ({@link io.qat4j.training.ModelInput}), the
 * operations on either kind of network ({@link io.qat4j.training.Networks}) and the zoo architectures
 * {@code qat4j train} builds ({@link io.qat4j.training.ZooArchitecture}); the command line lives in
 * {@code io.qat4j.cli}. Depends on every other qat4j module, DL4J (nn, modelimport, zoo).
 */
package io.qat4j.training;
