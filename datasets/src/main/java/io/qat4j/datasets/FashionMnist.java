package io.qat4j.datasets;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import org.nd4j.linalg.dataset.DataSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.qat4j.runtime.AtomicFiles;

/**
 * Finds and loads Fashion-MNIST. Sources, in order:
 * <ol>
 *   <li>an explicit directory (from the config; if given it must hold the four files);</li>
 *   <li>{@code $QAT4J_DATA} (a directory holding them, or a {@code fashion-mnist} subdirectory);</li>
 *   <li>the Debian package {@code dataset-fashion-mnist}: {@code /usr/share/datasets/fashion-mnist};</li>
 *   <li>the user cache {@code ~/.cache/qat4j/fashion-mnist};</li>
 *   <li>a download from the official source into the cache, when allowed, each file verified by the
 *       SHA-256 of its decompressed IDX content (so re-compressed mirrors verify too);</li>
 *   <li>the bundled subset (5,000 train / 1,000 test images) inside this jar.</li>
 * </ol>
 * The log and {@link Located#source()} say which one was used.
 */
public final class FashionMnist {

    private static final Logger LOG = LoggerFactory.getLogger(FashionMnist.class);

    /** Official download location of the four files. */
    public static final String OFFICIAL_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
    /** The Debian package's directory. */
    public static final Path DEBIAN_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** Classes of Fashion-MNIST, in label order. */
    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
            "Sneaker", "Bag", "Ankle boot");

    /** Names of the four IDX files in a data directory (each may also be gzipped, name + ".gz"). */
    public static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    public static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    public static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    public static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
    static final String BUNDLED = "/io/qat4j/datasets/fashion-mnist-subset/";

    /** SHA-256 of each file's decompressed IDX bytes (the official release). */
    static final Map<String, String> CONTENT_SHA256 = Map.of(
            TRAIN_IMAGES, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            TRAIN_LABELS, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            TEST_IMAGES, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            TEST_LABELS, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34");

    /** Where data came from. */
    public enum Source { EXPLICIT, ENVIRONMENT, DEBIAN_PACKAGE, USER_CACHE, DOWNLOAD, BUNDLED_SUBSET }

    /** Which sources a run accepts (the {@code data.source} configuration key; {@link #load(Search, Options)}). */
    public enum Search {
        /** The whole search of {@link FashionMnist}, the bundled subset last (the default). */
        AUTO,
        /** The same search without the bundled fallback: an error when the full dataset is not installed. */
        FULL,
        /** The bundled subset only (5,000 training / 1,000 test images). */
        BUNDLED
    }

    /** Loaded data and its origin. */
    public record Located(Source source, String location, DataSet train, DataSet test) {
    }

    /**
     * Where to look.
     *
     * @param explicitDir   directory from the config, or null
     * @param environment   environment variables (normally {@code System.getenv()})
     * @param debianDir     the Debian package directory (normally {@link #DEBIAN_DIR})
     * @param cacheDir      the user cache (normally {@link #defaultCacheDir()})
     * @param downloadUrl   base URL to download from, or null to never download
     * @param bundledOnly   skip every other source and use the bundled subset
     */
    public record Options(Path explicitDir, Map<String, String> environment, Path debianDir, Path cacheDir, String downloadUrl,
                          boolean bundledOnly) {
        /** The standard search: environment, Debian package, cache, no download, then the bundled subset. */
        public static Options standard(Path explicitDir) {
            return new Options(explicitDir, System.getenv(), DEBIAN_DIR, defaultCacheDir(), null, false);
        }
    }

    private FashionMnist() {
    }

    public static Path defaultCacheDir() {
        return Path.of(System.getProperty("user.home"), ".cache", "qat4j", "fashion-mnist");
    }

    /**
     * The data {@code search} accepts: {@link Search#BUNDLED} ignores {@code o}; {@link Search#FULL} is
     * {@link #load(Options)} refusing the bundled subset.
     *
     * @throws IOException when a file cannot be read, or {@code search} is FULL and no source of {@code o} holds the full dataset
     */
    public static Located load(Search search, Options o) throws IOException {
        return switch (search) {
            case AUTO -> load(o);
            case BUNDLED -> bundled();
            case FULL -> {
                Located d = load(o);
                if (d.source() == Source.BUNDLED_SUBSET) {
                    throw new IOException("data.source is 'full' but the full Fashion-MNIST was not found: install the Debian package "
                            + "dataset-fashion-mnist (files in " + DEBIAN_DIR + "), set QAT4J_DATA to a directory with the four IDX "
                            + "files, or set data.dir");
                }
                yield d;
            }
        };
    }

    public static Located load(Options o) throws IOException {
        if (o.bundledOnly()) {
            return bundled();
        }
        if (o.explicitDir() != null) {
            if (!hasAll(o.explicitDir())) {
                throw new IOException("data directory " + o.explicitDir() + " (from the config) does not hold the Fashion-MNIST files "
                        + missing(o.explicitDir()) + "; fix the path or remove it to use the default search");
            }
            return fromDir(Source.EXPLICIT, o.explicitDir());
        }
        String env = o.environment() == null ? null : o.environment().get("QAT4J_DATA");
        if (env != null && !env.isBlank()) {
            for (Path dir : new Path[] {Path.of(env), Path.of(env, "fashion-mnist")}) {
                if (hasAll(dir)) {
                    return fromDir(Source.ENVIRONMENT, dir);
                }
            }
            LOG.warn("QAT4J_DATA={} holds no Fashion-MNIST files; continuing the search", env);
        }
        if (o.debianDir() != null && hasAll(o.debianDir())) {
            return fromDir(Source.DEBIAN_PACKAGE, o.debianDir());
        }
        if (o.cacheDir() != null && hasAll(o.cacheDir())) {
            return fromDir(Source.USER_CACHE, o.cacheDir());
        }
        if (o.downloadUrl() != null && o.cacheDir() != null) {
            try {
                download(o.downloadUrl(), o.cacheDir());
                return fromDir(Source.DOWNLOAD, o.cacheDir());
            } catch (IOException e) {
                LOG.warn("download of Fashion-MNIST from {} failed ({}); using the bundled subset", o.downloadUrl(), e.getMessage());
            }
        }
        return bundled();
    }

    private static Path file(Path dir, String name) {
        Path gz = dir.resolve(name + ".gz");
        return Files.isRegularFile(gz) ? gz : dir.resolve(name);
    }

    static boolean hasAll(Path dir) {
        return missing(dir).isEmpty();
    }

    private static List<String> missing(Path dir) {
        List<String> m = new ArrayList<>();
        for (String name : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
            if (!Files.isRegularFile(file(dir, name))) {
                m.add(name + "[.gz]");
            }
        }
        return m;
    }

    /**
     * The four files of {@code dir}; the class count is the largest label of either label file + 1
     * (Fashion-MNIST's 10, or as many as another dataset in the same layout uses), at least 2.
     */
    private static Located fromDir(Source source, Path dir) throws IOException {
        LOG.info("Fashion-MNIST from {}: {}", source, dir);
        int classes = Math.max(2, IdxDataSets.classes(file(dir, TRAIN_LABELS), file(dir, TEST_LABELS)));
        return new Located(source, dir.toString(), IdxDataSets.load(file(dir, TRAIN_IMAGES), file(dir, TRAIN_LABELS), classes),
                IdxDataSets.load(file(dir, TEST_IMAGES), file(dir, TEST_LABELS), classes));
    }

    /** The subset bundled in this jar (copied to a temporary directory to reuse the file reader). */
    public static Located bundled() throws IOException {
        Path tmp = Files.createTempDirectory("qat4j-fashion-mnist-subset");
        try {
            for (String name : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
                try (InputStream in = FashionMnist.class.getResourceAsStream(BUNDLED + name + ".gz")) {
                    if (in == null) {
                        throw new IOException("the bundled Fashion-MNIST subset is missing from the jar (" + BUNDLED + name + ".gz)");
                    }
                    Files.copy(in, tmp.resolve(name + ".gz"));
                }
            }
            LOG.info("Fashion-MNIST from the bundled subset (5,000 train / 1,000 test images)");
            Located d = fromDir(Source.BUNDLED_SUBSET, tmp);
            return new Located(Source.BUNDLED_SUBSET, "bundled subset (qat4j-datasets jar)", d.train(), d.test());
        } finally {
            for (String name : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
                Files.deleteIfExists(tmp.resolve(name + ".gz"));
            }
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Downloads the four files into {@code cacheDir}: each goes to a temporary file, is verified by
     * the SHA-256 of its decompressed content, and only then renamed into place.
     */
    static void download(String baseUrl, Path cacheDir) throws IOException {
        download(baseUrl, cacheDir, CONTENT_SHA256);
    }

    /** As {@link #download(String, Path)} with the expected content hashes given (tests serve small files). */
    static void download(String baseUrl, Path cacheDir, Map<String, String> expectedSha256) throws IOException {
        Files.createDirectories(cacheDir);
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).followRedirects(HttpClient.Redirect.NORMAL).build();
        for (String name : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
            Path target = cacheDir.resolve(name + ".gz");
            if (Files.isRegularFile(target) && expectedSha256.get(name).equals(contentSha256(target))) {
                continue;
            }
            URI uri = URI.create(baseUrl + name + ".gz");
            String expected = expectedSha256.get(name);
            LOG.info("downloading {}", uri);
            AtomicFiles.write(target, out -> {
                try {
                    HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(5)).GET().build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    try (InputStream body = r.body()) {
                        if (r.statusCode() != 200) {
                            throw new IOException(uri + " answered HTTP " + r.statusCode());
                        }
                        body.transferTo(out);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("download of " + uri + " interrupted", e);
                }
            }, written -> {
                String sha = contentSha256(written);
                if (!expected.equals(sha)) {
                    throw new IOException(uri + ": content SHA-256 " + sha + " does not match the official " + expected
                            + "; the download is corrupt or not Fashion-MNIST");
                }
            });
        }
    }

    /** SHA-256 of the decompressed bytes of a gzip file (a truncated or corrupt file gives a non-matching or failed digest). */
    static String contentSha256(Path gz) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int r; (r = in.read(buf)) > 0; ) {
                md.update(buf, 0, r);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            return "unreadable (" + e.getMessage() + ")";
        }
    }
}
