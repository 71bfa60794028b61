package io.qat4j.training.experiment;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

import io.qat4j.training.Provenance;

/**
 * Where one stage's result (the FP32 model, or one variant) came from, recorded with that result:
 * an experiment continued with {@code --resume} reuses earlier results, so each row names the
 * revision, version and configuration that produced it (Tribuo's per-run provenance).
 *
 * @param time         when the stage finished (ISO-8601 UTC), or {@link #UNKNOWN} in a result written before this record existed
 * @param gitRevision  {@code git rev-parse HEAD} of the working directory that ran the stage ({@link Provenance#describe}),
 *                     or a sentence starting with "unknown"
 * @param gitDirty     "true" when that checkout had uncommitted changes to tracked files, "false", or "unknown"
 * @param qat4jVersion the qat4j build ({@link Provenance#version})
 * @param seed         the seed the stage ran with
 * @param config       the stage's resolved configuration (an {@code ExperimentConfig.Fp32} or {@code ExperimentConfig.Variant})
 * @param nd4jThreads  ND4J's OpenMP threads in the process that ran the stage ({@code OMP_NUM_THREADS}, else the cores), or
 *                     null in a result written before this field. Part of what reproduces a number: ND4J orders its float
 *                     reductions by thread, so the same seed trains to different last bits, and after a few epochs to
 *                     different accuracies, with 1 and with 2 threads
 * @param <C>          the configuration type
 */
public record StageProvenance<C>(String time, String gitRevision, String gitDirty, String qat4jVersion, long seed, C config,
                                 Integer nd4jThreads) {

    /** What a result written before per-stage provenance records instead of the time, revision and version. */
    public static final String UNKNOWN = "unknown (written by a qat4j without per-stage provenance)";

    public StageProvenance {
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(gitRevision, "gitRevision");
        Objects.requireNonNull(gitDirty, "gitDirty");
        Objects.requireNonNull(qat4jVersion, "qat4jVersion");
        Objects.requireNonNull(config, "config");
    }

    /** The provenance of a stage that finishes now in the process described by {@code process} ({@link Provenance#describe}). */
    static <C> StageProvenance<C> now(Map<String, String> process, long seed, C config) {
        String threads = process.get("nd4j.threads");
        return new StageProvenance<>(Instant.now().toString(), process.get("git.revision"), process.get("git.dirty"),
                process.get("qat4j.version"), seed, config, threads == null ? null : Integer.valueOf(threads));
    }

    /** For a result written before per-stage provenance: the configuration and seed it was resumed with (checked equal). */
    static <C> StageProvenance<C> legacy(long seed, C config) {
        return new StageProvenance<>(UNKNOWN, UNKNOWN, "unknown", UNKNOWN, seed, config, null);
    }

    /** The first 10 characters of a revision hash, or the whole sentence when it is not a hash. */
    public String shortRevision() {
        return gitRevision.matches("[0-9a-f]{40}") ? gitRevision.substring(0, 10) : gitRevision;
    }
}
