package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/** The calibration sample and the name of the selection split, which every command takes from {@link RunData}. */
class RunDataSamplesTest {

    private static DataSet images(int n) {
        return new DataSet(Nd4j.arange(n * 4.0).castTo(DataType.FLOAT).reshape(n, 1, 2, 2), Nd4j.eye(n).get(
                org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1)));
    }

    @Test
    void theCalibrationSampleIsTheFirst256TrainingImagesOrAllOfFewer() {
        DataSet test = images(3);
        RunData many = new RunData("X", "x", images(300), test, test, false);
        assertArrayEquals(new long[] {256, 1, 2, 2}, many.calibrationSample().shape());
        // row 255 of the training set, unshuffled: its first pixel is 255 * 4
        assertEquals(255 * 4.0, many.calibrationSample().getDouble(255, 0, 0, 0), 0.0);
        RunData few = new RunData("X", "x", images(10), test, test, false);
        assertArrayEquals(new long[] {10, 1, 2, 2}, few.calibrationSample().shape());
    }

    @Test
    void theSelectionSplitIsNamedAsWhatItIs() {
        DataSet test = images(3);
        assertEquals("test set", new RunData("X", "x", images(5), test, test, false).validationName());
        assertEquals("validation split", new RunData("X", "x", images(5), images(2), test, false).validationName());
    }
}
