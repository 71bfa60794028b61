package io.qat4j.training;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.util.ModelSerializer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.qat4j.runtime.AtomicFiles;

/**
 * The resumable state of a run directory, committed once per epoch: {@code checkpoint.zip} (the
 * network with its updater state) and {@code checkpoint.json} (this record).
 *
 * <p>Commit protocol, so that a process killed at any instant leaves a directory that resumes at the
 * last committed epoch and loses at most the epoch in flight:
 * <ol>
 *   <li>the network goes to {@code checkpoint.zip.tmp} and this record, with the SHA-256 of those
 *       bytes, to {@code checkpoint.json.tmp};</li>
 *   <li>{@code checkpoint.json.tmp} is renamed over {@code checkpoint.json}: the commit;</li>
 *   <li>{@code checkpoint.zip.tmp} is renamed over {@code checkpoint.zip}.</li>
 * </ol>
 * {@link #forResume} finishes step 3 when a kill fell between 2 and 3 (the temporary file has the
 * committed hash) and deletes any other temporary file (an uncommitted epoch). A fresh run
 * ({@link #start}) commits {@code epochsDone: 0} before its first epoch, so a directory with training
 * files but no {@code checkpoint.json} is never mistaken for a run to continue.
 *
 * @param epochsDone             epochs finished, 0..epochs of the run (0: started, none finished)
 * @param bestValidationAccuracy best validation accuracy so far, in [0, 1]; null while epochsDone is 0
 * @param epochsSinceBest        epochs since the best one, 0..epochsDone-1 (0 while epochsDone is 0)
 * @param referenceLoss          the divergence check's reference loss ({@link Trainer}), > 0; null until the
 *                               first step has run (and in checkpoints of earlier versions)
 * @param modelSha256            SHA-256 (hex) of checkpoint.zip; null while epochsDone is 0 (and in checkpoints
 *                               of earlier versions, which are used without the check)
 */
public record Checkpoint(int epochsDone, Double bestValidationAccuracy, int epochsSinceBest, Double referenceLoss, String modelSha256) {

    /** The network of the last committed epoch, with updater state. */
    public static final String MODEL = "checkpoint.zip";
    /** This record, as JSON. */
    public static final String STATE = "checkpoint.json";
    /** What a training run writes besides its checkpoint: a directory holding any of these is a run. */
    public static final List<String> RUN_FILES = List.of(MODEL, STATE, "best.zip", "metrics.csv", "metrics.jsonl");

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** The state before the first epoch. */
    static final Checkpoint STARTED = new Checkpoint(0, null, 0, null, null);

    /** A checkpoint file that cannot be used; the message names the file, the field and what to do. */
    public static final class InvalidCheckpointException extends IOException {
        private static final long serialVersionUID = 1L;

        InvalidCheckpointException(String message) {
            super(message);
        }
    }

    /**
     * Starts a fresh run in {@code runDir}: deletes the files of an earlier run there (checkpoint,
     * {@code best.zip}, metrics, temporary files) and commits {@code epochsDone: 0}.
     */
    static void start(Path runDir) throws IOException {
        Files.createDirectories(runDir);
        for (String f : RUN_FILES) {
            Files.deleteIfExists(runDir.resolve(f));
            Files.deleteIfExists(AtomicFiles.temporaryFor(runDir.resolve(f)));
        }
        AtomicFiles.write(runDir.resolve(STATE), STARTED.toJson());
    }

    /**
     * The committed state of {@code runDir} for a run of {@code epochs} epochs, validated against its
     * network file, after finishing an interrupted commit and deleting uncommitted temporary files;
     * null when the directory holds no run at all (nothing to resume: start fresh).
     *
     * @throws InvalidCheckpointException when the directory holds training files but no usable checkpoint
     */
    public static Checkpoint forResume(Path runDir, int epochs) throws IOException {
        Path state = runDir.resolve(STATE);
        if (!Files.isRegularFile(state)) {
            List<String> present = new ArrayList<>();
            for (String f : RUN_FILES) {
                if (Files.exists(runDir.resolve(f))) {
                    present.add(f);
                }
            }
            if (present.isEmpty()) {
                return null;
            }
            throw new InvalidCheckpointException("cannot resume: " + runDir + " has no " + STATE + " but holds " + String.join(", ", present)
                    + " of another run; continuing would restart at epoch 1 over them. Start again there with --force "
                    + "(replaces them), or choose another output directory");
        }
        Checkpoint c = parse(state, Files.readString(state), epochs);
        Files.deleteIfExists(AtomicFiles.temporaryFor(state));
        Path model = runDir.resolve(MODEL);
        Path pending = AtomicFiles.temporaryFor(model);
        if (c.epochsDone == 0) {
            Files.deleteIfExists(pending);
            return c;
        }
        if (c.modelSha256 != null && Files.isRegularFile(pending) && c.modelSha256.equals(sha256(pending))) {
            AtomicFiles.commit(pending, model);   // killed after the commit, before the rename: finish it
        }
        Files.deleteIfExists(pending);
        if (!Files.isRegularFile(model)) {
            throw new InvalidCheckpointException(state + " records " + c.epochsDone + " finished epochs but " + model
                    + " is missing; restore it, or start again with --force");
        }
        if (c.modelSha256 != null && !c.modelSha256.equals(sha256(model))) {
            throw new InvalidCheckpointException(model + " is not the network " + state + " committed (SHA-256 " + sha256(model)
                    + ", expected " + c.modelSha256 + "); the file was changed or damaged: restore it, or start again with --force");
        }
        return c;
    }

    /**
     * The committed state of {@code runDir} as it is on disk, read without finishing an interrupted
     * commit or deleting anything ({@link #forResume} is what a resume uses): for reports on a run,
     * such as which epoch {@code best.zip} holds. Null when the directory has no {@code checkpoint.json}.
     *
     * @throws InvalidCheckpointException when checkpoint.json is not a valid checkpoint
     */
    public static Checkpoint read(Path runDir) throws IOException {
        Path state = runDir.resolve(STATE);
        if (!Files.isRegularFile(state)) {
            return null;
        }
        return parse(state, Files.readString(state), Integer.MAX_VALUE);
    }

    /**
     * The epoch, 1-based, whose network {@code best.zip} holds: the one of best validation accuracy
     * among the {@link #epochsDone} (the earliest on ties); 0 before the first epoch.
     */
    public int bestEpoch() {
        return epochsDone - epochsSinceBest;
    }

    /**
     * The committed network with its updater state (call after {@link #forResume} returned a state
     * with epochs done), of the kind of {@code kind}: the network the run trains.
     *
     * @throws InvalidCheckpointException when checkpoint.zip holds the other kind of network
     */
    @SuppressWarnings("unchecked")
    static <N extends Model> N restore(Path runDir, N kind) throws IOException {
        LoadedModel m = ModelLoader.load(runDir.resolve(MODEL), true);
        if (m.kind() != Networks.kind(kind)) {
            throw new InvalidCheckpointException(runDir.resolve(MODEL) + " holds a " + m.kind().dl4jName() + " but this run trains a "
                    + Networks.kind(kind).dl4jName() + "; resume with the configuration the run started with, or start again with --force");
        }
        return (N) m.network();
    }

    /** Steps 1 and 2 of the protocol for {@code net} after an epoch; {@link Pending#install} is step 3. */
    Pending commit(Path runDir, Model net) throws IOException {
        Path model = runDir.resolve(MODEL);
        Path tmp = AtomicFiles.temporaryFor(model);
        ModelSerializer.writeModel(net, tmp.toFile(), true);
        Checkpoint withHash = new Checkpoint(epochsDone, bestValidationAccuracy, epochsSinceBest, referenceLoss, sha256(tmp));
        AtomicFiles.write(runDir.resolve(STATE), withHash.toJson());
        return new Pending(tmp, model);
    }

    /** A committed network still under its temporary name. */
    record Pending(Path tmp, Path target) {
        void install() throws IOException {
            AtomicFiles.commit(tmp, target);
        }
    }

    byte[] toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epochsDone", epochsDone);
        m.put("bestValidationAccuracy", bestValidationAccuracy);
        m.put("epochsSinceBest", epochsSinceBest);
        m.put("referenceLoss", referenceLoss);
        m.put("modelSha256", modelSha256);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses and validates checkpoint.json text ({@code file} names it in messages). */
    static Checkpoint parse(Path file, String text, int epochs) throws InvalidCheckpointException {
        String fix = "; restore the file, or start the run again with --force";
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new InvalidCheckpointException(file + ": not valid JSON (" + e.getOriginalMessage() + ")" + fix);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidCheckpointException(file + ": expected a JSON object with epochsDone, bestValidationAccuracy, epochsSinceBest" + fix);
        }
        ObjectNode o = (ObjectNode) root;
        int done = integer(file, o, "epochsDone", fix);
        if (done < 0 || done > epochs) {
            throw new InvalidCheckpointException(file + ": epochsDone must be 0.." + epochs + " (the epochs of this run, train.epochs), got "
                    + done + (done > epochs ? "; resume with the configuration the run started with (resolved-config.yaml)" : fix));
        }
        boolean legacy = !o.has("modelSha256");
        if (legacy && done == 0) {
            throw new InvalidCheckpointException(file + ": epochsDone 0 without modelSha256 is not a checkpoint qat4j writes" + fix);
        }
        int since = integer(file, o, "epochsSinceBest", fix);
        if (since < 0 || since > Math.max(0, done - 1)) {
            throw new InvalidCheckpointException(file + ": epochsSinceBest must be 0.." + Math.max(0, done - 1) + " with " + done
                    + " epochs done, got " + since + fix);
        }
        Double best = number(file, o, "bestValidationAccuracy", done > 0, fix);
        if (best != null && !(best >= 0 && best <= 1)) {
            throw new InvalidCheckpointException(file + ": bestValidationAccuracy must be in [0, 1], got " + best + fix);
        }
        Double reference = number(file, o, "referenceLoss", false, fix);
        if (reference != null && !(reference > 0 && reference < Double.POSITIVE_INFINITY)) {
            throw new InvalidCheckpointException(file + ": referenceLoss must be finite and > 0, got " + reference + fix);
        }
        String sha = null;
        if (!legacy && done > 0) {
            JsonNode s = o.get("modelSha256");
            if (s == null || !s.isTextual() || !s.asText().matches("[0-9a-f]{64}")) {
                throw new InvalidCheckpointException(file + ": modelSha256 must be the 64 hex digits of " + MODEL + "'s SHA-256, got " + s + fix);
            }
            sha = s.asText();
        }
        return new Checkpoint(done, best, since, reference, sha);
    }

    private static int integer(Path file, ObjectNode o, String field, String fix) throws InvalidCheckpointException {
        JsonNode n = o.get(field);
        if (n == null || !n.canConvertToExactIntegral() || !n.canConvertToInt()) {
            throw new InvalidCheckpointException(file + ": " + field + " must be an integer, got " + (n == null ? "nothing" : n.toString()) + fix);
        }
        return n.asInt();
    }

    private static Double number(Path file, ObjectNode o, String field, boolean required, String fix) throws InvalidCheckpointException {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            if (required) {
                throw new InvalidCheckpointException(file + ": " + field + " is missing" + fix);
            }
            return null;
        }
        if (!n.isNumber()) {
            throw new InvalidCheckpointException(file + ": " + field + " must be a number, got " + n + fix);
        }
        return n.asDouble();
    }

    static String sha256(Path file) throws IOException {
        MessageDigest d;
        try {
            d = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int r; (r = in.read(buf)) > 0; ) {
                d.update(buf, 0, r);
            }
        } catch (NoSuchFileException e) {
            throw new InvalidCheckpointException(file + " is missing");
        }
        return HexFormat.of().formatHex(d.digest());
    }
}
