/**
 * Data for qat4j: IDX files (MNIST / Fashion-MNIST format) with strict validation
 * ({@link io.qat4j.datasets.IdxReader}), turned into ND4J {@code DataSet}s
 * ({@link io.qat4j.datasets.IdxDataSets}). Depends on nd4j-api, datavec-api and {@code io.qat4j.runtime} (its atomic file writer only).
 */
package io.qat4j.datasets;
