package io.qat4j.fuzz;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * What one fuzz run saw.
 *
 * @param target           the target's name
 * @param seed             the run's random seed
 * @param inputs           inputs fed (seeds included)
 * @param seeds            seed inputs, replayed first
 * @param bytesFed         total input bytes
 * @param wallMillis       wall time of the run
 * @param maxAllocatedBytes largest heap allocation of one input on the parsing thread (after the seeds)
 * @param maxMillis        slowest input (after the seeds)
 * @param outcomes         "ok" or exception class name -> count
 * @param details          "exception class / detail" -> count (the causes, or what the target's detail function says)
 * @param findingCount     inputs that were findings (untyped exception, too much memory or time)
 * @param findings         the first distinct findings (by exception class and top frame), at most 20
 * @param allowed          the typed exception classes the target accepts
 */
public record FuzzReport(String target, long seed, long inputs, int seeds, long bytesFed, long wallMillis, long maxAllocatedBytes,
                         long maxMillis, Map<String, Long> outcomes, Map<String, Long> details, long findingCount, List<Finding> findings, List<String> allowed) {

    /**
     * One finding.
     *
     * @param index     index of the input in the run
     * @param problem   why it is a finding
     * @param exception exception class, or null
     * @param message   exception message (first 300 characters)
     * @param stack     the first stack frames
     * @param input     where the input was saved
     * @param base64    the input itself when at most 4 KiB
     */
    public record Finding(long index, String problem, String exception, String message, String stack, String input, String base64) {

        static Finding of(String target, long index, String problem, Throwable e, byte[] input) {
            Path file = Path.of("target", "fuzz-findings", target, index + ".bin");
            try {
                Files.createDirectories(file.getParent());
                Files.write(file, input);
            } catch (IOException io) {
                file = Path.of("(not saved: " + io.getMessage() + ")");
            }
            String stack = null;
            if (e != null) {
                StringWriter w = new StringWriter();
                e.printStackTrace(new PrintWriter(w));
                String[] lines = w.toString().split("\n");
                stack = String.join("\n", java.util.Arrays.copyOf(lines, Math.min(lines.length, 12)));
            }
            String message = e == null || e.getMessage() == null ? null : e.getMessage().substring(0, Math.min(300, e.getMessage().length()));
            return new Finding(index, problem, e == null ? null : e.getClass().getName(), message, stack, file.toString(),
                    input.length <= 4096 ? Base64.getEncoder().encodeToString(input) : null);
        }
    }

    /** Inputs per second. */
    public double rate() {
        return wallMillis == 0 ? inputs : inputs * 1000.0 / wallMillis;
    }

    /** One line for the test log. */
    public String summary() {
        return String.format("fuzz %s: %d inputs in %.1f s (%.0f/s), max %d ms and %d KiB per input, findings %d, outcomes %s", target,
                inputs, wallMillis / 1000.0, rate(), maxMillis, maxAllocatedBytes >> 10, findingCount, outcomes);
    }

    /** A failure message listing the findings. */
    public String describeFindings() {
        StringBuilder sb = new StringBuilder(summary());
        for (Finding f : findings) {
            sb.append("\n--- input ").append(f.index()).append(" (").append(f.input()).append("): ").append(f.problem());
            if (f.stack() != null) {
                sb.append('\n').append(f.stack());
            }
            if (f.base64() != null) {
                sb.append("\nbase64: ").append(f.base64());
            }
        }
        return sb.toString();
    }

    /** The report as JSON, with the machine and revision it ran on. */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{\n");
        field(sb, "target", target);
        field(sb, "revision", System.getProperty("qat4j.fuzz.revision", "unknown"));
        field(sb, "java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        field(sb, "cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
        field(sb, "cpuModel", cpuInfo("model name"));
        field(sb, "cpuFlags", cpuInfo("flags"));
        sb.append("  \"seed\": ").append(seed).append(",\n");
        sb.append("  \"inputs\": ").append(inputs).append(",\n");
        sb.append("  \"seedInputs\": ").append(seeds).append(",\n");
        sb.append("  \"bytesFed\": ").append(bytesFed).append(",\n");
        sb.append("  \"wallSeconds\": ").append(String.format("%.1f", wallMillis / 1000.0)).append(",\n");
        sb.append("  \"maxMillisPerInput\": ").append(maxMillis).append(",\n");
        sb.append("  \"maxHeapBytesPerInput\": ").append(maxAllocatedBytes).append(",\n");
        sb.append("  \"allowed\": [").append(String.join(", ", allowed.stream().map(FuzzReport::quote).toList())).append("],\n");
        sb.append("  \"outcomes\": {");
        String sep = "\n";
        for (Map.Entry<String, Long> e : outcomes.entrySet()) {
            sb.append(sep).append("    ").append(quote(e.getKey())).append(": ").append(e.getValue());
            sep = ",\n";
        }
        sb.append("\n  },\n");
        sb.append("  \"outcomeDetails\": {");
        sep = "\n";
        for (Map.Entry<String, Long> e : details.entrySet()) {
            sb.append(sep).append("    ").append(quote(e.getKey())).append(": ").append(e.getValue());
            sep = ",\n";
        }
        sb.append("\n  },\n");
        sb.append("  \"findingCount\": ").append(findingCount).append(",\n");
        sb.append("  \"findings\": [");
        sep = "\n";
        for (Finding f : findings) {
            sb.append(sep).append("    {\"index\": ").append(f.index()).append(", \"problem\": ").append(quote(f.problem()))
                    .append(", \"exception\": ").append(quote(f.exception())).append(", \"message\": ").append(quote(f.message()))
                    .append(", \"base64\": ").append(quote(f.base64())).append('}');
            sep = ",\n";
        }
        sb.append("\n  ]\n}\n");
        return sb.toString();
    }

    private static void field(StringBuilder sb, String key, String value) {
        sb.append("  ").append(quote(key)).append(": ").append(quote(value)).append(",\n");
    }

    private static String cpuInfo(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith(key)) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
        return "unknown";
    }

    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || Character.isSurrogate(c)) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
