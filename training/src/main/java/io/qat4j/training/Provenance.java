package io.qat4j.training;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.nd4j.linalg.factory.Nd4j;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import io.qat4j.runtime.AtomicFiles;

/**
 * Where a result came from: qat4j/DL4J/Java versions, the ND4J backend, the machine, the git
 * revision of the working tree and whether it had uncommitted changes. Written next to every
 * result so that numbers can be traced and reproduced.
 */
public final class Provenance {

    /** The DL4J/ND4J release qat4j is built against (pinned in the parent pom). */
    public static final String DL4J_VERSION = "1.0.0-M2.1";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private Provenance() {
    }

    /**
     * Writes {@code resolved} (the validated configuration: a run or an experiment) as
     * {@code resolved-config.yaml} and the provenance ({@link #describe}, then the configuration
     * file, seed and data) as {@code provenance.json} into {@code out}, atomically; returns the
     * provenance. On {@code resume} the files of the run's start are kept (the caller checked that the
     * configuration is the same) and the stored provenance is returned.
     *
     * @param config where the configuration came from, in the user's words (a file name, or "(configured in code)")
     */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> writeRunFiles(Path out, String config, Object resolved, long seed, RunData data, boolean resume)
            throws IOException {
        Files.createDirectories(out);
        Path stored = out.resolve("provenance.json");
        if (resume && Files.isRegularFile(stored) && Files.isRegularFile(out.resolve("resolved-config.yaml"))) {
            return JSON.readValue(stored.toFile(), Map.class);
        }
        AtomicFiles.write(out.resolve("resolved-config.yaml"), YAML.writeValueAsBytes(resolved));
        Map<String, Object> p = new LinkedHashMap<>(describe(Path.of(".")));
        p.put("config", config);
        p.put("seed", seed);
        p.put("data.source", data.source());
        p.put("data.location", data.location());
        p.put("data.train", data.train().numExamples());
        p.put("data.validation", data.selectsOnTest() ? "the test set (validationFraction 0)" : data.validation().numExamples());
        p.put("data.test", data.test().numExamples());
        AtomicFiles.write(stored, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(p));
        return p;
    }

    /**
     * Adds {@code entries} to the {@code provenance.json} that {@link #writeRunFiles} wrote in {@code out}
     * (atomically; a key already there is replaced): facts known only once the run has started, such as
     * the resolved Spark settings of a data-parallel run.
     *
     * @throws IOException when {@code out} holds no readable provenance.json
     */
    @SuppressWarnings("unchecked")
    public static void addEntries(Path out, Map<String, ?> entries) throws IOException {
        Path stored = out.resolve("provenance.json");
        Map<String, Object> p = new LinkedHashMap<>(JSON.readValue(stored.toFile(), Map.class));
        p.putAll(entries);
        AtomicFiles.write(stored, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(p));
    }

    /** Ordered key/value description of this process and checkout. */
    public static Map<String, String> describe(Path workingDirectory) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("time", Instant.now().toString());
        p.put("qat4j.version", versionOf(Provenance.class));
        p.put("dl4j.version", DL4J_VERSION);
        p.put("java.version", System.getProperty("java.version"));
        p.put("java.vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        p.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        p.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
        p.put("nd4j.backend", Nd4j.getBackend().getClass().getSimpleName());
        int threads = Nd4j.getEnvironment().maxMasterThreads();   // OMP_NUM_THREADS, else the cores: part of what reproduces a number
        p.put("nd4j.environment", Nd4j.getExecutioner().getClass().getSimpleName() + ", blas threads " + threads);
        p.put("nd4j.threads", Integer.toString(threads));
        p.put("int8.kernels", io.qat4j.runtime.optimized.OptimizedKernels.vectorAvailable() ? "Vector API (jdk.incubator.vector)"
                : "scalar (start the JVM with --add-modules jdk.incubator.vector for the Vector API kernels)");
        p.put("git.revision", git(workingDirectory, "rev-parse", "HEAD"));
        String status = git(workingDirectory, "status", "--porcelain", "--untracked-files=no");
        p.put("git.dirty", status.startsWith("unknown") ? "unknown" : Boolean.toString(!status.isBlank()));
        return p;
    }

    /** This build's version: the jar manifest's, or "0.1.0-SNAPSHOT (from classes)" when run from class directories. */
    public static String version() {
        return versionOf(Provenance.class);
    }

    private static String versionOf(Class<?> c) {
        String v = c.getPackage() == null ? null : c.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-SNAPSHOT (from classes)" : v;
    }

    private static String git(Path dir, String... args) {
        String[] cmd = new String[args.length + 3];
        cmd[0] = "git";
        cmd[1] = "-C";
        cmd[2] = dir.toString();
        System.arraycopy(args, 0, cmd, 3, args.length);
        try {
            Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = proc.getInputStream().readAllBytes();
            if (!proc.waitFor(10, TimeUnit.SECONDS) || proc.exitValue() != 0) {
                return "unknown (not a git checkout)";
            }
            return new String(out, StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return "unknown (git not available)";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown (interrupted)";
        }
    }
}
