package io.qat4j.spark;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

import io.qat4j.training.TrainSpec;
import io.qat4j.training.Trainer;
import io.qat4j.training.config.RunConfig;

/**
 * A Spark context for one data-parallel training run ({@link RunConfig.Spark}) and the trainer that
 * fits through it ({@link ParameterAveragingFitting}). Close it when the run ends (it stops the
 * context).
 *
 * <p>Master: the section's {@code master}, else the {@code spark.master} that {@code spark-submit}
 * sets. A local master binds to 127.0.0.1 and runs without Spark's web UI. Spark 3.5 on JDK 17 needs
 * the module opens that {@code spark-submit} adds; a plain {@code java} start (the {@code qat4j}
 * launcher, the tests) passes them itself ({@link #JVM_OPENS_HINT}).
 */
public final class SparkTraining implements AutoCloseable {

    /** What to add to a plain {@code java} command when Spark cannot start for lack of module opens. */
    public static final String JVM_OPENS_HINT = "start the JVM with the --add-opens flags of the ./qat4j launcher (Spark's "
            + "JavaModuleOptions; spark-submit adds them) and -Djdk.reflect.useDirectMethodHandle=false";

    private final JavaSparkContext sc;
    private final RunConfig.Spark settings;
    private final ParameterAveragingFitting fitting;
    private final String master;

    private SparkTraining(JavaSparkContext sc, RunConfig.Spark settings, ParameterAveragingFitting fitting) {
        this.sc = sc;
        this.settings = settings;
        this.fitting = fitting;
        this.master = sc.master();
    }

    /**
     * Starts the Spark context of {@code settings}.
     *
     * @param appName the Spark application name (the run's name)
     * @param seed    the run's seed (dl4j-spark's training master)
     * @throws IllegalArgumentException when no master is given (neither {@code spark.master} in the configuration,
     *                                  {@code --spark}, nor spark-submit's), naming the key
     */
    public static SparkTraining start(RunConfig.Spark settings, String appName, long seed) {
        SparkConf conf = new SparkConf(true).setAppName("qat4j " + appName);
        if (settings.master() != null) {
            conf.setMaster(settings.master());
        } else if (!conf.contains("spark.master")) {
            throw new IllegalArgumentException("spark.master is not set: give it in the configuration's spark section, on the command "
                    + "line (--spark local[2]), or start the run with spark-submit --master");
        }
        if (conf.get("spark.master").startsWith("local")) {
            conf.setIfMissing("spark.driver.host", "127.0.0.1").setIfMissing("spark.driver.bindAddress", "127.0.0.1")
                    .setIfMissing("spark.ui.enabled", "false");
        }
        JavaSparkContext sc;
        try {
            sc = new JavaSparkContext(conf);
        } catch (IllegalAccessError | ExceptionInInitializerError | java.lang.reflect.InaccessibleObjectException e) {
            throw new IllegalStateException("Spark could not start on Java " + System.getProperty("java.version") + " (" + e + "): "
                    + JVM_OPENS_HINT, e);
        }
        try {
            // local[N]: N; a cluster: its executor cores
            int workers = settings.workers() != null ? settings.workers() : sc.defaultParallelism();
            return new SparkTraining(sc, settings, new ParameterAveragingFitting(sc, workers, settings.averagingFrequency(),
                    settings.saveUpdater(), seed));
        } catch (RuntimeException e) {
            sc.close();
            throw e;
        }
    }

    /** {@code base} fitting its epochs data-parallel through this context. */
    public Trainer trainer(Trainer base) {
        return base.fittingWith(fitting);
    }

    /**
     * {@code spec} as the workers train it: the batch size a worker fits ({@code spark.batchPerWorker}, default the
     * spec's own), and with {@code spark.scaleLearningRate} the learning rate times the workers (the schedule applies
     * to the scaled rate).
     */
    public TrainSpec spec(TrainSpec spec) {
        return workerSpec(spec, settings, fitting.workers());
    }

    /**
     * {@link #spec} for {@code workers} workers: only the batch size and the learning rate change; every other setting
     * (schedule, freezes, augmentation, label smoothing, ...) is the single-JVM spec's.
     */
    static TrainSpec workerSpec(TrainSpec spec, RunConfig.Spark settings, int workers) {
        int batch = settings.batchPerWorker() != null ? settings.batchPerWorker() : spec.batchSize();
        double rate = settings.scaleLearningRate() ? spec.learningRate() * workers : spec.learningRate();
        return new TrainSpec(spec.epochs(), batch, rate, spec.schedule(), spec.stepEvery(), spec.stepGamma(),
                spec.earlyStoppingPatience(), spec.seed(), spec.freezeObserversAfterEpoch(), spec.freezeBatchNormAfterEpoch(),
                spec.divergenceFactor(), spec.augmentation(), spec.labelSmoothing());
    }

    public ParameterAveragingFitting fitting() {
        return fitting;
    }

    /**
     * The resolved settings for provenance and summaries: master, workers, batchPerWorker (null = train.batchSize),
     * averagingFrequency, saveUpdater, the training master, Spark's and dl4j-spark's versions.
     */
    public Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("master", master);
        d.put("workers", fitting.workers());
        d.put("batchPerWorker", settings.batchPerWorker());
        d.put("averagingFrequency", fitting.averagingFrequency());
        d.put("saveUpdater", settings.saveUpdater());
        d.put("scaleLearningRate", settings.scaleLearningRate());
        d.put("trainingMaster", "ParameterAveragingTrainingMaster (dl4j-spark " + DL4J_SPARK_VERSION + ")");
        d.put("sparkVersion", sc.version());
        return d;
    }

    /** One line for the console: "Spark local[2]: 2 workers, averaging every 5 minibatches, updater state averaged, learning rate x 2". */
    public String summary() {
        return "Spark " + master + ": " + fitting.workers() + " workers, averaging every " + fitting.averagingFrequency() + " minibatches"
                + (settings.saveUpdater() ? ", updater state averaged" : ", updater state reset every round")
                + (settings.scaleLearningRate() ? ", learning rate x " + fitting.workers() : "");
    }

    /** The dl4j-spark release this module is built against (its pom's dl4j.spark.version). */
    public static final String DL4J_SPARK_VERSION = "1.0.0-M2";

    @Override
    public void close() {
        sc.close();
    }
}
