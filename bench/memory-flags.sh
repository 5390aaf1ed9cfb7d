#!/usr/bin/env bash
# Peak RSS (VmHWM) and throughput of the gateway per JVM flag set, side by side, at several cache sizes
# (docs/cache.md#memory). Each run: the launcher (deploy/bucketdisk.sh) starts `gateway` on a directory store with
# --cache-size CACHE and a volume of 4x the cache; fio's nbd engine fills it sequentially (1M QD8), then runs, each
# for RUNTIME s over the whole volume: randrw 4k QD32, randread 4k QD32, seqread 1M QD4, and 4k randwrite QD1 with a
# FLUSH after each write (fsync=1). VmHWM is read after the last job, VmRSS after the fill and the randrw. A job
# whose reads fail (EIO, e.g. an OutOfMemoryError in a chunk load) is counted in the last column.
#   bench/memory-flags.sh                       the flag sets below, CACHES="256Mi 1Gi", RUNTIME=20
#   SETS=launcher,serial CACHES=256Mi bench/memory-flags.sh
#   NMT=1 bench/memory-flags.sh                 also `jcmd VM.native_memory summary` per run (into the results)
# A flag set is "label|ENV=VALUE ...|JVM flags"; the flags are given to the launcher in BUCKETDISK_JAVA_OPTS (which
# come after its own, so they win; `-XX:-UseSerialGC -XX:+UseG1GC` swaps the collector), and $C in them is the cache
# in MiB (e.g. -Xmx$((C+C/16+64))m). The environment goes before the launcher. Needs fio with its nbd engine
# (scripts/setup.sh) and the app built (./bucketdisk --help). Writes bench/results/memory-flags-<time>.tsv and .md.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/scripts/java-home.sh"
bd_find_java || exit 1
CACHES=${CACHES:-256Mi 1Gi}; RUNTIME=${RUNTIME:-20}; PORT=${PORT:-10978}; NMT=${NMT:-0}
cp="$root/app/target/classes:$root/app/target/lib/*"
[ -d "$root/app/target/lib" ] || { echo "memory-flags: build first (./bucketdisk --help)" >&2; exit 1; }
fio --enghelp=nbd >/dev/null 2>&1 || { echo "memory-flags: fio with the nbd engine is missing (scripts/setup.sh)" >&2; exit 1; }

native='-XX:ReservedCodeCacheSize=64m -XX:MaxMetaspaceSize=128m -XX:TrimNativeHeapInterval=5000 -Djdk.nio.maxCachedBufferSize=262144'
g1='-XX:-UseSerialGC -XX:+UseG1GC'; old_heap='-Xmx$((C+C/16+128))m'
all_sets=(
  # the launcher: serial, old generation cache + 48 MiB, young 32 MiB, $native but NIO's temporary buffers not
  # cached, MALLOC_ARENA_MAX=2
  'launcher||'
  # the launcher before issue 10: G1, cache + cache/16 + 128 MiB, the JVM's default native limits
  "old-launcher|MALLOC_ARENA_MAX=16|$g1 $old_heap -XX:ReservedCodeCacheSize=240m -XX:MaxMetaspaceSize=1g -XX:TrimNativeHeapInterval=0 -Djdk.nio.maxCachedBufferSize=2147483647"
  "g1-native|MALLOC_ARENA_MAX=2|$g1 $old_heap $native"
  "g1-16m-regions|MALLOC_ARENA_MAX=2|$g1 $old_heap $native -XX:G1HeapRegionSize=16m"
  "serial|MALLOC_ARENA_MAX=2|$old_heap -XX:NewRatio=2 $native"
  "parallel|MALLOC_ARENA_MAX=2|-XX:-UseSerialGC -XX:+UseParallelGC $old_heap -XX:NewRatio=2 $native"
  "g1-native-cache+96m|MALLOC_ARENA_MAX=2|$g1 -Xmx\$((C+96))m $native"
  "serial-tight|MALLOC_ARENA_MAX=2|-Xmx\$((C+C/16+64))m -XX:NewRatio=2 $native"
  "parallel-tight|MALLOC_ARENA_MAX=2|-XX:-UseSerialGC -XX:+UseParallelGC -Xmx\$((C+C/16+64))m -XX:NewRatio=2 $native"
)
[ -n "${EXTRA_SETS:-}" ] && while IFS= read -r s; do [ -n "$s" ] && all_sets+=("$s"); done <<<"$EXTRA_SETS"
sets=()
for s in "${all_sets[@]}"; do
  if [ -z "${SETS:-}" ] || [[ ",$SETS," == *",${s%%|*},"* ]]; then sets+=("$s"); fi
done

mib() { # a Kubernetes quantity in MiB (Mi or Gi)
  case "$1" in *Gi) echo $(( ${1%Gi} * 1024 )) ;; *Mi) echo "${1%Mi}" ;; *) echo "memory-flags: cache $1 is not Mi/Gi" >&2; exit 1 ;; esac
}
stamp=$(date +%Y-%m-%d-%H%M)
out="$root/bench/results/memory-flags-$stamp"
mkdir -p "$root/bench/results"
printf 'set\tcache_mib\tvolume_mib\thwm_mib\trss_after_fill\trss_after_randrw\tfill_mibs\trandrw_r_iops\trandrw_w_iops\trandread_iops\tseqread_mibs\tsync_iops\tsync_write_us\tsync_flush_us\tfio_errors\tflags\n' >"$out.tsv"

fiojson() { # FILE KEY... -> the value (python expression on job j)
  python3 - "$@" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))["jobs"][0]
    print(eval(sys.argv[2], {"j": j}))
except Exception:
    print("nan")
EOF
}

pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
one() { # SET CACHE
  local set=$1 cache=$2 label env flags C vol d
  IFS='|' read -r label env flags <<<"$set"
  C=$(mib "$cache"); vol=$((C * 4))
  flags=$(eval "echo \"$flags\"")
  [ "$NMT" = 1 ] && flags="$flags -XX:NativeMemoryTracking=summary"
  d=$(mktemp -d "/tmp/bdflags-$label.XXXX")
  "$JAVA_HOME/bin/java" -cp "$cp" io.bucketdisk.app.Main volume create v --size "${vol}Mi" --store "file://$d/store" >/dev/null 2>&1
  # shellcheck disable=SC2086 # $env is a list of VAR=VALUE
  env $env JAVA="$JAVA_HOME/bin/java" BUCKETDISK_CLASSPATH="$cp" BUCKETDISK_JAVA_OPTS="$flags" \
    sh "$root/deploy/bucketdisk.sh" gateway --store "file://$d/store" --listen "127.0.0.1:$PORT" \
    --control "unix://$d/control.sock" --cache-size "$cache" >"$d/gw.log" 2>&1 &
  pid=$!
  for _ in $(seq 150); do grep -q "serving NBD" "$d/gw.log" && break; sleep 0.2; done
  grep -q "serving NBD" "$d/gw.log" || { cat "$d/gw.log" >&2; kill "$pid"; exit 1; }
  local uri="nbd://127.0.0.1:$PORT/v" common="--ioengine=nbd --output-format=json --size=${vol}M" errs=0
  rss() { awk '/VmRSS/{print int($2/1024)}' /proc/"$pid"/status 2>/dev/null || echo died; }
  # shellcheck disable=SC2086
  fio --name=fill $common --uri="$uri" --rw=write --bs=1M --iodepth=8 --output="$d/fill.json" || errs=$((errs + 1))
  local rss_fill; rss_fill=$(rss)
  # shellcheck disable=SC2086
  fio --name=randrw $common --uri="$uri" --rw=randrw --bs=4k --iodepth=32 --time_based --runtime="$RUNTIME" \
    --output="$d/randrw.json" || errs=$((errs + 1))
  local rss_rw; rss_rw=$(rss)
  # shellcheck disable=SC2086
  fio --name=randread $common --uri="$uri" --rw=randread --bs=4k --iodepth=32 --time_based --runtime="$RUNTIME" \
    --output="$d/randread.json" || errs=$((errs + 1))
  # shellcheck disable=SC2086
  fio --name=seqread $common --uri="$uri" --rw=read --bs=1M --iodepth=4 --time_based --runtime="$RUNTIME" \
    --output="$d/seqread.json" || errs=$((errs + 1))
  # shellcheck disable=SC2086
  fio --name=sync $common --uri="$uri" --rw=randwrite --bs=4k --iodepth=1 --fsync=1 --norandommap --randrepeat=0 \
    --time_based --runtime="$RUNTIME" --output="$d/sync.json" || errs=$((errs + 1))
  local hwm; hwm=$(awk '/VmHWM/{print int($2/1024)}' /proc/"$pid"/status 2>/dev/null || echo died)
  grep -q 'load failed\|OutOfMemoryError' "$d/gw.log" && errs="$errs+EIO"
  if [ "$NMT" = 1 ]; then
    { echo "== $label cache $cache"; "$JAVA_HOME/bin/jcmd" "$pid" VM.native_memory summary; } >>"$out.nmt.txt" 2>&1 || true
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\n' "$label" "$C" "$vol" "$hwm" \
    "$rss_fill" "$rss_rw" \
    "$(fiojson "$d/fill.json" 'j["write"]["bw"]/1024')" \
    "$(fiojson "$d/randrw.json" 'j["read"]["iops"]')" "$(fiojson "$d/randrw.json" 'j["write"]["iops"]')" \
    "$(fiojson "$d/randread.json" 'j["read"]["iops"]')" "$(fiojson "$d/seqread.json" 'j["read"]["bw"]/1024')" \
    "$(fiojson "$d/sync.json" 'j["write"]["iops"]')" "$(fiojson "$d/sync.json" 'j["write"]["lat_ns"]["mean"]/1000')" \
    "$(fiojson "$d/sync.json" 'j["sync"]["lat_ns"]["mean"]/1000')" "$errs" "${env:+$env }$flags" | tee -a "$out.tsv"
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -rf "$d"
}

echo "memory-flags: caches $CACHES, $RUNTIME s per job, sets: ${sets[*]%%|*}; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for cache in $CACHES; do
  for s in "${sets[@]}"; do one "$s" "$cache"; done
done
python3 - "$out.tsv" "$RUNTIME" >"$out.md" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"fio nbd, directory store, volume = 4x cache, {sys.argv[2]} s per job; peak RSS = VmHWM after all jobs\n")
print("| flag set | cache MiB | peak RSS MiB | RSS - cache | fill MiB/s | randrw r/w IOPS | randread IOPS | seqread MiB/s | 4k write+FLUSH QD1 IOPS (write / flush µs) | failed jobs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['set']} | {r['cache_mib']} | {r['hwm_mib']} | {int(r['hwm_mib']) - int(r['cache_mib']) if r['hwm_mib'].isdigit() else '-'} | {r['fill_mibs']} | "
          f"{r['randrw_r_iops']} / {r['randrw_w_iops']} | {r['randread_iops']} | {r['seqread_mibs']} | "
          f"{r['sync_iops']} ({r['sync_write_us']} / {r['sync_flush_us']}) | {r['fio_errors']} |")
print("\nflags per set:\n")
seen = set()
for r in rows:
    if r["set"] not in seen:
        seen.add(r["set"]); print(f"- {r['set']}: `{r['flags'] or '(launcher only)'}`")
EOF
cat "$out.md"
echo "memory-flags: $out.tsv, $out.md" >&2
