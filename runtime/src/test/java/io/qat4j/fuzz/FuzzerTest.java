package io.qat4j.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class FuzzerTest {

    private static final byte[] SEED = "name: a\nbits: 8\nlist: [1, 2, 3]\n".getBytes(StandardCharsets.UTF_8);

    @Test
    void mutantsAreReproducibleFromTheSeedAndCappedInSize() {
        Mutator m = new Mutator(List.of("key: ", "[", "8.9"), true);
        SplittableRandom a = new SplittableRandom(7);
        SplittableRandom b = new SplittableRandom(7);
        for (int i = 0; i < 2_000; i++) {
            byte[] x = m.mutate(SEED, SEED, 40, a);
            assertArrayEquals(x, m.mutate(SEED, SEED, 40, b));
            assertTrue(x.length <= 40, "length " + x.length);
        }
    }

    @Test
    void countsTypedRejectionsAndReportsAnythingElseAsAFinding() throws IOException {
        FuzzReport r = Fuzzer.target("self-test").seed(SEED).text(List.of("!")).allow(IOException.class).iterations(3_000)
                .run(input -> {
                    String s = new String(input, StandardCharsets.ISO_8859_1);
                    if (s.contains("!")) {
                        throw new IllegalStateException("untyped");
                    }
                    if (!s.startsWith("name")) {
                        throw new IOException("typed");
                    }
                });
        assertEquals(3_000, r.outcomes().values().stream().mapToLong(Long::longValue).sum());
        assertTrue(r.outcomes().get("java.io.IOException") > 0 && r.outcomes().get("ok") > 0, r.summary());
        assertEquals(r.outcomes().get("java.lang.IllegalStateException"), r.findingCount(), r.summary());
        assertTrue(r.findingCount() > 0 && r.findings().size() == 1, r.describeFindings());
        assertTrue(r.toJson().contains("\"java.lang.IllegalStateException\": " + r.findingCount()), r.toJson());
    }
}
