package io.qat4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * ONNX Runtime runs in the JVM that the {@code ./qat4j} launcher starts. ONNX Runtime 1.29.0's Java
 * binding crashes (SIGSEGV, exit 139) in a JVM whose command line is longer than about 4 KB, and the
 * CLI's classpath is about 9 KB; the launcher therefore passes it in a java argument file. This test
 * runs the repository's launcher script itself, in a copy of the repository layout it expects
 * ({@code cli/target/classpath.txt} holding this test's classpath, nothing to rebuild), as a child
 * process: {@code qat4j selfcheck}, whose last check runs a float ONNX model in ONNX Runtime.
 */
class LauncherArgFileTest {

    @TempDir
    Path root;

    @Test
    void onnxRuntimeRunsInTheLaunchersJvm() throws IOException, InterruptedException {
        Path launcher = Path.of("..", "qat4j");
        assertTrue(Files.isRegularFile(launcher), "the launcher script at the repository root (tests run in cli/)");
        Files.copy(launcher, root.resolve("qat4j"), StandardCopyOption.COPY_ATTRIBUTES);
        Path target = Files.createDirectories(root.resolve("cli").resolve("target"));
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Files.writeString(target.resolve("classpath.txt"), classpath);
        assertTrue(classpath.length() > 4096, "the classpath (" + classpath.length() + " chars) is long enough to crash ONNX Runtime "
                + "if it were on the command line, so this test would notice the argument file going away");
        // the launcher must not build here: a mvn that fails says so if it ever tries
        Path bin = Files.createDirectories(root.resolve("bin"));
        Path mvn = Files.writeString(bin.resolve("mvn"), "#!/bin/sh\necho 'LauncherArgFileTest: the launcher tried to run mvn' >&2\nexit 97\n");
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));

        ProcessBuilder pb = new ProcessBuilder("bash", root.resolve("qat4j").toString(), "selfcheck", "--samples", "1000");
        Map<String, String> env = pb.environment();
        env.put("PATH", bin + ":" + Path.of(System.getProperty("java.home"), "bin") + ":" + env.getOrDefault("PATH", "/usr/bin:/bin"));
        env.put("QAT4J_JAVA_OPTS", "-Xmx1g -XX:+UseSerialGC");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "selfcheck through the launcher did not finish:\n" + output);
        assertEquals(0, p.exitValue(), "exit " + p.exitValue() + " (139 is ONNX Runtime's crash on a long command line):\n" + output);
        assertTrue(output.contains("ONNX Runtime 1.29.0 in this JVM") && output.contains("PASS"), output);

        String args = Files.readString(target.resolve("qat4j-classpath.args"));
        assertTrue(args.startsWith("-cp\n\"") && args.contains(classpath), "the launcher's argument file holds the classpath: " + args);
    }
}
