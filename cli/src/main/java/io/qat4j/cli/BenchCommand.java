package io.qat4j.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import io.qat4j.bench.InferenceBenchmark;
import io.qat4j.bench.InferenceModels;
import io.qat4j.runtime.AtomicFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code qat4j bench}: runs {@link InferenceBenchmark} with JMH (forked JVMs, as {@code org.openjdk.jmh.Main}
 * would) and prints latency, throughput and the ratios the README quotes.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark inference of the reference CNN: DL4J FP32, the qat4j INT8 runtime, ONNX Runtime on the QDQ and float "
                + "exports (JMH; batch 1 and 256, 1 and 2 threads).",
        footer = {"",
            "Example:  qat4j bench --json bench/results/inference.json \\",
            "            --report bench/results/inference.md",
            "Takes about 16 x (warmup + iterations) x time seconds plus JVM starts (~5 min",
            "with the defaults).",
            "Exit codes: 0 done, 1 benchmark failed, 2 bad usage."})
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--warmup", defaultValue = "3", description = "Warm-up iterations per case (default 3).")
    int warmup;

    @Option(names = "--iterations", defaultValue = "5", description = "Measured iterations per case (default 5).")
    int iterations;

    @Option(names = "--time", defaultValue = "2", description = "Seconds per iteration (default 2).")
    int seconds;

    @Option(names = "--json", description = "Write JMH's raw JSON results here (atomically).")
    Path json;

    @Option(names = "--report", description = "Write the table, the ratios and the machine description as Markdown here (atomically).")
    Path report;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** One measured case: ms per batch and JMH's 99.9% error half-width. */
    record Case(String engine, int batch, int threads, double ms, double error) {
        double samplesPerSecond() {
            return batch * 1000.0 / ms;
        }

        double samplesPerSecondError() {
            return samplesPerSecond() * error / ms;
        }
    }

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        if (warmup < 0 || iterations < 1 || seconds < 1) {
            err.println("qat4j bench: --warmup must be >= 0, --iterations >= 1 and --time >= 1 (got " + warmup + ", " + iterations + ", "
                    + seconds + ")");
            return Qat4jCommand.EXIT_USAGE;
        }
        try {
            Path tmpJson = Files.createTempFile("qat4j-bench", ".json");
            ChainedOptionsBuilder o = new OptionsBuilder().include(InferenceBenchmark.class.getName() + ".infer")
                    .warmupIterations(warmup).measurementIterations(iterations)
                    .warmupTime(TimeValue.seconds(seconds)).measurementTime(TimeValue.seconds(seconds)).forks(1)
                    .resultFormat(ResultFormatType.JSON).result(tmpJson.toString());
            Collection<RunResult> results = new Runner(o.build()).run();
            List<Case> cases = new ArrayList<>();
            for (RunResult r : results) {
                cases.add(new Case(r.getParams().getParam("engine"), Integer.parseInt(r.getParams().getParam("batch")),
                        Integer.parseInt(r.getParams().getParam("threads")), r.getPrimaryResult().getScore(),
                        r.getPrimaryResult().getScoreError()));
            }
            String table = table(cases) + "\n" + machine();
            out.println(table);
            out.flush();
            if (json != null) {
                AtomicFiles.write(json, Files.readAllBytes(tmpJson));
            }
            Files.deleteIfExists(tmpJson);
            if (report != null) {
                AtomicFiles.write(report, ("# Inference benchmark (`qat4j bench`)\n\n" + table).getBytes(StandardCharsets.UTF_8));
            }
            return 0;
        } catch (Exception e) {
            err.println("qat4j bench: " + e.getMessage());
            return Qat4jCommand.EXIT_FAILED;
        }
    }

    /** The Markdown table of every case and the ratios of the targets. */
    static String table(List<Case> cases) {
        Map<String, Case> byKey = new HashMap<>();
        StringBuilder s = new StringBuilder();
        s.append("| engine | batch | threads | ms per batch (± 99.9% CI) | samples/s | GMAC/s |\n|---|---|---|---|---|---|\n");
        cases.sort(java.util.Comparator.comparing(Case::batch).thenComparing(Case::threads).thenComparing(Case::engine));
        for (Case c : cases) {
            byKey.put(c.engine() + "/" + c.batch() + "/" + c.threads(), c);
            s.append(String.format("| %s | %d | %d | %.4f ± %.4f | %.0f ± %.0f | %.2f |%n", c.engine(), c.batch(), c.threads(), c.ms(), c.error(),
                    c.samplesPerSecond(), c.samplesPerSecondError(), InferenceModels.MACS_PER_SAMPLE * c.samplesPerSecond() / 1e9));
        }
        s.append("\n| ratio (qat4j INT8 runtime vs) | threads | measured | target |\n|---|---|---|---|\n");
        for (int t : new int[] {1, 2}) {
            ratio(s, byKey, "batch-1 latency / DL4J FP32 latency", "qat4j-int8/1/" + t, "dl4j-fp32/1/" + t, t, "<= 0.25");
            ratio(s, byKey, "batch-256 throughput / DL4J FP32 throughput", "dl4j-fp32/256/" + t, "qat4j-int8/256/" + t, t, ">= 2");
            ratio(s, byKey, "batch-256 throughput / ORT QDQ throughput", "ort-qdq/256/" + t, "qat4j-int8/256/" + t, t, ">= 0.7");
            ratio(s, byKey, "batch-256 throughput / ORT FP32 throughput", "ort-fp32/256/" + t, "qat4j-int8/256/" + t, t, "-");
        }
        return s.toString();
    }

    /** {@code a.ms / b.ms} (a latency ratio, or a throughput ratio with the operands swapped). */
    private static void ratio(StringBuilder s, Map<String, Case> byKey, String what, String a, String b, int threads,
                              String target) {
        Case x = byKey.get(a);
        Case y = byKey.get(b);
        if (x == null || y == null) {
            return;
        }
        double r = x.ms() / y.ms();
        s.append(String.format("| %s | %d | %.3fx | %s |%n", what, threads, r, target));
    }

    /** CPU model, flags that matter for int8 kernels, cores, JVM. */
    static String machine() {
        String model = "unknown";
        String flags = "";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model.equals("unknown")) {
                    model = line.substring(line.indexOf(':') + 1).trim();
                } else if (line.startsWith("flags") && flags.isEmpty()) {
                    List<String> keep = new ArrayList<>();
                    for (String f : line.substring(line.indexOf(':') + 1).trim().split(" ")) {
                        if (f.startsWith("avx") || f.contains("vnni") || f.equals("fma") || f.startsWith("sse4")) {
                            keep.add(f);
                        }
                    }
                    flags = String.join(" ", keep);
                }
            }
        } catch (java.io.IOException e) {
            model = "unknown (" + e.getMessage() + ")";
        }
        return String.format("Machine: %s, %d logical cores, SIMD flags [%s]; %s %s; GMAC/s counts %d multiply-accumulates per sample "
                + "(conv1 + conv2 + fc1 + out).%n", model, Runtime.getRuntime().availableProcessors(), flags,
                System.getProperty("java.vm.name"), System.getProperty("java.version"), InferenceModels.MACS_PER_SAMPLE);
    }
}
