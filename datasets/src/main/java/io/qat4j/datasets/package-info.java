/**
 * Data for qat4j: IDX files (MNIST / Fashion-MNIST format) with strict validation
 * ({@link io.qat4j.datasets.IdxReader}), turned into ND4J {@code DataSet}s
 * ({@link io.qat4j.datasets.IdxDataSets}). Depends on nd4j-api and datavec-api.
 */
package io.qat4j.datasets;
