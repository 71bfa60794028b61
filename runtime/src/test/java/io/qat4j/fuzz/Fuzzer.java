package io.qat4j.fuzz;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Runs one parser on seed inputs and their mutants and counts what comes out: "ok" or the class of
 * every exception. An exception of an allowed (typed) class is an expected rejection; anything else
 * (a RuntimeException, an Error such as OutOfMemoryError or StackOverflowError), an input that
 * allocates more than {@link Builder#maxAllocatedBytes} on the heap, or one slower than
 * {@link Builder#maxMillisPerInput} is a <em>finding</em>: saved under {@code target/fuzz-findings/}
 * and listed in the {@link FuzzReport}.
 *
 * <p>Not coverage-guided: mutants that parse, or that end in an outcome not seen before, join the
 * corpus (at most {@link Builder#maxCorpus} entries), which lets edits stack into valid-but-odd
 * inputs. The first pass replays the seeds unchanged. Everything is derived from one seed, so the
 * same build, seed and count replay the same inputs (as long as no input is a time or memory
 * finding, which keeps it out of the corpus).
 *
 * <p>System properties: {@code qat4j.fuzz.iterations} (inputs per target, overrides each target's
 * short-run default and lifts the short run's time cap), {@code qat4j.fuzz.seconds} (the short
 * run's cap per target, default {@value #SHORT_RUN_SECONDS} s, so that the five targets stay under
 * two minutes inside {@code mvn verify} even on a loaded 2-core machine), {@code qat4j.fuzz.seed} (default 1), {@code qat4j.fuzz.report} (a folder:
 * each target writes {@code <target>.json} there), {@code qat4j.fuzz.revision} (recorded in it).
 * The targets' JUnit {@code @Timeout}s fit the short run; a long run sets
 * {@code junit.jupiter.execution.timeout.mode=disabled} and relies on the per-input time limit.
 */
public final class Fuzzer {

    /** The parser under test, fed one input. */
    @FunctionalInterface
    public interface Target {
        void parse(byte[] input) throws Exception;
    }

    /** Default wall-clock cap of one target's short run, seconds. */
    public static final int SHORT_RUN_SECONDS = 20;

    private final Builder b;

    private Fuzzer(Builder b) {
        this.b = b;
    }

    public static Builder target(String name) {
        return new Builder(name);
    }

    /** Inputs for this run: {@code qat4j.fuzz.iterations} if set, else the target's short-run default. */
    public static long iterations(long shortRunDefault) {
        return Long.getLong("qat4j.fuzz.iterations", shortRunDefault);
    }

    public static final class Builder {
        private final String name;
        private final List<byte[]> seeds = new ArrayList<>();
        private final List<String> dictionary = new ArrayList<>(List.of(" ", "\n", ",", ":", "\"", "[", "]", "{", "}", "-", "#"));
        private final List<Class<? extends Throwable>> allowed = new ArrayList<>();
        private boolean text;
        private int maxInputBytes = 1 << 16;
        private long iterations = 10_000;
        private long maxAllocatedBytes = 256L << 20;
        private long maxMillisPerInput = 5_000;
        private int maxCorpus = 256;
        private UnaryOperator<byte[]> repair;
        private double repairRate;
        private Function<Throwable, String> detail = Fuzzer::causes;

        private Builder(String name) {
            this.name = name;
        }

        public Builder seed(byte[] input) {
            seeds.add(input.clone());
            return this;
        }

        public Builder seeds(List<byte[]> inputs) {
            inputs.forEach(this::seed);
            return this;
        }

        /** A text format: enables token-aware edits with these tokens (keys, keywords, punctuation). */
        public Builder text(List<String> tokens) {
            text = true;
            dictionary.addAll(tokens);
            return this;
        }

        /** Exception classes (and their subclasses) the parser may throw: its typed rejections. */
        @SafeVarargs
        public final Builder allow(Class<? extends Throwable>... types) {
            allowed.addAll(List.of(types));
            return this;
        }

        public Builder maxInputBytes(int n) {
            maxInputBytes = n;
            return this;
        }

        public Builder iterations(long n) {
            iterations = n;
            return this;
        }

        /** Heap bytes one input may allocate on the parsing thread (off-heap ND4J buffers are not seen). */
        public Builder maxAllocatedBytes(long n) {
            maxAllocatedBytes = n;
            return this;
        }

        public Builder maxMillisPerInput(long n) {
            maxMillisPerInput = n;
            return this;
        }

        public Builder maxCorpus(int n) {
            maxCorpus = n;
            return this;
        }

        /**
         * Applied to a fraction of the mutants before parsing, e.g. to fix up a checksum so that the
         * mutant reaches the parser behind it.
         */
        public Builder repair(UnaryOperator<byte[]> fix, double rate) {
            repair = fix;
            repairRate = rate;
            return this;
        }

        /**
         * What to count under an exception's class besides the class itself; default: the classes of
         * its first two causes (e.g. the Jackson exception a typed exception wraps).
         */
        public Builder detail(Function<Throwable, String> describe) {
            detail = describe;
            return this;
        }

        public FuzzReport run(Target target) throws IOException {
            if (seeds.isEmpty() || allowed.isEmpty()) {
                throw new IllegalStateException(name + ": give at least one seed and one allowed exception type");
            }
            FuzzReport report = new Fuzzer(this).loop(target, System.getProperty("qat4j.fuzz.iterations") != null ? 0
                : Long.getLong("qat4j.fuzz.seconds", SHORT_RUN_SECONDS) * 1_000_000_000L);
            String dir = System.getProperty("qat4j.fuzz.report");
            if (dir != null && !dir.isBlank()) {
                Path out = Path.of(dir);
                Files.createDirectories(out);
                Files.writeString(out.resolve(name + ".json"), report.toJson());
            }
            return report;
        }
    }

    /** Feeds {@link Builder#iterations} inputs, or fewer when {@code capNanos > 0} runs out first (seeds always run). */
    private FuzzReport loop(Target target, long capNanos) throws IOException {
        long seed = Long.getLong("qat4j.fuzz.seed", 1L);
        SplittableRandom r = new SplittableRandom(seed ^ b.name.hashCode());
        Mutator mutator = new Mutator(b.dictionary, b.text);
        List<byte[]> corpus = new ArrayList<>(b.seeds);
        TreeMap<String, Long> outcomes = new TreeMap<>();
        TreeMap<String, Long> details = new TreeMap<>();
        List<FuzzReport.Finding> findings = new ArrayList<>();
        Set<String> distinct = new HashSet<>();
        long findingCount = 0;
        long maxAllocated = 0;
        long maxNanos = 0;
        long bytesFed = 0;
        long start = System.nanoTime();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long fed = 0;
        for (long i = 0; i < b.iterations; i++) {
            if (capNanos > 0 && i >= b.seeds.size() && System.nanoTime() - start > capNanos) {
                break;
            }
            fed++;
            byte[] input;
            if (i < b.seeds.size()) {
                input = b.seeds.get((int) i);
            } else {
                input = mutator.mutate(corpus.get(r.nextInt(corpus.size())), corpus.get(r.nextInt(corpus.size())), b.maxInputBytes, r);
                if (b.repair != null && r.nextDouble() < b.repairRate) {
                    input = b.repair.apply(input);
                }
            }
            bytesFed += input.length;
            long allocated0 = threads.getCurrentThreadAllocatedBytes();
            long t0 = System.nanoTime();
            Throwable thrown = null;
            try {
                target.parse(input);
            } catch (Throwable e) {
                thrown = e;
            }
            long nanos = System.nanoTime() - t0;
            long allocated = threads.getCurrentThreadAllocatedBytes() - allocated0;
            String outcome = thrown == null ? "ok" : thrown.getClass().getName();
            boolean newOutcome = outcomes.merge(outcome, 1L, Long::sum) == 1L;
            String detail = thrown == null ? null : b.detail.apply(thrown);
            if (detail != null) {
                newOutcome |= details.merge(outcome + " / " + detail, 1L, Long::sum) == 1L;
            }
            boolean warm = i >= b.seeds.size();
            String problem = null;
            if (thrown != null && allowed(thrown)) {
                problem = null;
            } else if (thrown != null) {
                problem = "untyped exception";
            } else if (allocated > b.maxAllocatedBytes) {
                problem = "allocated " + allocated + " heap bytes (limit " + b.maxAllocatedBytes + ")";
            }
            if (problem == null && warm && nanos > b.maxMillisPerInput * 1_000_000L) {
                problem = "took " + nanos / 1_000_000 + " ms (limit " + b.maxMillisPerInput + ")";
            }
            if (warm) {
                maxAllocated = Math.max(maxAllocated, allocated);
                maxNanos = Math.max(maxNanos, nanos);
            }
            if (problem != null) {
                findingCount++;
                String key = problem.startsWith("untyped") ? outcome + " at " + topFrame(thrown) : problem.replaceAll("[0-9]+", "N");
                if (distinct.add(key) && findings.size() < 20) {
                    findings.add(FuzzReport.Finding.of(b.name, i, problem, thrown, input));
                }
            } else if ((thrown == null || newOutcome) && warm && corpus.size() < b.maxCorpus + b.seeds.size()) {
                corpus.add(input);
            }
            if ((i + 1) % 100_000 == 0) {
                System.out.printf("fuzz %s: %d of %d inputs, %.0f s, findings %d, outcomes %s%n", b.name, i + 1, b.iterations,
                        (System.nanoTime() - start) / 1e9, findingCount, outcomes);
            }
            if (thrown instanceof VirtualMachineError && !(thrown instanceof OutOfMemoryError) && !(thrown instanceof StackOverflowError)) {
                throw (VirtualMachineError) thrown;
            }
        }
        long wallMillis = (System.nanoTime() - start) / 1_000_000;
        return new FuzzReport(b.name, seed, fed, b.seeds.size(), bytesFed, wallMillis, maxAllocated, maxNanos / 1_000_000,
                outcomes, details, findingCount, findings, b.allowed.stream().map(Class::getName).toList());
    }

    private boolean allowed(Throwable e) {
        for (Class<? extends Throwable> t : b.allowed) {
            if (t.isInstance(e)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The template of a message, for counting rejections by kind: {@code file} removed, quoted text
     * and numbers replaced by placeholders, at most 70 characters.
     */
    public static String shape(String message, Object file) {
        if (message == null) {
            return null;
        }
        String m = message.replace(String.valueOf(file), "FILE").replaceAll("'[^']*'", "'…'").replaceAll("\"[^\"]*\"", "\"…\"")
                .replaceAll("\\([^)]*\\)", "(…)").replaceAll("(?<![\\w])-?[0-9a-fA-FxX]*[0-9][0-9a-fA-FxX.eE+-]*", "N");
        return m.length() > 70 ? m.substring(0, 70) + "…" : m;
    }

    /** The classes of the first two causes of {@code e}, or null when it has none. */
    static String causes(Throwable e) {
        Throwable c = e.getCause();
        if (c == null || c == e) {
            return null;
        }
        Throwable cc = c.getCause();
        return "cause " + c.getClass().getName() + (cc == null || cc == c ? "" : " <- " + cc.getClass().getName());
    }

    static String topFrame(Throwable e) {
        StackTraceElement[] st = e.getStackTrace();
        return st.length == 0 ? "?" : st[0].getClassName() + "." + st[0].getMethodName() + ":" + st[0].getLineNumber();
    }
}
