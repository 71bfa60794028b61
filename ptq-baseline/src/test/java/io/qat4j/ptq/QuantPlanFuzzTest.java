package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.fuzz.FuzzReport;
import io.qat4j.fuzz.Fuzzer;

/**
 * Fuzz target for {@link QuantPlan#read}: token-aware mutants of plans written through the API
 * (uniform per-channel and per-tensor, binary, ternary, keep-float, with sensitivity figures and an
 * allocation). Only a {@link QuantPlanFormatException} naming the file may escape.
 */
class QuantPlanFuzzTest {

    @TempDir
    Path dir;

    static QuantPlan plan(boolean withAllocation) {
        QuantPlan.Sensitivity s = new QuantPlan.Sensitivity("kl", Map.of(2, 0.5, 4, 0.05, 8, 0.001), Map.of(8, 0.002), 4,
                new double[] {0.1, 0.2, 0.3, 0.4});
        List<QuantPlan.LayerPlan> layers = List.of(
                QuantPlan.LayerPlan.of("conv1", WeightedLayer.Kind.CONV, 36, QuantPlan.WeightQuantizer.UNIFORM, 8, true,
                        new double[] {0.01, 0.02, 0.015, 0.03}, 8, false, 0, 1, false, s),
                QuantPlan.LayerPlan.of("conv2", WeightedLayer.Kind.CONV, 144, QuantPlan.WeightQuantizer.TERNARY, 2, true, null, 4, true,
                        -1.5, 2.25, false, null),
                QuantPlan.LayerPlan.of("fc1", WeightedLayer.Kind.DENSE, 640, QuantPlan.WeightQuantizer.BINARY, 1, false, null, 8, false,
                        0, 6, true, null),
                QuantPlan.LayerPlan.of("out", WeightedLayer.Kind.DENSE, 100, QuantPlan.WeightQuantizer.UNIFORM, 3, false,
                        new double[] {0.125}, 8, true, -3, 3, false, s));
        return new QuantPlan(QuantPlan.FORMAT, QuantPlan.VERSION, new QuantPlan.CalibrationInfo("percentile-99.99", 512, "mse"),
                List.of("bn-fold", "cle", "bias-correction"), layers,
                withAllocation ? new QuantPlan.AllocationInfo("exact", 3.0, 2760, 2700, 0.75) : null);
    }

    static final List<String> TOKENS = List.of("\"format\"", "\"version\"", "\"calibration\"", "\"layers\"", "\"passes\"",
            "\"allocation\"", "\"name\"", "\"kind\"", "\"weights\"", "\"weightQuantizer\"", "\"weightBits\"", "\"perChannel\"",
            "\"weightScales\"", "\"inputBits\"", "\"inputSigned\"", "\"inputMin\"", "\"inputMax\"", "\"inputScale\"",
            "\"inputZeroPoint\"", "\"keepFloat\"", "\"sensitivity\"", "\"CONV\"", "\"DENSE\"", "\"UNIFORM\"", "\"BINARY\"",
            "\"TERNARY\"", "true", "false", "null", "[]", "{}", "\"\"", "\"8\"", "0", "1", "8", "8.9", "-1", "1e400", "\"NaN\"",
            "\"qat4j-quant-plan\"", "\\u0000", "/*", "//", "[[[[[[[[", "{\"a\":");

    @Test
    @Timeout(120)
    void onlyQuantPlanFormatExceptionNamingTheFileEscapesRead() throws Exception {
        Path file = dir.resolve("plan.json");
        FuzzReport report = Fuzzer.target("quant-plan")
                .seeds(List.of(plan(true).toJson().getBytes(StandardCharsets.UTF_8), plan(false).toJson().getBytes(StandardCharsets.UTF_8)))
                .text(TOKENS)
                .allow(QuantPlanFormatException.class)
                .maxInputBytes(1 << 14)
                .maxAllocatedBytes(64L << 20)
                .iterations(Fuzzer.iterations(30_000))
                .run(input -> {
                    Files.write(file, input);
                    try {
                        QuantPlan.read(file);
                    } catch (QuantPlanFormatException e) {
                        if (!e.getMessage().startsWith(file.toString())) {
                            throw new AssertionError("the message does not start with the file: " + e.getMessage(), e);
                        }
                        throw e;
                    }
                });
        System.out.println(report.summary());
        assertEquals(0, report.findingCount(), report::describeFindings);
    }
}
