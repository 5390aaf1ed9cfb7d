#!/usr/bin/env bash
# CSI controller benchmark: CreateVolume/CreateSnapshot latency, ListVolumes over N volumes, snapshot time of a
# 1 GiB vs a 64 GiB volume, all over the controller's real Unix socket against an embedded s3proxy.
#   bench/csi-bench.sh [VOLUMES]      (default 1000; writes bench/results/csi-<date>.md)
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/java-home.sh
bd_find_java || exit 1
export JAVA_HOME
./mvnw -B -q -o -pl controller -am install -DskipTests -DskipITs >/dev/null
cp=$(./mvnw -B -q -o -pl controller dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/dev/stdout)
out="bench/results/csi-$(date -u +%Y%m%d-%H%M).md"
{
  echo "# CSI controller benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)."
  echo "Store: embedded s3proxy 4.1.0 (in-memory), on loopback; CSI over a Unix socket. Command: bench/csi-bench.sh ${1:-1000}"
  echo
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dlogback.configurationFile="$root/controller/src/test/resources/logback-test.xml" \
    -cp "controller/target/test-classes:controller/target/classes:$cp" io.bucketdisk.controller.CsiBench "${1:-1000}"
} | tee "$out"
echo "wrote $out" >&2
