package io.qat4j.training;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;

import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;

/**
 * Trains a float DL4J network either as is or through qat4j's layers with quantization switched off
 * ({@code nativeLayers}): same function and parameters, but convolutions run libnd4j's native
 * conv2d/conv2d_bp (oneDNN) instead of DL4J's ConvolutionLayer, about 3.7x faster per training step
 * of the reference CNN on 2 cores (bench: QatTrainingBenchmark, 346 vs 94 ms). The trained
 * parameters are copied back into the plain network ({@link QuantizedModel#unwrap}) whenever
 * {@code best.zip} is written, so it is the plain DL4J network at every moment, also when the run is
 * killed or diverges ({@code checkpoint.zip} keeps the wrapped form with its updater state, which
 * resuming needs). The returned network is the last epoch's, as {@link Trainer}'s.
 *
 * <p>{@code nativeLayers} applies to MultiLayerNetworks; a ComputationGraph trains DL4J's own layers
 * (qat4j's unwrap copies parameters back into MultiLayerNetworks only).
 */
public final class FloatTraining {

    private FloatTraining() {
    }

    /** Whether {@link #train} runs {@code net} through qat4j's layers for {@code nativeLayers}: MultiLayerNetworks only. */
    public static boolean usesNativeLayers(Model net, boolean nativeLayers) {
        return nativeLayers && Networks.kind(net) == Networks.Kind.MULTI_LAYER;
    }

    @SuppressWarnings("unchecked")
    public static <N extends Model> Trainer.Result<N> train(Trainer trainer, N net, DataSet train, DataSet validation, TrainSpec spec,
                                                            Path runDir, boolean resume, Consumer<Trainer.EpochMetrics> onEpoch,
                                                            Trainer.Progress progress, boolean nativeLayers) throws IOException {
        if (!usesNativeLayers(net, nativeLayers)) {
            return trainer.train(net, train, validation, spec, runDir, resume, onEpoch, progress);
        }
        MultiLayerNetwork plain = (MultiLayerNetwork) net;
        MultiLayerNetwork wrapped = QuantizedModel.wrap(plain, QuantizationPlan.uniform(QuantSettings.disabled())).network();
        Trainer.Result<MultiLayerNetwork> r = trainer.savingBestAs(w -> QuantizedModel.unwrap((MultiLayerNetwork) w, plain))
                .train(wrapped, train, validation, spec, runDir, resume, onEpoch, progress);
        // a run started by an earlier version wrote best.zip wrapped until its end: finish that conversion
        Path best = runDir.resolve("best.zip");
        if (java.nio.file.Files.isRegularFile(best)) {
            MultiLayerNetwork saved = org.deeplearning4j.util.ModelSerializer.restoreMultiLayerNetwork(best.toFile(), true);
            if (!QuantizedModel.quantizedLayers(saved).isEmpty()) {
                Trainer.atomicModel(QuantizedModel.unwrap(saved, plain), best);
            }
        }
        return new Trainer.Result<>((N) QuantizedModel.unwrap(r.network(), plain), r.epochs(), r.bestValidationAccuracy(), r.stoppedEarly());
    }
}
