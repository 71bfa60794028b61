#!/usr/bin/env bash
# Runs Conv2dBackendBenchmark once per nd4j-native build and writes JMH JSON to bench/results/.
# Usage: bash bench/compare-backends.sh   (about 2 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
for variant in onednn plain; do
  profile=""
  [[ "$variant" == plain ]] && profile="-Pplain-native"
  mvn -B -q $profile -pl bench -am install -DskipTests
  java -cp "bench/target/classes:$(cat bench/target/classpath.txt)" org.openjdk.jmh.Main "Conv2dBackendBenchmark|NativeConv2dBenchmark" \
    -rf json -rff "bench/results/conv2d-backend-$variant.json" | tail -n 4
done
mvn -B -q -pl bench -am install -DskipTests   # back to the default classpath
