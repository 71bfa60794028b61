package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import io.qat4j.runtime.FixedPoint;
import io.qat4j.runtime.Int8Graph;
import io.qat4j.runtime.Int8Model;
import io.qat4j.runtime.ModelFile;
import io.qat4j.runtime.ModelInputException;
import io.qat4j.training.Int8Evaluation;

/** `qat4j run` refuses a model that does not fit the configuration's data instead of scoring it (issue 14, section 9). */
class RunCommandTest {

    @TempDir
    Path dir;

    /** Input {@code inputDims}, flattened to {@code [F]}, then a Dense layer to {@code outputs} (or a Requantize when outputs = F). */
    private static Int8Graph model(int outputs, int... inputDims) {
        int f = 1;
        for (int d : inputDims) {
            f *= d;
        }
        Int8Graph.Tensor in = new Int8Graph.Tensor(inputDims, 1.0 / 255, -128);
        Int8Graph.Tensor flat = new Int8Graph.Tensor(new int[] {f}, 1.0 / 255, -128);
        Int8Graph.Tensor out = new Int8Graph.Tensor(new int[] {outputs}, 0.1, 0);
        Int8Graph.Node last;
        if (outputs == f) {
            last = Int8Graph.Requantize.of(1, 2, flat, out, -128, 127);
        } else {
            FixedPoint.QuantizedMultiplier m = FixedPoint.quantizeMultiplier(0.001);
            int[] mult = new int[outputs];
            int[] shift = new int[outputs];
            java.util.Arrays.fill(mult, m.multiplier());
            java.util.Arrays.fill(shift, m.shift());
            last = new Int8Graph.Dense(1, 2, outputs, f, 8, new byte[outputs * f], new int[outputs],
                    new Int8Graph.Requant(mult, shift, -128, 127));
        }
        return new Int8Graph(List.of(in, flat, out), List.of(new Int8Graph.Flatten(0, 1), last), 0, 2);
    }

    private String[] runOn(Int8Graph g) throws IOException {
        Path file = dir.resolve("m.q4j");
        ModelFile.write(g, file);
        Path config = dir.resolve("run.yaml");
        Files.writeString(config, "name: run\ndata: {source: bundled, testLimit: 20}\ntrain: {epochs: 1, learningRate: 0.001}\n");
        return run("run", file.toString(), "--config", config.toString());
    }

    @Test
    void aModelFor1x14x56IsRefusedOn28x28Images() throws IOException {
        String[] ok = runOn(model(10, 1, 28, 28));
        assertEquals("0", ok[0], ok[1] + ok[2]);
        String[] r = runOn(model(10, 1, 14, 56));
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("SHAPE: the model takes samples of shape [1, 14, 56], the data's samples have shape [1, 28, 28]"), r[2]);
        assertTrue(r[1].isEmpty(), "no accuracy printed: " + r[1]);
    }

    @Test
    void aModelWith784OutputsIsRefusedOnTenClasses() throws IOException {
        String[] r = runOn(model(784, 1, 28, 28));
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("CLASSES: the model has 784 outputs per sample [784], the data has 10 classes"), r[2]);
        assertTrue(r[1].isEmpty(), "no accuracy printed: " + r[1]);
    }

    /** The library entry point the experiment runner and the CLI share. */
    @Test
    void checkFitsComparesShapesAndClasses() {
        DataSet images = new DataSet(Nd4j.zeros(3, 1, 28, 28), Nd4j.zeros(3, 10));
        assertEquals(3, Int8Evaluation.checkFits(new Int8Model(model(10, 1, 28, 28)), images));
        assertEquals(ModelInputException.Problem.SHAPE, assertThrows(ModelInputException.class,
                () -> Int8Evaluation.checkFits(new Int8Model(model(10, 784)), images)).problem());
        assertEquals(ModelInputException.Problem.CLASSES, assertThrows(ModelInputException.class,
                () -> Int8Evaluation.checkFits(new Int8Model(model(784, 1, 28, 28)), images)).problem());
    }
}
