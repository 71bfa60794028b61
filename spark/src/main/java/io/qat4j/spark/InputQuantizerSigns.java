package io.qat4j.spark;

import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.conf.QuantizedLayerConf;
import io.qat4j.layers.conf.QuantizedSeparableConvolutionLayer;
import io.qat4j.layers.impl.InputQuantization;
import io.qat4j.layers.params.QuantizerParams;
import io.qat4j.training.Networks;

/**
 * The input quantizers of a network in a fixed order (layer order; a separable convolution's mid
 * quantizer after its input quantizer), with the one piece of their state that is not a parameter:
 * signedness. A quantizer whose settings take signedness from the data turns signed in training when
 * a batch holds a negative value ({@code InputQuantization}); that flag lives in the layer
 * configuration, which parameter averaging does not carry back to the driver. {@link #resynchronise}
 * applies the workers' flips to the driver's network after a round.
 *
 * <p>The same order on every worker: it depends on the configuration only, which the driver broadcasts.
 */
final class InputQuantizerSigns {

    /** One input quantizer: its layer, its parameter-key prefix ("" or the separable convolution's "mid"). */
    private record Quantizer(String layer, String prefix) {
        String stepKey() {
            return prefix + QuantizerParams.INPUT_STEP_KEY;
        }
    }

    private final List<Quantizer> quantizers;

    private InputQuantizerSigns(List<Quantizer> quantizers) {
        this.quantizers = quantizers;
    }

    /** The input quantizers of {@code net} (either network kind); none for a network without qat4j layers. */
    static InputQuantizerSigns of(Model net) {
        List<Quantizer> q = new ArrayList<>();
        for (Layer l : Networks.layers(net)) {
            if (l.conf().getLayer() instanceof QuantizedLayerConf c && c.getQuant().getInputMode() != InputQuantMode.NONE) {
                String name = l.conf().getLayer().getLayerName();
                q.add(new Quantizer(name, ""));
                if (c instanceof QuantizedSeparableConvolutionLayer) {
                    q.add(new Quantizer(name, QuantizerParams.MID_PREFIX));
                }
            }
        }
        return new InputQuantizerSigns(List.copyOf(q));
    }

    int size() {
        return quantizers.size();
    }

    /** "layer" or "layer (mid)", for messages and tests. */
    String name(int i) {
        Quantizer q = quantizers.get(i);
        return q.prefix().isEmpty() ? q.layer() : q.layer() + " (" + q.prefix() + ")";
    }

    /** Whether each quantizer of {@code net} is signed now. */
    boolean[] signed(Model net) {
        boolean[] s = new boolean[quantizers.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = isSigned(net, quantizers.get(i));
        }
        return s;
    }

    /** Each quantizer's learned step ({@code Xs}, LSQ and LSQ+), NaN for the other modes. */
    double[] steps(Model net) {
        double[] s = new double[quantizers.size()];
        for (int i = 0; i < s.length; i++) {
            INDArray step = hasStep(net, quantizers.get(i)) ? layer(net, quantizers.get(i).layer()).getParam(quantizers.get(i).stepKey()) : null;
            s[i] = step == null ? Double.NaN : step.getDouble(0);
        }
        return s;
    }

    /**
     * After an averaging round: every quantizer signed on some worker at its last step becomes signed on the
     * driver. Its averaged LSQ/LSQ+ step is then recomputed as the mean over the workers of each worker's step
     * in signed terms: a worker that flipped scaled its own step by
     * {@link InputQuantization#unsignedToSignedStepFactor} (keeping the largest representable value), the others
     * still hold unsigned steps, which get the same factor. So the driver continues as a single JVM would have
     * after the flip.
     *
     * @param driver    the driver's network, its parameters already averaged
     * @param lastSteps each worker's report of its last minibatch in the round
     * @return the names of the quantizers the driver turned signed (empty when nothing flipped)
     */
    List<String> resynchronise(Model driver, List<WorkerStep> lastSteps) {
        List<String> flipped = new ArrayList<>();
        if (lastSteps.isEmpty()) {
            return flipped;
        }
        for (int i = 0; i < quantizers.size(); i++) {
            Quantizer q = quantizers.get(i);
            if (isSigned(driver, q)) {
                continue;
            }
            boolean any = false;
            for (WorkerStep w : lastSteps) {
                any |= w.signed()[i];
            }
            if (!any) {
                continue;
            }
            setSigned(driver, q);
            flipped.add(name(i));
            if (hasStep(driver, q)) {
                double factor = InputQuantization.unsignedToSignedStepFactor(settings(driver, q.layer()).getInputBits());
                double sum = 0;
                for (WorkerStep w : lastSteps) {
                    sum += w.signed()[i] ? w.steps()[i] : w.steps()[i] * factor;
                }
                layer(driver, q.layer()).getParam(q.stepKey()).putScalar(0, sum / lastSteps.size());
            }
        }
        return flipped;
    }

    private static boolean hasStep(Model net, Quantizer q) {
        InputQuantMode mode = settings(net, q.layer()).getInputMode();
        return switch (mode) {
            case LSQ, LSQ_PLUS -> true;
            case NONE, FIXED, PACT -> false;
        };
    }

    private static boolean isSigned(Model net, Quantizer q) {
        QuantizedLayerConf c = conf(net, q.layer());
        return q.prefix().isEmpty() ? c.getQuant().isInputSigned() : ((QuantizedSeparableConvolutionLayer) c).isMidInputSigned();
    }

    private static void setSigned(Model net, Quantizer q) {
        QuantizedLayerConf c = conf(net, q.layer());
        if (q.prefix().isEmpty()) {
            c.getQuant().setInputSigned(true);
        } else {
            ((QuantizedSeparableConvolutionLayer) c).setMidInputSigned(true);
        }
    }

    private static QuantSettings settings(Model net, String layer) {
        return conf(net, layer).getQuant();
    }

    private static QuantizedLayerConf conf(Model net, String layer) {
        return (QuantizedLayerConf) layer(net, layer).conf().getLayer();
    }

    private static Layer layer(Model net, String name) {
        for (Layer l : Networks.layers(net)) {
            if (name.equals(l.conf().getLayer().getLayerName())) {
                return l;
            }
        }
        throw new IllegalStateException("no layer '" + name + "' in the network: the driver's and the workers' configurations differ");
    }
}
