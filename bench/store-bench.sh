#!/usr/bin/env bash
# Store-path benchmark: raw s3proxy PUT/GET throughput (AWS SDK, same parallelism) against the same bytes through the
# gateway's write-back cache (nbdcopy over NBD), in one run. Prints ratios, PUTs per GiB and memory vs cache size,
# GETs per chunk of the cold read, then the write amplification (bytes PUT / bytes written) of a fio 4k random-write
# job through the gateway. Request counts are the store's own metrics.
# Usage: bench/store-bench.sh [SIZE_MIB=1024] [PARALLELISM=8] [CACHE=512Mi] [RANDWRITE_SECONDS=60] [RANDWRITE_RANGE=128Mi]
#   (results go to bench/results/; RANDWRITE_SECONDS=0 skips the fio job)
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
size_mib=${1:-1024}
parallel=${2:-8}
cache=${3:-512Mi}
rand_seconds=${4:-60}
rand_range=${5:-128Mi}
command -v nbdcopy >/dev/null || { echo "nbdcopy is not installed (scripts/setup.sh installs it)" >&2; exit 2; }
if [ "$rand_seconds" != 0 ]; then
  fio --enghelp=nbd >/dev/null 2>&1 || { echo "fio with the nbd engine is needed for the random-write job" >&2; exit 2; }
fi

./mvnw -B -o -q -pl benchmarks -am install -DskipTests -DskipITs
./mvnw -B -o -q -pl nbd-gateway dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test.cp
test_cp="nbd-gateway/target/test-classes:nbd-gateway/target/classes:$(cat nbd-gateway/target/test.cp)"
bench_cp="benchmarks/target/classes:benchmarks/target/lib/*"

work=$(mktemp -d /tmp/bdstorebench.XXXXXX)
s3pid=
cleanup() { [ -n "$s3pid" ] && kill "$s3pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$JAVA_HOME/bin/java" -Xmx1g -cp "$test_cp" io.bucketdisk.nbd.cache.S3ProxyMain "$work/blobs" "$work/url" \
  >"$work/s3proxy.log" 2>&1 &
s3pid=$!
for _ in $(seq 1 300); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { echo "s3proxy did not start:" >&2; cat "$work/s3proxy.log" >&2; exit 1; }
head -c $((size_mib << 20)) /dev/urandom >"$work/source.img"

mkdir -p bench/results
out="bench/results/store-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
  echo "# bench/store-bench.sh $size_mib $parallel $cache $rand_seconds $rand_range   ($(date -u +%FT%TZ)), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- nbd-gateway/src/main engine/src/main || echo '+local changes')"
  echo "# machine: $(nproc) CPUs, $(free -m | awk '/Mem:/{print $2}') MiB RAM, $(uname -r), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
  echo "# store: embedded s3proxy 4.1.0 (filesystem blob store in /tmp) on 127.0.0.1, same machine; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  [ -n "${BENCH_LABEL:-}" ] && echo "# label: $BENCH_LABEL"
  "$JAVA_HOME/bin/java" -Xmx1g -cp "$bench_cp" io.bucketdisk.benchmarks.store.StoreBench "$(cat "$work/url")" \
    "$work/source.img" "$parallel" "$cache" "$rand_seconds" "$rand_range" 2>"$work/bench.log" \
    || { echo "StoreBench failed; the end of its log:" >&2; tail -40 "$work/bench.log" >&2; exit 1; }
} | tee "$out"
echo "results: $out"
