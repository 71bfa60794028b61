package io.qat4j.cli;

import static io.qat4j.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The bench table's arithmetic (the benchmark itself is JMH's, run by hand: README, Benchmarks). */
class BenchCommandTest {

    @Test
    void tableComputesThroughputGmacAndTheTargetRatios() {
        List<BenchCommand.Case> cases = new ArrayList<>(List.of(
                new BenchCommand.Case("dl4j-fp32", 1, 1, 2.0, 0.1),
                new BenchCommand.Case("qat4j-int8", 1, 1, 0.4, 0.01),
                new BenchCommand.Case("dl4j-fp32", 256, 1, 100.0, 1.0),
                new BenchCommand.Case("qat4j-int8", 256, 1, 40.0, 0.5),
                new BenchCommand.Case("ort-qdq", 256, 1, 30.0, 0.5)));
        String t = BenchCommand.table(cases);
        assertTrue(t.contains("| qat4j-int8 | 256 | 1 | 40.0000 ± 0.5000 | 6400 ± 80 | 7.80 |"), t);   // 256/0.040 s; 1,218,048 MAC
        assertTrue(t.contains("| batch-1 latency / DL4J FP32 latency | 1 | 0.200x | <= 0.25 |"), t);
        assertTrue(t.contains("| batch-256 throughput / DL4J FP32 throughput | 1 | 2.500x | >= 2 |"), t);
        assertTrue(t.contains("| batch-256 throughput / ORT QDQ throughput | 1 | 0.750x | >= 0.7 |"), t);
        assertTrue(!t.contains("ORT FP32 throughput"), "no row for cases that were not measured");
    }

    @Test
    void badOptionsAreUsageErrors() {
        String[] r = run("bench", "--iterations", "0");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--iterations"), r[2]);
    }
}
