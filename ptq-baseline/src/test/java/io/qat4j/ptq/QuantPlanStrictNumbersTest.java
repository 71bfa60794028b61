package io.qat4j.ptq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14 §9: {@code "weightBits": 8.9} was read as 8. A plan's integer, boolean and enum fields
 * take exactly their JSON type (no float, string or ordinal coercion); each wrong value is a
 * {@link QuantPlanFormatException} naming the file and the field.
 */
class QuantPlanStrictNumbersTest {

    @TempDir
    Path dir;

    private String error(String from, String to) throws Exception {
        String json = QuantPlanFuzzTest.plan(true).toJson();
        assertTrue(json.contains(from), "fixture: " + from);
        Path f = dir.resolve("bad.json");
        Files.writeString(f, json.replaceFirst(Pattern.quote(from), Matcher.quoteReplacement(to)));
        String m = assertThrows(QuantPlanFormatException.class, () -> QuantPlan.read(f)).getMessage();
        assertTrue(m.startsWith(f.toString()), m);
        return m;
    }

    @Test
    void fractionalWeightBitsAreAnErrorNamingTheField() throws Exception {
        String m = error("\"weightBits\" : 8", "\"weightBits\" : 8.9");
        assertTrue(m.contains("8.9") && m.contains("layers[0].weightBits"), m);
        m = error("\"weightBits\" : 8", "\"weightBits\" : 8.0");
        assertTrue(m.contains("layers[0].weightBits"), m);
    }

    @Test
    void everyIntegerFieldRejectsFractionsAndStrings() throws Exception {
        assertTrue(error("\"version\" : 1", "\"version\" : 1.5").contains("version"));
        assertTrue(error("\"samples\" : 512", "\"samples\" : 512.5").contains("calibration.samples"));
        assertTrue(error("\"weights\" : 36", "\"weights\" : 36.7").contains("layers[0].weights"));
        assertTrue(error("\"inputBits\" : 8", "\"inputBits\" : \"8\"").contains("layers[0].inputBits"));
        assertTrue(error("\"inputZeroPoint\" : ", "\"inputZeroPoint\" : 0.25, \"x\" : ").contains("inputZeroPoint"));
        assertTrue(error("\"perChannelBits\" : 4", "\"perChannelBits\" : 4.5").contains("perChannelBits"));
        assertTrue(error("\"budgetBits\" : 2760", "\"budgetBits\" : 2760.5").contains("allocation.budgetBits"));
        assertTrue(error("\"2\" : 0.5", "\"2.5\" : 0.5").contains("sensitivity"));
    }

    @Test
    void booleansAndEnumsTakeOnlyTheirOwnJsonType() throws Exception {
        assertTrue(error("\"perChannel\" : true", "\"perChannel\" : 1").contains("layers[0].perChannel"));
        assertTrue(error("\"kind\" : \"CONV\"", "\"kind\" : 0").contains("layers[0].kind"));
        assertTrue(error("\"weightQuantizer\" : \"UNIFORM\"", "\"weightQuantizer\" : 0").contains("layers[0].weightQuantizer"));
    }

    @Test
    void allocationAndSensitivityFiguresAreValidated() throws Exception {
        assertTrue(error("\"budgetBits\" : 2760", "\"budgetBits\" : -1").contains("allocation.budgetBits"));
        assertTrue(error("\"averageBits\" : 3.0", "\"averageBits\" : 0.0").contains("allocation.averageBits"));
        assertTrue(error("\"perChannelBits\" : 4", "\"perChannelBits\" : 99").contains("perChannelBits"));
        assertTrue(error("\"2\" : 0.5", "\"99\" : 0.5").contains("99"));
        assertTrue(error("\"2\" : 0.5", "\"2\" : null").contains("sensitivity"));
    }

    @Test
    void planWrittenByTheApiStillRoundTrips() throws Exception {
        QuantPlan.Sensitivity nan = new QuantPlan.Sensitivity("mse", Map.of(4, Double.NaN), Map.of(), 0, null);
        QuantPlan plan = QuantPlanFuzzTest.plan(true);
        plan = plan.with(List.of(plan.layers().get(0).withSensitivity(nan), plan.layers().get(1)), plan.allocation());
        Path f = dir.resolve("plan.json");
        plan.write(f);
        QuantPlan back = QuantPlan.read(f);
        assertEquals(plan.layers(), back.layers());
        assertTrue(back.layers().get(0).sensitivity().weights().get(4).isNaN());
        assertEquals(plan.allocation(), back.allocation());
    }
}
