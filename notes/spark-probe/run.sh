#!/usr/bin/env bash
# Runs the probe: ./run.sh single | ./run.sh spark [local[2]] [avgFreq] [DIRECT|EXPORT] | ./run.sh link
# Spark 3.5 on JDK 17 needs the module opens that spark-submit/SparkLauncher add (Spark's JavaModuleOptions);
# a plain `java` launch (tests, IDE, qat4j CLI in-process) must pass them itself.
cd "$(dirname "$0")"
export SPARK_LOCAL_IP=127.0.0.1   # bind only to loopback
SPARK_OPENS="--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED \
 --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
 --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
 --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
 --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
 --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED \
 --add-opens=java.base/sun.util.calendar=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false"
[ "${NO_OPENS:-0}" = 1 ] && SPARK_OPENS=""
exec java $PROBE_OPTS -Xmx4g -Dorg.bytedeco.javacpp.maxbytes=6G -Dorg.slf4j.simpleLogger.defaultLogLevel=warn --add-modules jdk.incubator.vector \
  $SPARK_OPENS -cp target/classes:$(cat cp.txt) probe.SparkProbe "$@"
