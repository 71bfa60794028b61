package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SelfCheckCommandTest {

    @Test
    void selfcheckPassesAndReportsEveryBitWidth() {
        String[] r = run("selfcheck", "--samples", "20000");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("PASS"), r[1]);
        for (int bits = 2; bits <= 8; bits++) {
            assertTrue(r[1].matches("(?s).*\\n\\s+" + bits + "\\s+\\d+\\.\\d+.*"), "row for " + bits + " bits:\n" + r[1]);
        }
        assertTrue(r[1].contains("git.revision"), r[1]);
        assertTrue(r[1].contains("ONNX Runtime 1.29.0 in this JVM: float ONNX export of a 16-8-3 dense network"), r[1]);
    }

    @Test
    void badOptionsExitWithTheUsageCode() {
        assertEquals("2", run("selfcheck", "--samples", "ten")[0]);
        String[] tooFew = run("selfcheck", "--samples", "5");
        assertEquals("2", tooFew[0]);
        assertTrue(tooFew[2].contains("--samples must be >= 1000"), tooFew[2]);
        assertEquals("2", run("no-such-command")[0]);
    }
}
