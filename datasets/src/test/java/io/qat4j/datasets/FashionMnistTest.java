package io.qat4j.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpServer;

class FashionMnistTest {

    @TempDir
    Path dir;

    private static byte[] gzIdx(int[] dims, byte[] payload) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(raw);
        d.write(new byte[] {0, 0, 8, (byte) dims.length});
        for (int x : dims) {
            d.writeInt(x);
        }
        d.write(payload);
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (OutputStream z = new GZIPOutputStream(gz)) {
            z.write(raw.toByteArray());
        }
        return gz.toByteArray();
    }

    /** A tiny fake Fashion-MNIST: n images of 28x28 with labels i % 10, marked with {@code tag}. */
    private static Map<String, byte[]> fakeFiles(int n, int tag) throws IOException {
        byte[] img = new byte[n * 784];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) {
            img[i * 784] = (byte) tag;
            lab[i] = (byte) (i % 10);
        }
        Map<String, byte[]> m = new HashMap<>();
        m.put(FashionMnist.TRAIN_IMAGES, gzIdx(new int[] {n, 28, 28}, img));
        m.put(FashionMnist.TRAIN_LABELS, gzIdx(new int[] {n}, lab));
        m.put(FashionMnist.TEST_IMAGES, gzIdx(new int[] {n, 28, 28}, img));
        m.put(FashionMnist.TEST_LABELS, gzIdx(new int[] {n}, lab));
        return m;
    }

    private Path writeDir(String name, Map<String, byte[]> files) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            Files.write(d.resolve(e.getKey() + ".gz"), e.getValue());
        }
        return d;
    }

    private FashionMnist.Options options(Path explicit, Map<String, String> env, Path debian, Path cache, String url) {
        return new FashionMnist.Options(explicit, env, debian, cache, url, false);
    }

    @Test
    void bundledSubsetIsBalancedAndNormalized() throws IOException {
        FashionMnist.Located d = FashionMnist.bundled();
        assertEquals(FashionMnist.Source.BUNDLED_SUBSET, d.source());
        assertEquals(5000, d.train().numExamples());
        assertEquals(1000, d.test().numExamples());
        double[] perClassTrain = d.train().getLabels().sum(0).toDoubleVector();
        double[] perClassTest = d.test().getLabels().sum(0).toDoubleVector();
        for (int c = 0; c < 10; c++) {
            assertEquals(500, perClassTrain[c], 0.0);
            assertEquals(100, perClassTest[c], 0.0);
        }
        assertTrue(d.train().getFeatures().maxNumber().doubleValue() <= 1.0);
        assertTrue(d.train().getFeatures().minNumber().doubleValue() >= 0.0);
        assertArrayEquals(new long[] {5000, 1, 28, 28}, d.train().getFeatures().shape());
    }

    @Test
    void theClassCountComesFromTheLabelsNotFromFashionMnist() throws IOException {
        int n = 12;
        byte[] img = new byte[n * 4 * 4];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) {
            lab[i] = (byte) (i % 3);
        }
        Map<String, byte[]> m = new HashMap<>();
        m.put(FashionMnist.TRAIN_IMAGES, gzIdx(new int[] {n, 4, 4}, img));
        m.put(FashionMnist.TRAIN_LABELS, gzIdx(new int[] {n}, lab));
        m.put(FashionMnist.TEST_IMAGES, gzIdx(new int[] {2, 4, 4}, new byte[32]));
        m.put(FashionMnist.TEST_LABELS, gzIdx(new int[] {2}, new byte[] {0, 4}));   // the test file's label 4 counts too
        FashionMnist.Located d = FashionMnist.load(options(writeDir("three", m), Map.of(), null, null, null));
        assertArrayEquals(new long[] {n, 5}, d.train().getLabels().shape());
        assertArrayEquals(new long[] {2, 5}, d.test().getLabels().shape());
        assertEquals(4, d.test().getLabels().getRow(1).argMax().getInt(0));
        assertArrayEquals(new long[] {n, 1, 4, 4}, d.train().getFeatures().shape());
    }

    @Test
    void searchOrderIsExplicitEnvironmentDebianCacheThenBundled() throws IOException {
        Path env = writeDir("env", fakeFiles(10, 1));
        Path debian = writeDir("debian", fakeFiles(10, 2));
        Path cache = writeDir("cache", fakeFiles(10, 3));
        Path explicit = writeDir("explicit", fakeFiles(10, 4));
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertEquals(FashionMnist.Source.EXPLICIT, FashionMnist.load(options(explicit, Map.of("QAT4J_DATA", env.toString()), debian, cache,
                null)).source());
        assertEquals(FashionMnist.Source.ENVIRONMENT, FashionMnist.load(options(null, Map.of("QAT4J_DATA", env.toString()), debian, cache,
                null)).source());
        FashionMnist.Located deb = FashionMnist.load(options(null, Map.of(), debian, cache, null));
        assertEquals(FashionMnist.Source.DEBIAN_PACKAGE, deb.source());
        assertEquals(2 / 255f, deb.train().getFeatures().getFloat(0, 0, 0, 0), 1e-7f);
        assertEquals(FashionMnist.Source.USER_CACHE, FashionMnist.load(options(null, Map.of(), empty, cache, null)).source());
        assertEquals(FashionMnist.Source.BUNDLED_SUBSET, FashionMnist.load(options(null, Map.of("QAT4J_DATA", empty.toString()), empty,
                empty, null)).source());
        IOException wrong = assertThrows(IOException.class, () -> FashionMnist.load(options(empty, Map.of(), debian, cache, null)));
        assertTrue(wrong.getMessage().contains(empty.toString()) && wrong.getMessage().contains("train-images"), wrong.getMessage());
    }

    @Test
    void theSearchChoiceAcceptsOrRefusesTheBundledFallback() throws IOException {
        Path cache = writeDir("cache", fakeFiles(10, 3));
        Path empty = Files.createDirectories(dir.resolve("empty"));
        FashionMnist.Options installed = options(null, Map.of(), empty, cache, null);
        FashionMnist.Options nothing = options(null, Map.of(), empty, empty, null);
        assertEquals(FashionMnist.Source.USER_CACHE, FashionMnist.load(FashionMnist.Search.AUTO, installed).source());
        assertEquals(FashionMnist.Source.USER_CACHE, FashionMnist.load(FashionMnist.Search.FULL, installed).source());
        assertEquals(FashionMnist.Source.BUNDLED_SUBSET, FashionMnist.load(FashionMnist.Search.BUNDLED, installed).source(),
                "bundled ignores the installed data");
        assertEquals(FashionMnist.Source.BUNDLED_SUBSET, FashionMnist.load(FashionMnist.Search.AUTO, nothing).source());
        IOException full = assertThrows(IOException.class, () -> FashionMnist.load(FashionMnist.Search.FULL, nothing));
        assertTrue(full.getMessage().contains("'full'") && full.getMessage().contains("QAT4J_DATA"), full.getMessage());
    }

    @Test
    void downloadVerifiesContentAndKeepsNothingCorrupt() throws Exception {
        Map<String, byte[]> good = fakeFiles(20, 7);
        Map<String, String> hashes = new HashMap<>();
        Path hashDir = writeDir("hashes", good);
        for (String name : good.keySet()) {
            hashes.put(name, FashionMnist.contentSha256(hashDir.resolve(name + ".gz")));
        }
        Map<String, byte[]> served = new HashMap<>(good);
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            String name = exchange.getRequestURI().getPath().substring(1).replace(".gz", "");
            byte[] body = served.get(name);
            if (body == null) {
                exchange.sendResponseHeaders(404, -1);
            } else {
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
            exchange.close();
        });
        server.start();
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/";
            Path cache = dir.resolve("dl-cache");
            FashionMnist.download(url, cache, hashes);
            for (String name : good.keySet()) {
                assertEquals(hashes.get(name), FashionMnist.contentSha256(cache.resolve(name + ".gz")));
            }
            // a corrupted file: one payload byte changed -> rejected, and neither it nor a partial file stays
            byte[] corrupt = fakeFiles(20, 8).get(FashionMnist.TEST_IMAGES);
            served.put(FashionMnist.TEST_IMAGES, corrupt);
            Path cache2 = dir.resolve("dl-cache2");
            IOException e = assertThrows(IOException.class, () -> FashionMnist.download(url, cache2, hashes));
            assertTrue(e.getMessage().contains("SHA-256"), e.getMessage());
            assertFalse(Files.exists(cache2.resolve(FashionMnist.TEST_IMAGES + ".gz")));
            assertFalse(Files.exists(io.qat4j.runtime.AtomicFiles.temporaryFor(cache2.resolve(FashionMnist.TEST_IMAGES + ".gz"))));
            // a missing file: HTTP 404 is an error naming the address
            served.put(FashionMnist.TEST_IMAGES, good.get(FashionMnist.TEST_IMAGES));
            served.remove(FashionMnist.TEST_LABELS);
            IOException missing = assertThrows(IOException.class, () -> FashionMnist.download(url, dir.resolve("dl-cache3"), hashes));
            assertTrue(missing.getMessage().contains("404"), missing.getMessage());
            // load() falls back to the bundled subset when the download fails
            FashionMnist.Located fallback = FashionMnist.load(options(null, Map.of(), dir.resolve("none"), dir.resolve("dl-cache4"), url));
            assertEquals(FashionMnist.Source.BUNDLED_SUBSET, fallback.source());
        } finally {
            server.stop(0);
        }
    }
}
