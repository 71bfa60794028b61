package io.qat4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import io.qat4j.spark.SparkTraining;
import io.qat4j.training.Provenance;
import io.qat4j.training.TrainSpec;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;

/**
 * The training commands' way to Spark: {@code --spark MASTER} applied to the configuration, and a
 * training run in this JVM or, with a {@code spark} section, data-parallel through
 * {@link SparkTraining} (the Spark settings then go into provenance.json and the caller's summary).
 */
final class SparkRuns {

    private SparkRuns() {
    }

    /** A training run given its trainer and schedule. */
    interface Training<R> {
        R run(Trainer trainer, TrainSpec spec) throws IOException;
    }

    /** What {@link #train} returns: the run's result and, for a Spark run, its resolved settings (else null). */
    record Trained<R>(R result, Map<String, Object> spark) {
    }

    /**
     * {@code c} with {@code --spark MASTER} applied (null: unchanged).
     *
     * @throws BadUsage naming {@code --spark} for a master Spark does not take, or naming {@code spark.master} when the
     *                  run has a spark section but no master from anywhere (configuration, option, spark-submit)
     */
    static RunConfig withOption(RunConfig c, String master) throws BadUsage {
        RunConfig r = c;
        if (master != null) {
            try {
                r = c.withSparkMaster(master);
            } catch (IllegalArgumentException e) {
                throw new BadUsage("--spark: " + e.getMessage().replace("spark.master", "the master"));
            }
        }
        if (r.spark() != null && r.spark().master() == null && System.getProperty("spark.master") == null) {
            throw new BadUsage("the spark section has no master: set spark.master (e.g. local[2], yarn, spark://HOST:7077), give "
                    + "--spark MASTER, or start the run with spark-submit --master");
        }
        return r;
    }

    /** A bad command-line value, reported with the usage exit code. */
    static final class BadUsage extends Exception {
        private static final long serialVersionUID = 1L;

        BadUsage(String message) {
            super(message);
        }
    }

    /**
     * Runs {@code training} with {@code trainer} and the configuration's schedule, in this JVM or, when {@code c} has a
     * spark section, through a Spark context started for the run and stopped after it (a worker's batch is
     * {@code spark.batchPerWorker}).
     */
    static <R> Trained<R> train(RunConfig c, Trainer trainer, Path dir, PrintWriter out, Training<R> training) throws IOException {
        TrainSpec spec = c.train().toSpec(c.seed());
        if (c.spark() == null) {
            return new Trained<>(training.run(trainer, spec), null);
        }
        try (SparkTraining spark = SparkTraining.start(c.spark(), c.name(), c.seed())) {
            out.println(spark.summary());
            out.flush();
            Map<String, Object> settings = new LinkedHashMap<>(spark.describe());
            Map<String, Object> provenance = new LinkedHashMap<>();
            settings.forEach((k, v) -> provenance.put("spark." + k, v));
            Provenance.addEntries(dir, provenance);
            R r = training.run(spark.trainer(trainer), spark.spec(spec));
            settings.put("rounds", spark.fitting().rounds());
            settings.put("secondsPerRound", spark.fitting().meanRoundSeconds());
            out.printf(java.util.Locale.ROOT, "Spark: %d averaging rounds, %.2f s per round%n", spark.fitting().rounds(),
                    spark.fitting().meanRoundSeconds());
            return new Trained<>(r, settings);
        }
    }
}
