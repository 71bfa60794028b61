package io.qat4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./qat4j} launcher's first build says what is happening and roughly how long, instead of
 * a silent {@code mvn -q} for minutes: the repository's launcher script runs in an empty copy of the
 * layout with a stand-in {@code mvn} (printing Maven's batch-mode lines) and {@code java} on the
 * PATH; Maven's output goes to the build log, the console gets one line per module.
 */
class LauncherBuildTest {

    @TempDir
    Path root;

    private static final String MAVEN_LINES = String.join("\n",
            "[INFO] Scanning for projects...",
            "[INFO] Downloading from central: https://repo.maven.apache.org/maven2/org/nd4j/nd4j-api/1.0.0-M2.1/nd4j-api-1.0.0-M2.1.pom",
            "[INFO] Downloading from central: https://repo.maven.apache.org/maven2/org/nd4j/nd4j-native/1.0.0-M2.1/nd4j-native.pom",
            "[INFO] ------------------------< io.qat4j:qat4j-runtime >------------------------",
            "[INFO] Building qat4j :: runtime 0.1.0-SNAPSHOT                         [2/12]",
            "[INFO] --------------------------------[ jar ]---------------------------------",
            "[INFO] Building qat4j :: cli 0.1.0-SNAPSHOT                            [12/12]",
            "[INFO] BUILD SUCCESS");

    private Process launch(String mvnScript) throws IOException {
        Path launcher = Path.of("..", "qat4j");
        assertTrue(Files.isRegularFile(launcher), "the launcher script at the repository root (tests run in cli/)");
        Files.copy(launcher, root.resolve("qat4j"), StandardCopyOption.COPY_ATTRIBUTES);
        Path bin = Files.createDirectories(root.resolve("bin"));
        Files.writeString(root.resolve("maven-lines.txt"), MAVEN_LINES + "\n");
        executable(bin.resolve("mvn"), mvnScript);
        executable(bin.resolve("java"), "#!/bin/sh\necho \"java started: $*\" | cut -c1-40\n");
        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("qat4j").toString(), "--version");
        Map<String, String> env = pb.environment();
        env.put("PATH", bin + ":/usr/bin:/bin");
        env.put("HOME", root.resolve("home").toString());   // an empty Maven cache
        pb.directory(root.toFile());
        return pb.start();
    }

    private static void executable(Path file, String script) throws IOException {
        Files.writeString(file, script);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Test
    void theFirstBuildSaysWhatItDoesAndHowLongItTakes() throws IOException, InterruptedException {
        Process p = launch("#!/bin/sh\ncat \"$(dirname \"$0\")/../maven-lines.txt\"\nmkdir -p cli/target\necho /x.jar > cli/target/classpath.txt\n");
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), err);
        assertEquals(0, p.exitValue(), out + err);
        assertTrue(err.contains("qat4j: first run: building qat4j with Maven (mvn -B install -DskipTests; log: target/qat4j-build.log)"), err);
        assertTrue(err.contains("about 400 MiB") && err.contains("minutes"), "says what is downloaded and roughly how long: " + err);
        assertTrue(err.contains("qat4j: downloading dependencies ...\n"), err);
        assertTrue(err.contains("qat4j: [2/12] building qat4j :: runtime (") && err.contains("qat4j: [12/12] building qat4j :: cli ("), err);
        assertTrue(err.matches("(?s).*qat4j: built in \\d+ s\\.\n.*"), err);
        assertFalse(err.contains("Downloading from central"), "Maven's own lines go to the log, not the console: " + err);
        assertEquals(MAVEN_LINES + "\n", Files.readString(root.resolve("target").resolve("qat4j-build.log")));
        assertTrue(out.startsWith("java started"), "then the CLI starts: " + out);
    }

    @Test
    void aFailedBuildShowsTheEndOfItsLogAndStops() throws IOException, InterruptedException {
        Process p = launch("#!/bin/sh\necho '[ERROR] Failed to execute goal on project qat4j-layers: Could not resolve dependencies'\nexit 1\n");
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), err);
        assertEquals(1, p.exitValue(), out + err);
        assertTrue(err.contains("qat4j: the build failed; the end of " + root.resolve("target").resolve("qat4j-build.log") + ":\n"
                + "[ERROR] Failed to execute goal on project qat4j-layers: Could not resolve dependencies"), err);
        assertEquals("", out, "the CLI does not start after a failed build");
    }
}
