package io.qat4j.spark;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.spark.TaskContext;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.spark.api.TrainingHook;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;

import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.training.Networks;

/**
 * Test hook: inside every worker, the quantizer and batch-norm state the worker starts its round
 * from (before its first minibatch) and holds after each minibatch, with the whole parameter vector.
 */
final class StateRecordingHook implements TrainingHook {

    private static final long serialVersionUID = 1L;

    /** One worker's state: "layer/key" to values (quantizer parameters, BN running mean and variance), signedness per layer. */
    record Snapshot(int partition, boolean start, int iteration, Map<String, float[]> state, Map<String, Boolean> signed, float[] params)
            implements Serializable {
    }

    private final CollectionAccumulator<Snapshot> snapshots;
    private boolean started;

    StateRecordingHook(CollectionAccumulator<Snapshot> snapshots) {
        this.snapshots = snapshots;
    }

    /** The quantizer parameters and BN running statistics of every layer, by "layer/key". */
    static Map<String, float[]> state(Model net) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (Layer l : Networks.layers(net)) {
            for (Map.Entry<String, INDArray> e : l.paramTable().entrySet()) {
                String k = e.getKey();
                if (QuantizerParams.isQuantizerParam(k) || k.equals(BatchNormalizationParamInitializer.GLOBAL_MEAN)
                        || k.equals(BatchNormalizationParamInitializer.GLOBAL_VAR) || k.equals(BatchNormalizationParamInitializer.GLOBAL_LOG_STD)) {
                    m.put(l.conf().getLayer().getLayerName() + "/" + k, e.getValue().toFloatVector());
                }
            }
        }
        return m;
    }

    /** Each quantized layer's input signedness. */
    static Map<String, Boolean> signed(Model net) {
        Map<String, Boolean> m = new LinkedHashMap<>();
        for (Layer l : Networks.layers(net)) {
            if (l.conf().getLayer() instanceof QuantizedLayerConf q) {
                m.put(l.conf().getLayer().getLayerName(), q.getQuant().isInputSigned());
            } else if (l.conf().getLayer() instanceof BatchNormalization) {
                m.put(l.conf().getLayer().getLayerName(), false);
            }
        }
        return m;
    }

    private void record(Model model, boolean start) {
        int iteration = ((MultiLayerNetwork) model).getIterationCount();
        snapshots.add(new Snapshot(TaskContext.get().partitionId(), start, iteration, state(model), signed(model),
                model.params().toFloatVector()));
    }

    @Override
    public void preUpdate(DataSet minibatch, Model model) {
        if (!started) {
            started = true;
            record(model, true);
        }
    }

    @Override
    public void postUpdate(DataSet minibatch, Model model) {
        record(model, false);
    }

    @Override
    public void preUpdate(MultiDataSet minibatch, Model model) {
        throw new UnsupportedOperationException("this test trains MultiLayerNetworks");
    }

    @Override
    public void postUpdate(MultiDataSet minibatch, Model model) {
        throw new UnsupportedOperationException("this test trains MultiLayerNetworks");
    }
}
