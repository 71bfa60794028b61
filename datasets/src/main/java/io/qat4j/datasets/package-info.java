/**
 * Data for qat4j, turned into ND4J {@code DataSet}s of shape {@code [N, C, H, W]} (features scaled
 * to [0, 1], one-hot labels): IDX files (MNIST / Fashion-MNIST format) with strict validation
 * ({@link io.qat4j.datasets.IdxReader}, {@link io.qat4j.datasets.IdxDataSets}), labelled CSV files
 * ({@link io.qat4j.datasets.CsvDataSets}), image folders with one subfolder per class
 * ({@link io.qat4j.datasets.ImageFolderDataSets}), and Fashion-MNIST located on the machine,
 * downloaded with checksums or taken from the bundled subset ({@link io.qat4j.datasets.FashionMnist}).
 * Each format's errors are its own exception type naming the file and what is wrong.
 *
 * <p>May depend on nd4j-api, datavec-api, datavec-data-image (with OpenCV's natives) and
 * {@code io.qat4j.runtime} (its atomic file writer only); nothing else of qat4j.
 */
package io.qat4j.datasets;
