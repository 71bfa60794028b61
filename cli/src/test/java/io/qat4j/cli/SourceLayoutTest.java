package io.qat4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The source tree's conventions (STYLE.md, "Layout and names"), checked over every module of the
 * reactor (this module's tests run in {@code cli/}, so the repository is its parent): every package
 * has a {@code package-info.java} (in main, or in test for a test-only package) that says what
 * may depend on what, and no class is named as a grab bag.
 */
class SourceLayoutTest {

    /** Class names that say nothing about what the class does. */
    private static final Pattern GRAB_BAG = Pattern.compile("(.*(Support|Utils?|Helpers?|Manager|Misc|Common|Stuff)|Runs)\\.java");

    private static Path repository() {
        Path root = Path.of("").toAbsolutePath().getParent();
        assertTrue(Files.isRegularFile(root.resolve("pom.xml")) && Files.isDirectory(root.resolve("runtime/src/main/java")),
                "expected to run in a module directory of the qat4j repository, got " + Path.of("").toAbsolutePath());
        return root;
    }

    /** Package name -> the source directories holding its classes, over src/main/java and src/test/java of every module. */
    private static Map<String, List<Path>> packages() throws IOException {
        Path root = repository();
        Map<String, List<Path>> packages = new TreeMap<>();
        try (Stream<Path> modules = Files.list(root)) {
            for (Path module : modules.filter(m -> Files.isRegularFile(m.resolve("pom.xml"))).toList()) {
                for (String tree : List.of("src/main/java", "src/test/java")) {
                    Path base = module.resolve(tree);
                    if (!Files.isDirectory(base)) {
                        continue;
                    }
                    try (Stream<Path> files = Files.walk(base)) {
                        for (Path dir : files.filter(Files::isDirectory).toList()) {
                            boolean hasJava;
                            try (Stream<Path> in = Files.list(dir)) {
                                hasJava = in.anyMatch(f -> f.toString().endsWith(".java"));
                            }
                            if (hasJava) {
                                packages.computeIfAbsent(base.relativize(dir).toString().replace(java.io.File.separatorChar, '.'),
                                        k -> new ArrayList<>()).add(dir);
                            }
                        }
                    }
                }
            }
        }
        return packages;
    }

    @Test
    void everyPackageHasAPackageInfoThatSaysWhatItMayDependOn() throws IOException {
        Map<String, List<Path>> packages = packages();
        assertTrue(packages.containsKey("io.qat4j.runtime") && packages.containsKey("io.qat4j.cli.coverage"), packages.keySet().toString());
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, List<Path>> e : packages.entrySet()) {
            List<Path> infos = e.getValue().stream().map(d -> d.resolve("package-info.java")).filter(Files::isRegularFile).toList();
            if (infos.isEmpty()) {
                problems.add(e.getKey() + ": no package-info.java in " + e.getValue());
                continue;
            }
            for (Path info : infos) {
                String text = Files.readString(info);
                if (!Pattern.compile("[Dd]epends? on|[Dd]epend on").matcher(text).find()) {
                    problems.add(info + ": does not say what the package may depend on");
                }
                if (text.contains("as it lands") || text.contains("TODO")) {
                    problems.add(info + ": describes work to come rather than what is there");
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void noClassIsNamedAsAGrabBag() throws IOException {
        TreeSet<String> named = new TreeSet<>();
        for (List<Path> dirs : packages().values()) {
            for (Path dir : dirs) {
                try (Stream<Path> in = Files.list(dir)) {
                    in.map(f -> f.getFileName().toString()).filter(n -> GRAB_BAG.matcher(n).matches()).forEach(n -> named.add(dir + "/" + n));
                }
            }
        }
        assertEquals(new TreeSet<>(), named, "name these classes after what they do");
    }
}
