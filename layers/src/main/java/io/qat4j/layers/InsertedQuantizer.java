package io.qat4j.layers;

import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * An {@link io.qat4j.layers.conf.ActivationQuantizerLayer} that {@link QuantizedModel#wrap} placed.
 *
 * @param name               its layer (vertex) name: {@code <tensor>_aq}, or {@code <tensor>_aq2}, {@code _aq3} ... when
 *                           that name is taken; stored in the network's configuration, so it survives save and load
 * @param tensor             the vertex whose output it quantizes (its input), or the network input's name
 *                           ({@code "input"} for a MultiLayerNetwork, which does not name it)
 * @param rules              every reason it was placed, in {@link PlacementRule} order
 * @param readers            the vertices that read its output (in a MultiLayerNetwork: the next layer), in
 *                           graph order; the network output is not listed
 * @param requantizedBy      weighted layers that read its codes and quantize them again with their own input
 *                           quantizer ({@link PlacementRule#SHARED_TENSOR}), in graph order: they keep it so that
 *                           their bias is fake-quantized on the {@code s_x s_w} grid the integer model stores it
 *                           on (a layer with its input quantizer off would train with a float bias, which at 4
 *                           bits moved 5% of the argmax decisions of a ResNet graph); the integer model
 *                           requantizes the shared codes for them
 */
public record InsertedQuantizer(String name, String tensor, Set<PlacementRule> rules, List<String> readers,
                                List<String> requantizedBy) {

    public InsertedQuantizer {
        if (rules.isEmpty()) {
            throw new IllegalArgumentException("inserted quantizer '" + name + "': a placement needs at least one rule");
        }
        rules = Collections.unmodifiableSet(EnumSet.copyOf(rules));
        readers = List.copyOf(readers);
        requantizedBy = List.copyOf(requantizedBy);
    }
}
