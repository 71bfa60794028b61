package io.qat4j.spark;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.DoubleConsumer;
import java.util.function.UnaryOperator;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.TrainingHook;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.linalg.dataset.DataSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.qat4j.training.BatchFitting;
import io.qat4j.training.Networks;

/**
 * Fits an epoch data-parallel through DL4J's parameter averaging: the epoch's minibatches (in the
 * trainer's shuffled order) are cut into rounds of {@code workers x averagingFrequency}; in each round
 * worker {@code w} fits minibatches {@code w F .. (w+1) F - 1} of the round from the driver's
 * parameters, and the driver then holds the mean of the workers' parameters (and, with
 * {@code saveUpdater}, of their updater state) — DL4J's {@code ParameterAveragingTrainingMaster}
 * driven by {@code SparkDl4jMultiLayer} or {@code SparkComputationGraph}, one {@code fit} per round
 * so that the order of the data is the trainer's (seeded) order and the driver can re-synchronise
 * configuration state between rounds ({@link InputQuantizerSigns}).
 *
 * <p>Each worker reports every minibatch's loss ({@link WorkerStepHook}); the trainer's divergence
 * check sees them after the round, in worker order. The driver's network is updated in place, so the
 * trainer's learning-rate schedule and freezes (set on the driver's configuration before an epoch)
 * reach the workers with the next broadcast.
 */
public final class ParameterAveragingFitting implements BatchFitting {

    private static final Logger LOG = LoggerFactory.getLogger(ParameterAveragingFitting.class);

    private final JavaSparkContext sc;
    private final int workers;
    private final int averagingFrequency;
    private final boolean saveUpdater;
    private final long seed;
    private final CollectionAccumulator<WorkerStep> reports;
    private int rounds;
    private double roundSeconds;
    private final Map<String, Integer> flips = new LinkedHashMap<>();
    private final List<TrainingHook> extraHooks = new ArrayList<>();

    /**
     * @param sc                 the Spark context (its lifetime is the caller's)
     * @param workers            data-parallel workers (partitions per round), &gt;= 1
     * @param averagingFrequency minibatches per worker between averagings, &gt;= 1
     * @param saveUpdater        average and carry the updater state
     * @param seed               dl4j-spark's training-master seed
     */
    public ParameterAveragingFitting(JavaSparkContext sc, int workers, int averagingFrequency, boolean saveUpdater, long seed) {
        if (workers < 1 || averagingFrequency < 1) {
            throw new IllegalArgumentException("spark.workers and spark.averagingFrequency must be >= 1, got " + workers + " and "
                    + averagingFrequency);
        }
        this.sc = sc;
        this.workers = workers;
        this.averagingFrequency = averagingFrequency;
        this.saveUpdater = saveUpdater;
        this.seed = seed;
        this.reports = new CollectionAccumulator<>();
        sc.sc().register(reports, "qat4j worker steps");
    }

    public int workers() {
        return workers;
    }

    public int averagingFrequency() {
        return averagingFrequency;
    }

    /** Averaging rounds run so far (all epochs). */
    public int rounds() {
        return rounds;
    }

    /** Mean wall time of one round (broadcast, {@code averagingFrequency} worker steps, averaging), seconds; NaN before the first. */
    public double meanRoundSeconds() {
        return rounds == 0 ? Double.NaN : roundSeconds / rounds;
    }

    /** How often each input quantizer was turned signed on the driver after a round (normally empty). */
    public Map<String, Integer> signFlips() {
        return Map.copyOf(flips);
    }

    /** For tests: one more hook every worker runs (it must be serializable and safe to run in the workers). */
    void addHook(TrainingHook hook) {
        extraHooks.add(hook);
    }

    /** The training master of one round: minibatches of {@code batch} examples, one RDD element each. */
    ParameterAveragingTrainingMaster master(int batch) {
        List<TrainingHook> hooks = new ArrayList<>(extraHooks);
        hooks.add(0, new WorkerStepHook(reports));
        return new ParameterAveragingTrainingMaster.Builder(workers, batch).batchSizePerWorker(batch).averagingFrequency(averagingFrequency)
                .workerPrefetchNumBatches(0).rngSeed(seed).saveUpdater(saveUpdater)
                // the round's RDD is already one partition per worker in the trainer's order; no shuffle, nothing cached
                .rddTrainingApproach(RDDTrainingApproach.Direct).repartionData(Repartition.Never).storageLevel(null)
                .trainingHooks(hooks).build();
    }

    @Override
    public void fitEpoch(Model net, List<DataSet> batches, UnaryOperator<DataSet> prepare, DoubleConsumer onStep) {
        if (batches.isEmpty()) {
            return;
        }
        ParameterAveragingTrainingMaster tm = master(batches.get(0).numExamples());
        Consumer<JavaRDD<DataSet>> fit = switch (Networks.kind(net)) {
            case MULTI_LAYER -> new SparkDl4jMultiLayer(sc, (MultiLayerNetwork) net, tm)::fit;
            case GRAPH -> new SparkComputationGraph(sc, (ComputationGraph) net, tm)::fit;
        };
        InputQuantizerSigns signs = InputQuantizerSigns.of(net);
        // dl4j-spark's fit(RDD) counts an epoch per call, here per round; a single-JVM epoch of fit(DataSet) steps counts none
        int epochCount = epochCount(net);
        int perRound = workers * averagingFrequency;
        for (int from = 0; from < batches.size(); from += perRound) {
            List<DataSet> round = new ArrayList<>();
            for (int i = from; i < Math.min(batches.size(), from + perRound); i++) {
                round.add(prepare.apply(batches.get(i)));
            }
            long start = System.nanoTime();
            reports.reset();
            // parallelize slices the list into contiguous parts: worker w gets minibatches w F .. (w+1) F - 1 of the round
            fit.accept(sc.parallelize(round, Math.min(workers, round.size())));
            roundSeconds += (System.nanoTime() - start) / 1e9;
            rounds++;
            List<WorkerStep> steps = new ArrayList<>(reports.value());
            steps.sort(Comparator.comparingInt(WorkerStep::partition).thenComparingInt(WorkerStep::iteration));
            if (steps.size() != round.size()) {
                throw new IllegalStateException("an averaging round fitted " + steps.size() + " minibatches, expected " + round.size()
                        + " (a worker failed or a Spark task ran twice); the run cannot continue consistently");
            }
            List<WorkerStep> last = new ArrayList<>();
            for (int i = 0; i < steps.size(); i++) {
                if (i == steps.size() - 1 || steps.get(i + 1).partition() != steps.get(i).partition()) {
                    last.add(steps.get(i));
                }
            }
            for (String q : signs.resynchronise(net, last)) {
                flips.merge(q, 1, Integer::sum);
                LOG.info("input quantizer {} turned signed on a worker; the driver's configuration follows (round {})", q, rounds);
            }
            setEpochCount(net, epochCount);
            for (WorkerStep s : steps) {
                onStep.accept(s.loss());
            }
        }
    }

    private static int epochCount(Model net) {
        return switch (Networks.kind(net)) {
            case MULTI_LAYER -> ((MultiLayerNetwork) net).getLayerWiseConfigurations().getEpochCount();
            case GRAPH -> ((ComputationGraph) net).getConfiguration().getEpochCount();
        };
    }

    private static void setEpochCount(Model net, int count) {
        switch (Networks.kind(net)) {
            case MULTI_LAYER -> ((MultiLayerNetwork) net).getLayerWiseConfigurations().setEpochCount(count);
            case GRAPH -> ((ComputationGraph) net).getConfiguration().setEpochCount(count);
        }
    }
}
