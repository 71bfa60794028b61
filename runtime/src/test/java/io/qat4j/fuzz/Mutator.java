package io.qat4j.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Mutates an input in place of a coverage-guided engine: byte flips, random and "interesting"
 * bytes and 32-bit integers (both byte orders), range deletes, inserts, duplicates, splices with
 * another corpus entry and truncation; for text formats also token-aware edits (dictionary tokens
 * inserted or substituted for a word, numbers replaced by boundary values, lines deleted, duplicated
 * or swapped, indentation changed). Every choice comes from the caller's {@link SplittableRandom},
 * so a run is reproducible from its seed.
 */
public final class Mutator {

    private static final byte[] INTERESTING_BYTES = {0, 1, 2, 8, 16, 32, 64, 0x7f, (byte) 0x80, (byte) 0xff, (byte) 0xfe, '\n', '\r', ' '};
    private static final int[] INTERESTING_INTS = {0, 1, -1, 2, 3, 7, 8, 15, 16, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 1 << 20,
            1 << 24, 1 << 30, Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE - 1, -2, 2_000_000_000};
    /** Numbers that sit on a boundary of some parser: overflow, precision, non-finite, fractions for integer fields. */
    static final List<String> INTERESTING_NUMBERS = List.of("0", "-0", "1", "-1", "2", "8", "8.9", "0.5", "-0.0", "1e309", "-1e309",
            "1e-400", "NaN", "Infinity", "-Infinity", "2147483647", "2147483648", "-2147483649", "4294967296", "9223372036854775807",
            "9223372036854775808", "2000000000", "1e9", "0x10", "010", "1_000", "+1", ".5", "5.", "1e", "-", "", "3.4028236e38",
            "123456789012345678901234567890");

    private final List<String> dictionary;
    private final boolean text;

    /**
     * @param dictionary tokens of the format (keys, punctuation, keywords) for the token-aware edits
     * @param text       whether the format is text (enables the token-aware edits)
     */
    public Mutator(List<String> dictionary, boolean text) {
        this.dictionary = List.copyOf(dictionary);
        this.text = text;
    }

    /** A mutant of {@code input}: 1 to 4 stacked edits, at most {@code maxBytes} long; {@code other} is used for splices. */
    public byte[] mutate(byte[] input, byte[] other, int maxBytes, SplittableRandom r) {
        byte[] b = input;
        int edits = 1 + r.nextInt(4);
        for (int i = 0; i < edits; i++) {
            b = edit(b, other, r);
            if (b.length > maxBytes) {
                b = Arrays.copyOf(b, maxBytes);
            }
        }
        return b;
    }

    private byte[] edit(byte[] b, byte[] other, SplittableRandom r) {
        int kinds = text ? 14 : 9;
        int kind = r.nextInt(kinds);
        if (b.length == 0 && kind < 9 && kind != 5 && kind != 7) {
            kind = 5;
        }
        return switch (kind) {
            case 0 -> flipBit(b, r);
            case 1 -> setByte(b, r.nextInt(b.length), (byte) r.nextInt(256));
            case 2 -> setByte(b, r.nextInt(b.length), INTERESTING_BYTES[r.nextInt(INTERESTING_BYTES.length)]);
            case 3 -> setInt(b, r);
            case 4 -> delete(b, r);
            case 5 -> insert(b, r.nextInt(b.length + 1), randomBytes(r, 1 + r.nextInt(16)));
            case 6 -> duplicate(b, r);
            case 7 -> splice(b, other, r);
            case 8 -> Arrays.copyOf(b, r.nextInt(b.length + 1));
            case 9 -> insert(b, tokenBoundary(b, r), utf8(pick(dictionary, r)));
            case 10 -> replaceNumber(b, r);
            case 11 -> replaceWord(b, r);
            case 12 -> lines(b, r);
            default -> indent(b, r);
        };
    }

    private static byte[] flipBit(byte[] b, SplittableRandom r) {
        byte[] c = b.clone();
        int i = r.nextInt(c.length);
        c[i] ^= (byte) (1 << r.nextInt(8));
        return c;
    }

    private static byte[] setByte(byte[] b, int at, byte v) {
        byte[] c = b.clone();
        c[at] = v;
        return c;
    }

    private static byte[] setInt(byte[] b, SplittableRandom r) {
        if (b.length < 4) {
            return setByte(b, r.nextInt(b.length), (byte) r.nextInt(256));
        }
        byte[] c = b.clone();
        int v = INTERESTING_INTS[r.nextInt(INTERESTING_INTS.length)];
        if (r.nextInt(4) == 0) {
            v += r.nextInt(-16, 17);
        }
        int at = r.nextBoolean() ? r.nextInt(c.length / 4) * 4 : r.nextInt(c.length - 3);
        boolean little = r.nextBoolean();
        for (int k = 0; k < 4; k++) {
            c[at + k] = (byte) (little ? v >>> (8 * k) : v >>> (8 * (3 - k)));
        }
        return c;
    }

    private static byte[] delete(byte[] b, SplittableRandom r) {
        int at = r.nextInt(b.length);
        int n = 1 + r.nextInt(Math.min(b.length - at, r.nextBoolean() ? 16 : Math.max(1, b.length / 2)));
        byte[] c = new byte[b.length - n];
        System.arraycopy(b, 0, c, 0, at);
        System.arraycopy(b, at + n, c, at, b.length - at - n);
        return c;
    }

    static byte[] insert(byte[] b, int at, byte[] what) {
        byte[] c = new byte[b.length + what.length];
        System.arraycopy(b, 0, c, 0, at);
        System.arraycopy(what, 0, c, at, what.length);
        System.arraycopy(b, at, c, at + what.length, b.length - at);
        return c;
    }

    private static byte[] duplicate(byte[] b, SplittableRandom r) {
        int from = r.nextInt(b.length);
        int n = 1 + r.nextInt(Math.min(b.length - from, 64));
        return insert(b, r.nextInt(b.length + 1), Arrays.copyOfRange(b, from, from + n));
    }

    private static byte[] splice(byte[] b, byte[] other, SplittableRandom r) {
        int cut = r.nextInt(b.length + 1);
        int from = r.nextInt(other.length + 1);
        byte[] c = Arrays.copyOf(b, cut + other.length - from);
        System.arraycopy(other, from, c, cut, other.length - from);
        return c;
    }

    private static byte[] randomBytes(SplittableRandom r, int n) {
        byte[] c = new byte[n];
        for (int i = 0; i < n; i++) {
            c[i] = (byte) r.nextInt(256);
        }
        return c;
    }

    /** A position at a token edge (after a space, colon, comma, bracket or line break), or anywhere. */
    private static int tokenBoundary(byte[] b, SplittableRandom r) {
        if (b.length == 0) {
            return 0;
        }
        int start = r.nextInt(b.length);
        for (int i = start; i < b.length; i++) {
            if (isSeparator(b[i])) {
                return i + 1;
            }
        }
        return start;
    }

    private static boolean isSeparator(byte c) {
        return c == ' ' || c == ':' || c == ',' || c == '\n' || c == '[' || c == '{' || c == '"';
    }

    private static boolean isNumberChar(byte c) {
        return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+';
    }

    private static boolean isWordChar(byte c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
    }

    /** Replaces the number at or after a random position by an interesting one. */
    private static byte[] replaceNumber(byte[] b, SplittableRandom r) {
        int[] span = span(b, r, true);
        String n = pick(INTERESTING_NUMBERS, r);
        return span == null ? insert(b, r.nextInt(b.length + 1), utf8(n)) : replace(b, span[0], span[1], utf8(n));
    }

    private byte[] replaceWord(byte[] b, SplittableRandom r) {
        int[] span = span(b, r, false);
        String t = pick(dictionary, r);
        return span == null ? insert(b, r.nextInt(b.length + 1), utf8(t)) : replace(b, span[0], span[1], utf8(t));
    }

    private static int[] span(byte[] b, SplittableRandom r, boolean number) {
        if (b.length == 0) {
            return null;
        }
        int i = r.nextInt(b.length);
        while (i < b.length && !(number ? b[i] >= '0' && b[i] <= '9' : isWordChar(b[i]))) {
            i++;
        }
        if (i == b.length) {
            return null;
        }
        int start = i;
        while (start > 0 && (number ? isNumberChar(b[start - 1]) : isWordChar(b[start - 1]))) {
            start--;
        }
        int end = i;
        while (end < b.length && (number ? isNumberChar(b[end]) : isWordChar(b[end]))) {
            end++;
        }
        return new int[] {start, end};
    }

    private static byte[] replace(byte[] b, int start, int end, byte[] with) {
        byte[] c = new byte[b.length - (end - start) + with.length];
        System.arraycopy(b, 0, c, 0, start);
        System.arraycopy(with, 0, c, start, with.length);
        System.arraycopy(b, end, c, start + with.length, b.length - end);
        return c;
    }

    /** Deletes, duplicates or swaps whole lines. */
    private static byte[] lines(byte[] b, SplittableRandom r) {
        String[] ls = new String(b, StandardCharsets.ISO_8859_1).split("\n", -1);
        if (ls.length < 2) {
            return b;
        }
        List<String> l = new java.util.ArrayList<>(List.of(ls));
        int i = r.nextInt(l.size());
        int j = r.nextInt(l.size());
        switch (r.nextInt(3)) {
            case 0 -> l.remove(i);
            case 1 -> l.add(j, l.get(i));
            default -> java.util.Collections.swap(l, i, j);
        }
        return String.join("\n", l).getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Adds or removes leading spaces of a random line (YAML nesting). */
    private static byte[] indent(byte[] b, SplittableRandom r) {
        int at = r.nextInt(b.length + 1);
        while (at > 0 && b[at - 1] != '\n') {
            at--;
        }
        if (r.nextBoolean() || at >= b.length || b[at] != ' ') {
            return insert(b, at, utf8(" ".repeat(1 + r.nextInt(4))));
        }
        int n = 0;
        while (at + n < b.length && b[at + n] == ' ' && n < 4) {
            n++;
        }
        return replace(b, at, at + n, new byte[0]);
    }

    private static <T> T pick(List<T> l, SplittableRandom r) {
        return l.get(r.nextInt(l.size()));
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
