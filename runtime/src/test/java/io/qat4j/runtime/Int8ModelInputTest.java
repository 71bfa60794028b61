package io.qat4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Data that does not fit the model is refused by name, never turned into predictions (issue 14, sections 3 and 9). */
class Int8ModelInputTest {

    private static ModelInputException refused(ModelInputException.Problem problem, Runnable r) {
        ModelInputException e = assertThrows(ModelInputException.class, r::run);
        assertEquals(problem, e.problem(), e.getMessage());
        return e;
    }

    /** Issue 14 section 9: a [1, 14, 56] model ran on 28 x 28 images because only 784 = 784 was compared. */
    @Test
    void aModelFor1x14x56RefusesImagesOf28x28() {
        Int8Model m = new Int8Model(RandomGraphs.cnn(1, 1, 14, 56, 10, 4));
        float[] x = RandomGraphs.images(2, 3, 784);
        String msg = refused(ModelInputException.Problem.SHAPE, () -> m.predict(x, new long[] {3, 1, 28, 28})).getMessage();
        assertTrue(msg.contains("the model takes samples of shape [1, 14, 56], the data's samples have shape [1, 28, 28]"), msg);
        assertArrayEquals(m.predict(x, 3), m.predict(x, new long[] {3, 1, 14, 56}));
        assertArrayEquals(m.run(x, 3), m.run(x, new long[] {3, 1, 14, 56}));
    }

    /** Flat vectors for an image model, or a shape without its sample dimension, are refused as well. */
    @Test
    void flatDataOrAMissingSampleDimensionIsRefused() {
        Int8Model m = new Int8Model(RandomGraphs.cnn(1, 1, 28, 28, 10, 4));
        String msg = refused(ModelInputException.Problem.SHAPE, () -> m.checkInput(new long[] {5, 784})).getMessage();
        assertTrue(msg.contains("[1, 28, 28]") && msg.contains("[784]"), msg);
        refused(ModelInputException.Problem.SHAPE, () -> m.checkInput(new long[] {1, 28, 28}));
        assertEquals(5, m.checkInput(new long[] {5, 1, 28, 28}));
    }

    /** Issue 14 section 9: a model with 784 outputs was scored against 10 classes ("accuracy 0.0000"). */
    @Test
    void aModelWith784OutputsRefusesTenClasses() {
        Int8Model m = new Int8Model(RandomGraphs.cnn(3, 1, 8, 8, 784, 4));
        String msg = refused(ModelInputException.Problem.CLASSES, () -> m.checkClasses(10)).getMessage();
        assertTrue(msg.contains("the model has 784 outputs per sample [784], the data has 10 classes"), msg);
        m.checkClasses(784);
    }

    /** Issue 14 section 3: NaN became code 0 (rint(NaN) cast to byte) and a class was predicted. */
    @Test
    void nonFiniteInputsAreRefusedNamingSampleAndElement() {
        Int8Model m = new Int8Model(RandomGraphs.cnn(4, 1, 28, 28, 10, 4));
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            float[] x = RandomGraphs.images(5, 2, 784);
            x[784 + 5] = bad;
            String msg = refused(ModelInputException.Problem.NON_FINITE, () -> m.predict(x, 2)).getMessage();
            assertTrue(msg.contains("input sample 1, element 5 (of 784 per sample, shape [1, 28, 28]) is " + bad), msg);
            refused(ModelInputException.Problem.NON_FINITE, () -> m.run(x, new long[] {2, 1, 28, 28}));
        }
        // large finite values still saturate to the int8 range
        float[] big = new float[784];
        big[0] = Float.MAX_VALUE;
        big[1] = -Float.MAX_VALUE;
        byte[] q = m.quantizeInput(big, 1);
        assertEquals(127, q[0]);
        assertEquals(-128, q[1]);
    }
}
