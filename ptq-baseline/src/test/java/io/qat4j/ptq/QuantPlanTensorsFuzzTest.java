package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.fuzz.FuzzReport;
import io.qat4j.fuzz.Fuzzer;

/**
 * Fuzz target for {@link QuantPlan#read} on plans that carry tensor ranges ({@link QuantPlan#tensors()},
 * issue 16): token-aware mutants of {@link QuantPlanFuzzTest}'s plan with ranges for a network input,
 * an unsigned, a signed and an Add tensor. Only a {@link QuantPlanFormatException} naming the file may escape.
 */
class QuantPlanTensorsFuzzTest {

    @TempDir
    Path dir;

    static QuantPlan plan() {
        QuantPlan p = QuantPlanFuzzTest.plan(true);
        Map<String, QuantPlan.TensorRange> tensors = new LinkedHashMap<>();
        tensors.put("input", QuantPlan.TensorRange.of(8, false, 0, 1));
        tensors.put("relu0", QuantPlan.TensorRange.of(8, false, 0, 6.5));
        tensors.put("bn2", QuantPlan.TensorRange.of(4, true, -2.5, 3.25));
        tensors.put("add", QuantPlan.TensorRange.of(8, true, -1, 7));
        return new QuantPlan(p.format(), p.version(), p.calibration(), p.passes(), p.layers(), p.allocation(), tensors);
    }

    @Test
    @Timeout(60)
    void onlyQuantPlanFormatExceptionNamingTheFileEscapesRead() throws Exception {
        Path file = dir.resolve("plan.json");
        List<String> tokens = new ArrayList<>(QuantPlanFuzzTest.TOKENS);
        tokens.addAll(List.of("\"tensors\"", "\"bits\"", "\"signed\"", "\"min\"", "\"max\"", "\"scale\"", "\"zeroPoint\"", "\"input\"",
                "\"add\""));
        FuzzReport report = Fuzzer.target("quant-plan-tensors")
                .seeds(List.of(plan().toJson().getBytes(StandardCharsets.UTF_8)))
                .text(tokens)
                .allow(QuantPlanFormatException.class)
                .maxInputBytes(1 << 14)
                .maxAllocatedBytes(64L << 20)
                .iterations(Fuzzer.iterations(3_000))
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
        QuantPlan back = QuantPlan.read(writeSeed(file));
        assertEquals(plan().tensors(), back.tensors());
    }

    private static Path writeSeed(Path file) throws Exception {
        Files.writeString(file, plan().toJson());
        return file;
    }
}
