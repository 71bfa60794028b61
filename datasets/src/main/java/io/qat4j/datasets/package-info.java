/**
 * Data for qat4j: IDX files (MNIST / Fashion-MNIST format) with strict validation
 * ({@link io.qat4j.datasets.IdxReader}), labelled CSV files ({@link io.qat4j.datasets.CsvDataSets})
 * and image folders, one subfolder per class ({@link io.qat4j.datasets.ImageFolderDataSets}),
 * turned into ND4J {@code DataSet}s of shape {@code [N, C, H, W]}. Depends on nd4j-api, datavec-api,
 * datavec-data-image (with OpenCV's natives) and {@code io.qat4j.runtime} (its atomic file writer only).
 */
package io.qat4j.datasets;
