package io.qat4j.training;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.nd4j.linalg.factory.Nd4j;

/**
 * Where a result came from: qat4j/DL4J/Java versions, the ND4J backend, the machine, the git
 * revision of the working tree and whether it had uncommitted changes. Written next to every
 * result so that numbers can be traced and reproduced.
 */
public final class Provenance {

    /** The DL4J/ND4J release qat4j is built against (pinned in the parent pom). */
    public static final String DL4J_VERSION = "1.0.0-M2.1";

    private Provenance() {
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
        p.put("nd4j.environment", Nd4j.getExecutioner().getClass().getSimpleName() + ", blas threads "
                + Nd4j.getEnvironment().maxMasterThreads());
        p.put("int8.kernels", io.qat4j.runtime.optimized.OptimizedKernels.vectorAvailable() ? "Vector API (jdk.incubator.vector)"
                : "scalar (start the JVM with --add-modules jdk.incubator.vector for the Vector API kernels)");
        p.put("git.revision", git(workingDirectory, "rev-parse", "HEAD"));
        String status = git(workingDirectory, "status", "--porcelain", "--untracked-files=no");
        p.put("git.dirty", status.startsWith("unknown") ? "unknown" : Boolean.toString(!status.isBlank()));
        return p;
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
