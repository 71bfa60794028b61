package io.qat4j.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.stream.Collectors;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.zoo.model.SimpleCNN;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/** The zoo architectures qat4j train offers, built at small inputs without downloading anything. */
class ZooArchitectureTest {

    @Test
    void idsConstantListsEveryArchitecture() {
        assertEquals(Arrays.stream(ZooArchitecture.values()).map(ZooArchitecture::id).collect(Collectors.joining(", ")), ZooArchitecture.IDS);
        assertEquals(ZooArchitecture.RESNET50, ZooArchitecture.of("ResNet50"));
        assertNull(ZooArchitecture.of("nasnet"));
    }

    @Test
    void everyZooArchitectureIsAConfigurationChoiceOfTheSameName() {
        assertNull(Architecture.REFERENCE_CNN.zoo());
        assertEquals("reference-cnn", Architecture.REFERENCE_CNN.id());
        java.util.List<ZooArchitecture> mapped = Arrays.stream(Architecture.values()).map(Architecture::zoo)
                .filter(java.util.Objects::nonNull).toList();
        assertEquals(Arrays.asList(ZooArchitecture.values()), mapped, "one choice per zoo architecture, in its order");
        for (Architecture a : Architecture.values()) {
            if (a.zoo() != null) {
                assertEquals(a.zoo().id(), a.id());
            }
        }
    }

    @Test
    void simpleCnnGetsALossLayerWithTheSameOutputs() {
        Model net = ZooArchitecture.SIMPLECNN.build(new int[] {1, 16, 16}, 4, 3, new Adam(1e-3));
        MultiLayerNetwork asBuilt = (MultiLayerNetwork) SimpleCNN.builder().inputShape(new int[] {1, 16, 16}).numClasses(4).seed(3).build().init();
        assertTrue(!(asBuilt.getOutputLayer() instanceof IOutputLayer), "DL4J's SimpleCNN ends without a loss");
        assertTrue(Networks.outputLayer(net) instanceof IOutputLayer);
        INDArray x = Nd4j.rand(DataType.FLOAT, 3, 1, 16, 16);
        assertEquals(asBuilt.params(), net.params());
        assertTrue(asBuilt.output(x).equalsWithEps(Networks.output(net, x), 1e-6));
    }

    @Test
    void kindsAndInputsAsDl4jBuildsThem() {
        Model lenet = ZooArchitecture.LENET.build(new int[] {1, 28, 28}, 3, 1, new Adam(1e-3));
        assertEquals(Networks.Kind.MULTI_LAYER, Networks.kind(lenet));
        assertEquals(ModelInput.Kind.FLAT_IMAGE, ModelInput.of(lenet).kind());
        Model squeeze = ZooArchitecture.SQUEEZENET.build(new int[] {3, 32, 32}, 5, 1, new Adam(1e-3));
        assertEquals(Networks.Kind.GRAPH, Networks.kind(squeeze));
        assertEquals(5, Networks.output(squeeze, Nd4j.rand(DataType.FLOAT, 2, 3, 32, 32)).size(1));
        Networks.checkTrainable(squeeze, "squeezenet");
    }
}
