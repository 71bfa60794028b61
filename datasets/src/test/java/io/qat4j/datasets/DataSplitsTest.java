package io.qat4j.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/** The splits against plain index arithmetic on a data set whose example i carries the id i. */
class DataSplitsTest {

    /** n examples, features [n, 2] = (i, -i), one-hot labels of i % 3. */
    static DataSet numbered(int n) {
        double[][] x = new double[n][2];
        double[][] y = new double[n][3];
        for (int i = 0; i < n; i++) {
            x[i][0] = i;
            x[i][1] = -i;
            y[i][i % 3] = 1;
        }
        return new DataSet(Nd4j.create(x).castTo(DataType.FLOAT), Nd4j.create(y).castTo(DataType.FLOAT));
    }

    /** The ids of the examples, in order, each checked against its label and second feature. */
    static List<Integer> ids(DataSet d) {
        List<Integer> ids = new ArrayList<>();
        for (int r = 0; r < d.numExamples(); r++) {
            int id = (int) d.getFeatures().getDouble(r, 0);
            assertEquals(-id, d.getFeatures().getDouble(r, 1), 0, "features stay together");
            assertEquals(1.0, d.getLabels().getDouble(r, id % 3), 0, "the label stays with its example");
            ids.add(id);
        }
        return ids;
    }

    static List<Integer> range(int from, int to) {
        List<Integer> l = new ArrayList<>();
        for (int i = from; i < to; i++) {
            l.add(i);
        }
        return l;
    }

    @Test
    void headTakesTheFirstExamplesAndReturnsSmallerSetsUnchanged() {
        DataSet d = numbered(50);
        assertEquals(range(0, 7), ids(DataSplits.head(d, 7)));
        assertEquals(range(0, 1), ids(DataSplits.head(d, 1)));
        assertSame(d, DataSplits.head(d, 50));
        assertSame(d, DataSplits.head(d, 512), "fewer examples than asked for: all of them");
        DataSet h = DataSplits.head(d, 7);
        h.getFeatures().putScalar(0, 0, 99);
        assertEquals(0, d.getFeatures().getDouble(0, 0), 0, "the head is a copy");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DataSplits.head(d, 0));
        assertTrue(e.getMessage().contains(">= 1") && e.getMessage().contains("0"), e.getMessage());
    }

    @Test
    void validationTailIsTheLastFifthAtMostAThousandAtLeastOne() {
        assertEquals(range(600 - 120, 600), ids(DataSplits.validationTail(numbered(600))));
        assertEquals(range(6000 - 1000, 6000), ids(DataSplits.validationTail(numbered(6000))));
        assertEquals(range(3, 4), ids(DataSplits.validationTail(numbered(4))), "n / 5 = 0: still one example");
        assertEquals(range(0, 1), ids(DataSplits.validationTail(numbered(1))));
    }

    @Test
    void holdOutIsASeededPartitionOfTheTrainingExamples() {
        DataSet d = numbered(100);
        DataSplits.TrainValidation a = DataSplits.holdOut(d, 0.1, 7);
        assertEquals(90, a.train().numExamples());
        assertEquals(10, a.validation().numExamples());
        TreeSet<Integer> all = new TreeSet<>(ids(a.train()));
        List<Integer> held = ids(a.validation());
        held.forEach(i -> assertTrue(all.add(i), "example " + i + " is in both parts"));
        assertEquals(new TreeSet<>(range(0, 100)), all, "every example is in exactly one part");
        assertEquals(range(0, 100), ids(d), "the input is not shuffled");
        DataSplits.TrainValidation again = DataSplits.holdOut(d, 0.1, 7);
        assertEquals(ids(a.train()), ids(again.train()), "same seed, same split");
        assertEquals(held, ids(again.validation()));
        assertNotEquals(held, ids(DataSplits.holdOut(d, 0.1, 8).validation()), "another seed, another split");
        assertEquals(1, DataSplits.holdOut(numbered(3), 0.01, 1).validation().numExamples(), "at least one held out");
        assertEquals(33, DataSplits.holdOut(numbered(66), 0.5, 1).validation().numExamples(), "round(N fraction)");
    }

    @Test
    void holdOutRefusesFractionsOutsideTheOpenUnitIntervalAndEmptyTrainingSets() {
        for (double f : new double[] {0, -0.1, 1, 1.5, Double.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DataSplits.holdOut(numbered(10), f, 1));
            assertTrue(e.getMessage().contains("fraction") && e.getMessage().contains("(0, 1)"), e.getMessage());
        }
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> DataSplits.holdOut(numbered(1), 0.3, 1));
        assertTrue(none.getMessage().contains("none to train on"), none.getMessage());
    }
}
