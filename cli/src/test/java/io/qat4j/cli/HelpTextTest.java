package io.qat4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

import io.qat4j.training.ZooArchitecture;
import picocli.CommandLine;

/**
 * Every subcommand's help at picocli's default width: the footer (examples, files, exit codes) is
 * laid out by hand within the width, so picocli never wraps it, and no file name or path in the
 * help (description, options, footer) is broken across lines ({@code configs/fp32.} / {@code yaml}).
 */
class HelpTextTest {

    /** A path or file name: something with a '/' or a known extension. */
    private static final Pattern PATH = Pattern.compile("[\\w.<>/-]*(/[\\w.<>-]+|\\.(yaml|zip|q4j|json|jsonl|csv|md|png|h5|onnx))\\b");

    @Test
    void footersFitTheUsageWidthAndKeepFileNamesWhole() {
        CommandLine root = Qat4jCommand.commandLine();
        int width = root.getUsageHelpWidth();
        assertEquals(80, width, "picocli's default; the footers are laid out for it");
        List<String> problems = new ArrayList<>();
        for (CommandLine sub : root.getSubcommands().values()) {
            String name = sub.getCommandName();
            String help = sub.getUsageMessage(CommandLine.Help.Ansi.OFF);
            List<String> texts = new ArrayList<>(List.of(sub.getCommandSpec().usageMessage().description()));
            for (String line : sub.getCommandSpec().usageMessage().footer()) {
                if (line.length() > width - 1) {
                    problems.add(name + ": footer line of " + line.length() + " characters: " + line);
                }
                texts.add(line);
            }
            sub.getCommandSpec().options().forEach(o -> texts.addAll(List.of(o.description())));
            sub.getCommandSpec().positionalParameters().forEach(p -> texts.addAll(List.of(p.description())));
            String unwrapped = help.replaceAll("\\s+", " ");
            for (String text : texts) {
                Matcher m = PATH.matcher(text);
                while (m.find()) {
                    // whole on one line: the token with the text around it in the help, line breaks ignored only around it
                    if (!help.contains(m.group()) && unwrapped.contains(m.group().replaceAll("\\s+", " "))) {
                        problems.add(name + ": '" + m.group() + "' is broken across lines in the help");
                    } else if (!help.contains(m.group())) {
                        problems.add(name + ": '" + m.group() + "' is not whole in the help");
                    }
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void trainHelpNamesEveryZooArchitecture() {
        String help = Qat4jCommand.commandLine().getSubcommands().get("train").getUsageMessage(CommandLine.Help.Ansi.OFF);
        for (String id : ZooArchitecture.IDS.split(", ")) {
            assertTrue(help.contains(id + ",") || help.contains(id + ")"), id + " missing from the train help:\n" + help);
        }
    }
}
