package probe;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.apache.spark.SparkConf;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.TrainingHook;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import io.qat4j.datasets.FashionMnist;
import io.qat4j.export.Int8Exporter;
import io.qat4j.layers.InputQuantMode;
import io.qat4j.layers.QuantSettings;
import io.qat4j.layers.QuantizationPlan;
import io.qat4j.layers.QuantizedModel;
import io.qat4j.layers.ReferenceCnn;
import io.qat4j.layers.WeightQuantMode;
import io.qat4j.runtime.Int8Model;
import io.qat4j.training.Trainer;

/**
 * Issue 19 probe: QAT W4A4 LSQ of qat4j's reference CNN on the bundled Fashion-MNIST subset, 1 epoch, batch 32,
 * single JVM ({@code single}) or dl4j-spark parameter averaging on local[N] ({@code spark}).
 * Args: mode [master] [averagingFrequency] [rddApproach: DIRECT|EXPORT].
 */
public final class SparkProbe {

    static final long SEED = 1;
    static final int BATCH = Integer.getInteger("probe.batch", 32);
    static final int RDD_BATCH = Integer.getInteger("probe.rddBatch", BATCH);
    static final int EPOCHS = Integer.getInteger("probe.epochs", 1);

    /** One snapshot of a worker's parameters, recorded by the hook in the worker's task (same JVM in local mode). */
    record Snap(int stage, long task, String phase, int iteration, INDArray params) {
    }

    static final ConcurrentLinkedQueue<Snap> SNAPS = new ConcurrentLinkedQueue<>();
    static final java.util.concurrent.atomic.AtomicLong EXAMPLES_SEEN = new java.util.concurrent.atomic.AtomicLong();
    static final java.util.concurrent.atomic.AtomicLong MINIBATCHES_SEEN = new java.util.concurrent.atomic.AtomicLong();
    static final Map<Long, Boolean> SEEN = new java.util.concurrent.ConcurrentHashMap<>();

    /** Records each Spark task's parameters before its first and after its every minibatch. */
    static final class RecordingHook implements TrainingHook {
        private static final long serialVersionUID = 1L;

        @Override
        public void preUpdate(org.nd4j.linalg.dataset.api.DataSet minibatch, Model model) {
            pre(model);
        }

        @Override
        public void postUpdate(org.nd4j.linalg.dataset.api.DataSet minibatch, Model model) {
            post(minibatch.numExamples(), model);
        }

        @Override
        public void preUpdate(org.nd4j.linalg.dataset.api.MultiDataSet minibatch, Model model) {   // ComputationGraph workers
            pre(model);
        }

        @Override
        public void postUpdate(org.nd4j.linalg.dataset.api.MultiDataSet minibatch, Model model) {
            post((int) minibatch.getFeatures(0).size(0), model);
        }

        private static void pre(Model model) {
            TaskContext t = TaskContext.get();
            if (SEEN.putIfAbsent(t.taskAttemptId(), Boolean.TRUE) == null) {
                SNAPS.add(new Snap(t.stageId(), t.taskAttemptId(), "start", 0, model.params().dup()));
            }
        }

        private static void post(int examples, Model model) {
            TaskContext t = TaskContext.get();
            EXAMPLES_SEEN.addAndGet(examples);
            MINIBATCHES_SEEN.incrementAndGet();
            SNAPS.add(new Snap(t.stageId(), t.taskAttemptId(), "end", model instanceof MultiLayerNetwork m ? m.getIterationCount()
                    : ((org.deeplearning4j.nn.graph.ComputationGraph) model).getIterationCount(),
                    model.params().dup()));
        }

    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "single";
        String master = args.length > 1 ? args[1] : "local[2]";
        int avgFreq = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        String approach = args.length > 3 ? args[3] : "DIRECT";
        System.out.println("java " + System.getProperty("java.version") + ", mode " + mode + ", nd4j threads env OMP_NUM_THREADS="
                + System.getenv("OMP_NUM_THREADS"));

        long t0 = System.nanoTime();
        FashionMnist.Located data = FashionMnist.bundled();
        DataSet train = data.train();
        DataSet test = data.test();
        System.out.printf("data: train %s, test %s, %.1f s%n", java.util.Arrays.toString(train.getFeatures().shape()),
                java.util.Arrays.toString(test.getFeatures().shape()), (System.nanoTime() - t0) / 1e9);

        Nd4j.getRandom().setSeed(SEED);
        double lr = Double.parseDouble(System.getProperty("probe.lr", "1e-3"));
        int pretrain = Integer.getInteger("probe.pretrainEpochs", 0);
        MultiLayerNetwork fp32 = ReferenceCnn.build(SEED, new Adam(lr), 0, 1, 28, 28, 10);
        if (pretrain > 0) {   // same FP32 start for both modes: single-JVM FP32 epochs, then QAT fine-tuning
            long p0 = System.nanoTime();
            for (int e = 0; e < pretrain; e++) {
                DataSet sh = train.copy();
                sh.shuffle(SEED + 100 + e);
                for (DataSet b : sh.batchBy(BATCH)) {
                    fp32.fit(b);
                }
            }
            System.out.printf("FP32 pretraining: %d epochs, test accuracy %.4f, %.1f s%n", pretrain, Trainer.accuracy(fp32, test),
                    (System.nanoTime() - p0) / 1e9);
        }
        boolean floatOnly = Boolean.getBoolean("probe.fp32");   // control: the same training without quantizers
        MultiLayerNetwork qat = floatOnly ? fp32 : QuantizedModel.wrap(fp32,
                QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4))).network();
        System.out.println("wrapped: " + qat.numParams() + " params; param keys of layer 0: " + qat.getLayer(0).paramTable().keySet());
        DataSet shuffled = train.copy();
        shuffled.shuffle(SEED);

        Model trained;
        long fitStart = System.nanoTime();
        switch (mode) {
            case "single" -> {
                for (int e = 0; e < EPOCHS; e++) {
                    DataSet sh = e == 0 ? shuffled : train.copy();
                    if (e > 0) {
                        sh.shuffle(SEED + e);
                    }
                    for (DataSet b : sh.batchBy(BATCH)) {
                        qat.fit(b);
                    }
                }
                trained = qat;
                System.out.printf("single-JVM fit: " + EPOCHS + " epochs, batch " + BATCH + ", %d iterations, %.1f s%n", qat.getIterationCount(), (System.nanoTime() - fitStart) / 1e9);
            }
            case "spark", "link", "graph" -> {
                SparkConf conf = new SparkConf().setMaster(master).setAppName("qat4j-spark-probe").set("spark.ui.enabled", "false")
                        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
                if (Boolean.getBoolean("probe.kryo")) {   // dl4j-spark's recommended serializer setup (nd4j-kryo 1.0.0-M2)
                    conf.set("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                            .set("spark.kryo.registrator", "org.nd4j.kryo.Nd4jRegistrator");
                }
                try (JavaSparkContext sc = new JavaSparkContext(conf)) {
                    System.out.printf("spark %s context up: %.1f s%n", sc.version(), (System.nanoTime() - fitStart) / 1e9);
                    ParameterAveragingTrainingMaster tm = new ParameterAveragingTrainingMaster.Builder(RDD_BATCH).batchSizePerWorker(BATCH)
                            .averagingFrequency(avgFreq).workerPrefetchNumBatches(0).rngSeed(SEED)
                            .saveUpdater(Boolean.parseBoolean(System.getProperty("probe.saveUpdater", "true")))
                            .rddTrainingApproach(RDDTrainingApproach.valueOf(approach.equals("EXPORT") ? "Export" : "Direct"))
                            .trainingHooks(new RecordingHook()).build();
                    boolean graph = mode.equals("graph");
                    org.deeplearning4j.nn.graph.ComputationGraph cg = graph ? (floatOnly ? fp32.toComputationGraph()
                            : QuantizedModel.wrap(fp32.toComputationGraph(),
                                    QuantizationPlan.uniform(QuantSettings.of(WeightQuantMode.LSQ, 4, InputQuantMode.LSQ, 4))).network()) : null;
                    org.deeplearning4j.spark.impl.SparkListenable sparkModel = graph
                            ? new org.deeplearning4j.spark.impl.graph.SparkComputationGraph(sc, cg, tm)
                            : new SparkDl4jMultiLayer(sc, qat.clone(), tm);
                    System.out.printf("SparkDl4jMultiLayer built (links): %.1f s%n", (System.nanoTime() - fitStart) / 1e9);
                    if (mode.equals("link")) {
                        return;
                    }
                    long sparkFit = System.nanoTime();
                    for (int e = 0; e < EPOCHS; e++) {
                        DataSet sh = e == 0 ? shuffled : train.copy();
                        if (e > 0) {
                            sh.shuffle(SEED + e);
                        }
                        if (sparkModel instanceof SparkDl4jMultiLayer m) {
                            m.fit(sc.parallelize(sh.batchBy(RDD_BATCH)));
                        } else {
                            ((org.deeplearning4j.spark.impl.graph.SparkComputationGraph) sparkModel).fit(sc.parallelize(sh.batchBy(RDD_BATCH)));
                        }
                    }
                    trained = sparkModel instanceof SparkDl4jMultiLayer m ? m.getNetwork()
                            : ((org.deeplearning4j.spark.impl.graph.SparkComputationGraph) sparkModel).getNetwork();
                    System.out.printf(EPOCHS + " epochs, spark fit (%s, batch %d per worker, averaging every %d): %.1f s (context+fit %.1f s)%n", master, BATCH,
                            avgFreq, (System.nanoTime() - sparkFit) / 1e9, (System.nanoTime() - fitStart) / 1e9);
                    checkAveraging(trained);
                    long ev = System.nanoTime();
                    System.out.println("DataSet.asList() of a rank-4 batch gives per-example features of shape "
                            + java.util.Arrays.toString(test.batchBy(100).get(0).asList().get(0).getFeatures().shape())
                            + " (IteratorDataSetIterator splits RDD DataSets larger than the evaluation batch size, 64, this way)");
                    // RDD DataSets of exactly the evaluation batch size (64): no split, so no merge of asList() pieces
                    org.nd4j.evaluation.classification.Evaluation eval = sparkModel instanceof SparkDl4jMultiLayer m
                            ? m.evaluate(sc.parallelize(test.batchBy(64)))
                            : ((org.deeplearning4j.spark.impl.graph.SparkComputationGraph) sparkModel).evaluate(sc.parallelize(test.batchBy(64)));
                    System.out.printf("distributed evaluation (SparkDl4jMultiLayer.evaluate): accuracy %.4f, %.1f s%n", eval.accuracy(),
                            (System.nanoTime() - ev) / 1e9);
                }
            }
            default -> throw new IllegalArgumentException("mode must be single, spark or link, not " + mode);
        }
        if (floatOnly) {
            System.out.printf("RESULT FP32 %s: test accuracy %.4f; total wall %.1f s%n", mode.equals("single") ? "single-JVM" : master,
                    Trainer.accuracy(trained, test), (System.nanoTime() - t0) / 1e9);
            return;
        }
        checkQuantizers(trained);
        double accBeforeFreeze = Trainer.accuracy(trained, test);
        for (Layer l : io.qat4j.training.Networks.layers(trained)) {   // the exporter wants frozen BN statistics (inference uses the running ones anyway)
            if (l.conf().getLayer() instanceof io.qat4j.layers.conf.QuantizedConvBatchNormLayer bn) {
                bn.setFreezeBatchNorm(true);
            }
        }
        System.out.printf("fake-quant test accuracy before freezing BN: %.4f%n", accBeforeFreeze);
        double acc = Trainer.accuracy(trained, test);
        long e0 = System.nanoTime();
        INDArray calib = train.getFeatures().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 500));
        Int8Exporter.Result exported = Int8Exporter.export(trained, calib);
        Int8Model int8 = new Int8Model(exported.graph());
        int n = (int) test.getFeatures().size(0);
        int[] predicted = int8.predict(test.getFeatures().dup('c').data().asFloat(), n);
        int[] labels = test.getLabels().argMax(1).toIntVector();
        int right = 0;
        int agree = 0;
        int[] fq = Trainer.predictions(trained, test.getFeatures());
        for (int i = 0; i < n; i++) {
            right += predicted[i] == labels[i] ? 1 : 0;
            agree += predicted[i] == fq[i] ? 1 : 0;
        }
        System.out.printf("RESULT " + mode + " %s: fake-quant test accuracy %.4f, INT8 runtime accuracy %.4f, INT8 vs fake-quant agreement %.4f "
                + "(export+run %.1f s); total wall %.1f s%n", mode.equals("single") ? "single-JVM" : master, acc, right / (double) n,
                agree / (double) n, (System.nanoTime() - e0) / 1e9, (System.nanoTime() - t0) / 1e9);
    }

    /** Every LSQ weight step (Ws) and input step (Xs) finite and positive; BN running variance positive. */
    static void checkQuantizers(Model net) {
        int checked = 0;
        for (Layer l : io.qat4j.training.Networks.layers(net)) {
            for (Map.Entry<String, INDArray> e : l.paramTable().entrySet()) {
                String k = e.getKey();
                if (k.equals("Ws") || k.equals("Xs") || k.equals("var")) {
                    INDArray v = e.getValue();
                    double min = v.minNumber().doubleValue();
                    boolean finite = !Double.isNaN(v.sumNumber().doubleValue()) && !Double.isInfinite(v.sumNumber().doubleValue());
                    System.out.printf("  %-6s %-4s n=%-3d min %.5g max %.5g finite %s%n", l.conf().getLayer().getLayerName(), k, v.length(), min,
                            v.maxNumber().doubleValue(), finite);
                    if (!finite || min <= 0) {
                        throw new IllegalStateException(l.conf().getLayer().getLayerName() + " " + k + " not finite/positive");
                    }
                    checked++;
                }
            }
        }
        System.out.println("quantizer check: " + checked + " step/variance tensors finite and > 0");
    }

    /**
     * From the hook's snapshots: within each averaging round (Spark stage) all workers start from the same parameters;
     * each round starts from the mean of the previous round's worker results; the driver's final parameters are the mean
     * of the last round's worker results.
     */
    static void checkAveraging(Model driver) {
        Map<Integer, List<Snap>> starts = new TreeMap<>();
        Map<Integer, Map<Long, Snap>> ends = new TreeMap<>();
        for (Snap s : SNAPS) {
            if (s.phase().equals("start")) {
                starts.computeIfAbsent(s.stage(), k -> new ArrayList<>()).add(s);
            } else {
                ends.computeIfAbsent(s.stage(), k -> new TreeMap<>()).merge(s.task(), s, (a, b) -> a.iteration() >= b.iteration() ? a : b);
            }
        }
        System.out.println("averaging rounds seen by the hook (stages): " + starts.keySet() + "; worker minibatches " + MINIBATCHES_SEEN
                + ", examples " + EXAMPLES_SEEN + " (training set 5000)");
        INDArray previousMean = null;
        double worstStartSpread = 0;
        double worstChain = 0;
        for (Integer stage : starts.keySet()) {
            List<Snap> st = starts.get(stage);
            INDArray first = st.get(0).params();
            for (Snap s : st) {
                worstStartSpread = Math.max(worstStartSpread, s.params().sub(first).amaxNumber().doubleValue());
            }
            if (previousMean != null) {
                worstChain = Math.max(worstChain, first.sub(previousMean).amaxNumber().doubleValue());
            }
            List<Snap> en = new ArrayList<>(ends.get(stage).values());
            INDArray mean = en.get(0).params().dup();
            for (int i = 1; i < en.size(); i++) {
                mean.addi(en.get(i).params());
            }
            mean.divi(en.size());
            System.out.printf("  stage %d: %d workers start, iterations at end %s%n", stage, st.size(),
                    en.stream().map(Snap::iteration).toList());
            previousMean = mean;
        }
        double finalDiff = driver.params().sub(previousMean).amaxNumber().doubleValue();
        System.out.printf("averaging check: max |worker start - other worker start| %.3g; max |round start - mean of previous round's results| "
                + "%.3g; max |driver final - mean of last round's results| %.3g%n", worstStartSpread, worstChain, finalDiff);
    }
}
