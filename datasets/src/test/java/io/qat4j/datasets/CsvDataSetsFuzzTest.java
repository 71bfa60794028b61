package io.qat4j.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import io.qat4j.fuzz.FuzzReport;
import io.qat4j.fuzz.Fuzzer;

/**
 * Fuzz target for {@link CsvDataSets#read}: token-aware mutants of small labelled CSV files, read
 * with one of two formats (by the parity of the input's length: label first with a header, or
 * label last, ';'-separated, no header). Only a {@link CsvFormatException} whose message names the
 * file may escape.
 */
class CsvDataSetsFuzzTest {

    @TempDir
    Path dir;

    static final CsvDataSets.Format HEADER_LABEL_FIRST = new CsvDataSets.Format(0, 3, 1, ',', new long[] {1, 2, 2}, 0.5);
    static final CsvDataSets.Format LABEL_LAST = new CsvDataSets.Format(-1, 10, 0, ';', new long[] {3}, 1);

    static final List<String> SEEDS = List.of(
            "label,p0,p1,p2,p3\n2,0,2,4,6\n0,8,10,12,14\n1,1.5,-2,3e2,0\n",
            "label,p0,p1,p2,p3\r\n1,0,0,0,0\r\n2,255,255,255,255\r\n",
            "label,p0,p1,p2,p3\n\"2\",\"0\",1,2,3\n",
            "0.5;1;2;9\n-3;4e-3;5;0\n1;1;1;1\n",
            "1;2;3;4\n",
            "h\n0,1,2,3,4\n1,5,6,7,8\n2,9,10,11,12\n0,0,0,0,0\n");

    static final List<String> TOKENS = List.of(",", ";", "\"", "\"\"", "\r\n", "\n\n", "label", "1", "0", "-1", "2", "9", "10",
            "1e3", "NaN", "Infinity", "0x1p3", "1d", " ", "\t", "\\", "#", "'");

    @Test
    @Timeout(120)
    void onlyCsvFormatExceptionNamingTheFileEscapesRead() throws Exception {
        Path file = dir.resolve("fuzz.csv");
        FuzzReport report = Fuzzer.target("csv")
                .seeds(SEEDS.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList())
                .text(TOKENS)
                .allow(CsvFormatException.class)
                .detail(e -> Fuzzer.shape(e.getMessage(), file))
                .maxInputBytes(1 << 12)
                .maxAllocatedBytes(64L << 20)
                .iterations(Fuzzer.iterations(30_000))
                .run(input -> {
                    Files.write(file, input);
                    try {
                        CsvDataSets.read(file, (input.length & 1) == 0 ? HEADER_LABEL_FIRST : LABEL_LAST);
                    } catch (CsvFormatException e) {
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
