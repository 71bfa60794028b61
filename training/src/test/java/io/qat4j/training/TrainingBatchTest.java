package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.distill.DistillationLoss;
import io.qat4j.layers.ReferenceCnn;

/**
 * What the trainer fits on ({@code Trainer.trainingBatch}): augmented training images, smoothed hard
 * labels, and with distillation the teacher's logits packed unchanged after the smoothed labels; and
 * that a run with these options stays seeded and resumable.
 */
class TrainingBatchTest {

    @TempDir
    Path dir;

    private static final int CLASSES = 3;

    /** 8x8 one-channel images: class c has a bright square in the c-th third, plus noise. */
    static DataSet squares(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * 64];
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(CLASSES);
            y[i * CLASSES + c] = 1;
            for (int p = 0; p < 64; p++) {
                int col = p % 8;
                x[i * 64 + p] = (float) (0.1 * r.nextDouble() + (col >= 3 * c && col < 3 * c + 2 ? 0.8 : 0));
            }
        }
        return new DataSet(Nd4j.create(x, new long[] {n, 1, 8, 8}, 'c'), Nd4j.create(y, new long[] {n, CLASSES}, 'c'));
    }

    private static MultiLayerNetwork cnn() {
        return ReferenceCnn.build(4, new Adam(5e-3), 0, 1, 8, 8, CLASSES, new ReferenceCnn.Options(java.util.List.of(4, 6), 12, 0));
    }

    private static TrainSpec spec(int epochs, Augmentation a, double smoothing) {
        return new TrainSpec(epochs, 16, 5e-3, TrainSpec.Schedule.COSINE, 1, 1, 0, 21, -1, -1).withRegularization(a, smoothing);
    }

    @Test
    void labelSmoothingIsTheFormulaOnEveryEntry() {
        INDArray y = Nd4j.create(new float[][] {{0, 1, 0}, {1, 0, 0}, {0.5f, 0, 0.5f}});
        INDArray s = Trainer.smoothLabels(y, 0.1);
        float[][] expected = {{0.1f / 3, 0.9f + 0.1f / 3, 0.1f / 3}, {0.9f + 0.1f / 3, 0.1f / 3, 0.1f / 3},
            {0.45f + 0.1f / 3, 0.1f / 3, 0.45f + 0.1f / 3}};
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(expected[i], s.getRow(i).toFloatVector(), 1e-7f, "row " + i);
            assertEquals(1.0, s.getRow(i).sumNumber().doubleValue(), 1e-6, "a row still sums to 1");
        }
        assertEquals(y, Trainer.smoothLabels(y, 0), "e = 0 changes nothing");
        assertEquals(DataType.FLOAT, s.dataType());
        assertThrows(IllegalArgumentException.class, () -> Trainer.smoothLabels(y, 1.0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TrainSpec(1, 8, 1e-3, TrainSpec.Schedule.CONSTANT, 1, 1, 0, 1, -1, -1).withRegularization(Augmentation.NONE, -0.1));
        assertTrue(e.getMessage().contains("labelSmoothing") && e.getMessage().contains("-0.1"), e.getMessage());
    }

    @Test
    void withDistillationOnlyTheHardLabelsAreSmoothedAndTheTeacherSeesTheAugmentedImages() {
        DataSet batch = squares(10, 1);
        MultiLayerNetwork teacher = cnn();
        Trainer kd = new Trainer(new Trainer.Distillation(teacher, 0.5, 4.0));
        Augmentation shiftFlip = new Augmentation(2, true);
        DataSet packed = kd.trainingBatch(batch, spec(1, shiftFlip, 0.2), Augmentation.epochRandom(21, 0));
        assertArrayEquals(new long[] {10, 2 * CLASSES}, packed.getLabels().shape());
        INDArray hard = packed.getLabels().get(NDArrayIndex.all(), NDArrayIndex.interval(0, CLASSES));
        INDArray teacherPart = packed.getLabels().get(NDArrayIndex.all(), NDArrayIndex.interval(CLASSES, 2 * CLASSES));
        assertEquals(Trainer.smoothLabels(batch.getLabels(), 0.2), hard, "the hard labels are smoothed");
        // the teacher's part: log of its softmax output on the very images the student is fitted on (augmented), not smoothed
        INDArray augmented = shiftFlip.apply(batch.getFeatures(), Augmentation.epochRandom(21, 0));
        assertEquals(augmented, packed.getFeatures());
        assertNotEquals(batch.getFeatures(), packed.getFeatures());
        INDArray p = teacher.output(augmented, false);
        INDArray expectedLogits = org.nd4j.linalg.ops.transforms.Transforms.log(
                org.nd4j.linalg.ops.transforms.Transforms.max(p, 1e-12, true), false);
        assertEquals(expectedLogits, teacherPart);
        // the same batch without smoothing packs the one-hot labels and exactly the same teacher logits
        DataSet plain = kd.trainingBatch(batch, spec(1, shiftFlip, 0), Augmentation.epochRandom(21, 0));
        assertEquals(batch.getLabels(), plain.getLabels().get(NDArrayIndex.all(), NDArrayIndex.interval(0, CLASSES)));
        assertEquals(teacherPart, plain.getLabels().get(NDArrayIndex.all(), NDArrayIndex.interval(CLASSES, 2 * CLASSES)));
        assertEquals(DistillationLoss.packLabels(Trainer.smoothLabels(batch.getLabels(), 0.2), expectedLogits), packed.getLabels());
    }

    @Test
    void withoutOptionsTheBatchIsFittedAsIs() {
        DataSet batch = squares(6, 2);
        assertSame(batch, new Trainer().trainingBatch(batch, spec(1, Augmentation.NONE, 0), new Random(1)));
        DataSet smoothed = new Trainer().trainingBatch(batch, spec(1, Augmentation.NONE, 0.1), new Random(1));
        assertSame(batch.getFeatures(), smoothed.getFeatures(), "no augmentation: the images are not copied");
    }

    @Test
    void augmentedAndSmoothedRunsAreSeededResumableAndLeaveValidationDataAlone() throws IOException {
        DataSet train = squares(96, 3);
        DataSet val = squares(48, 4);
        INDArray valBefore = val.getFeatures().dup();
        TrainSpec s = spec(3, new Augmentation(1, true), 0.1);
        Trainer.Result<MultiLayerNetwork> a = new Trainer().train(cnn(), train, val, s, dir.resolve("a"), false);
        Trainer.Result<MultiLayerNetwork> b = new Trainer().train(cnn(), train, val, s, dir.resolve("b"), false);
        assertEquals(a.network().params(), b.network().params(), "same seed, same batches, same network");
        assertEquals(valBefore, val.getFeatures(), "validation images are never augmented");
        assertEquals(a.epochs().get(2).validationAccuracy(), Trainer.accuracy(a.network(), val), "validation on the plain images");
        MultiLayerNetwork plain = new Trainer().train(cnn(), train, val, spec(3, Augmentation.NONE, 0), dir.resolve("plain"), false).network();
        assertNotEquals(plain.params(), a.network().params(), "the options change training");
        MultiLayerNetwork shiftedOnly = new Trainer().train(cnn(), train, val, spec(3, new Augmentation(1, true), 0), dir.resolve("aug"), false)
                .network();
        assertNotEquals(shiftedOnly.params(), a.network().params(), "smoothing changes training");
        // killed after the first epoch and resumed: each epoch's draws come from the seed and the epoch, so bit-identical
        new Trainer(1).train(cnn(), train, val, s, dir.resolve("killed"), false);
        Trainer.Result<MultiLayerNetwork> resumed = new Trainer().train(cnn(), train, val, s, dir.resolve("killed"), true);
        assertEquals(2, resumed.epochs().size());
        assertEquals(a.network().params(), resumed.network().params());
    }

    @Test
    void aNetworkWithDropoutResumesBitIdentically() throws IOException {
        DataSet train = squares(96, 5);
        DataSet val = squares(32, 6);
        ReferenceCnn.Options dropout = new ReferenceCnn.Options(java.util.List.of(4, 6), 12, 0.4);
        TrainSpec s = spec(3, new Augmentation(1, true), 0);
        assertTrue(Trainer.hasDropout(ReferenceCnn.build(4, new Adam(5e-3), 0, 1, 8, 8, CLASSES, dropout)));
        assertTrue(!Trainer.hasDropout(cnn()));
        Nd4j.getRandom().setSeed(100);   // whatever the generator's state before, each epoch's masks come from the seed
        MultiLayerNetwork straight = new Trainer().train(ReferenceCnn.build(4, new Adam(5e-3), 0, 1, 8, 8, CLASSES, dropout), train, val, s,
                dir.resolve("straight"), false).network();
        Nd4j.getRandom().setSeed(200);
        new Trainer(2).train(ReferenceCnn.build(4, new Adam(5e-3), 0, 1, 8, 8, CLASSES, dropout), train, val, s, dir.resolve("killed"), false);
        Nd4j.getRandom().setSeed(300);
        Trainer.Result<MultiLayerNetwork> resumed = new Trainer().train(ReferenceCnn.build(4, new Adam(5e-3), 0, 1, 8, 8, CLASSES, dropout),
                train, val, s, dir.resolve("killed"), true);
        assertEquals(1, resumed.epochs().size());
        assertEquals(straight.params(), resumed.network().params());
        // and the masks matter: the same run without dropout ends elsewhere
        MultiLayerNetwork noDropout = new Trainer().train(ReferenceCnn.build(4, new Adam(5e-3), 0, 1, 8, 8, CLASSES,
                new ReferenceCnn.Options(java.util.List.of(4, 6), 12, 0)), train, val, s, dir.resolve("none"), false).network();
        assertNotEquals(noDropout.params(), straight.params());
    }
}

