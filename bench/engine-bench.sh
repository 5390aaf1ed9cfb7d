#!/usr/bin/env bash
# Engine benchmark (issue 10): the path users run, `bucketdisk gateway --store ... --cache-size C`, driven by fio's
# nbd engine, against the previous build's gateway and against s3backer (FUSE, 1 MiB blocks, a block cache of the
# same memory) in one pass, for each store: a directory store and s3proxy on loopback. Store requests are counted
# on the S3 side by bench/CountingS3Proxy.java (the same meter for every server); on the directory store the
# gateway's own /metrics are used (s3backer has no counters there). Peak RSS is VmHWM of each server process, reset
# before every job. Writes bench/results/<date>-engine.md. Never reports a figure it did not measure: a missing
# tool, a server that does not start or a failed job stops the run.
#
#   bench/engine-bench.sh                      full run: CACHE=256M, 4k random write for MINUTES=5, other timed
#                                              jobs SECONDS_EACH=60
#   SMOKE=1 bench/engine-bench.sh              smoke run: CACHE=96M, 10 s jobs (the figures are labelled smoke)
# Knobs: CACHE, MINUTES (or RANDWRITE_SECONDS), SECONDS_EACH, STORES="dir s3", BASELINE_REV (default: main) or
# BASELINE_CP='/old/classes:/old/lib/*' (+ BASELINE_NAME), S3BACKER=0 (leave s3backer out, said in the table),
# SETTLE_MAX (s to wait for background uploads after a FLUSH, default 120), KEEP=1 (keep the work dir), NMT=1 (this
# build's gateway runs with -XX:NativeMemoryTracking=summary; `jcmd VM.native_memory summary` after each job goes to
# bench/results/<run>-nmt/, and the report gets a table of its totals and peaks beside VmHWM), JOBS=streams (only
# job (e), the sequential write and cold reads), SERVERS="prev this" (the servers and their order, default this prev
# s3backer: the order matters to a run that asks whether the first server pays for warming the shared s3proxy),
# STREAM_ROUNDS=3 (job (e) and the raw figures three times, the order of the servers reversed every other round; the
# report gives the median of each figure and every round's MiB/s).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/java-home.sh
bd_find_java || exit 1
export JAVA_HOME
java="$JAVA_HOME/bin/java"

SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  CACHE=${CACHE:-96M}; RANDWRITE_SECONDS=${RANDWRITE_SECONDS:-10}; SECONDS_EACH=${SECONDS_EACH:-10}
else
  CACHE=${CACHE:-256M}; RANDWRITE_SECONDS=${RANDWRITE_SECONDS:-$(( ${MINUTES:-5} * 60 ))}; SECONDS_EACH=${SECONDS_EACH:-60}
fi
STORES=${STORES:-dir s3}
S3BACKER=${S3BACKER:-1}
SETTLE_MAX=${SETTLE_MAX:-120}
NMT=${NMT:-0}
JOBS=${JOBS:-all}
STREAM_ROUNDS=${STREAM_ROUNDS:-1}
QUIET=3

die() { echo "engine-bench: $*" >&2; exit 1; }
. bench/bench-lib.sh
[ "$JOBS" = all ] || [ "$JOBS" = streams ] || die "JOBS may be all or streams, not $JOBS"
[[ "$STREAM_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "STREAM_ROUNDS must be a whole number from 1, not $STREAM_ROUNDS"
cache_bytes=$(bytes_of "$CACHE") || die "CACHE=$CACHE is not a size (e.g. 256M)"
ws_bytes=$((4 * cache_bytes))                       # (a), (b), (e): 4x the cache
warm_bytes=$(( (cache_bytes * 8 / 10) >> 20 << 20 ))  # (c): 80% of the cache, whole MiB
block=$((1 << 20))                                  # s3backer --blockSize
(( cache_bytes % block == 0 )) || die "CACHE must be a whole number of MiB"

for tool in fio nbdinfo qemu-io python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs it)"
done
fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine (scripts/setup.sh installs Debian's fio)"
if [ "$S3BACKER" = 1 ]; then
  command -v s3backer >/dev/null || die "s3backer is missing (scripts/setup.sh installs it; S3BACKER=0 leaves it out)"
  [ -c /dev/fuse ] || die "/dev/fuse is missing: s3backer needs FUSE (S3BACKER=0 leaves it out)"
  [ "$(id -u)" = 0 ] || die "s3backer's FUSE mount and kill tests need root here (S3BACKER=0 leaves it out)"
fi

work=$(mktemp -d /tmp/bdengine.XXXXXX)
results="$work/results.tsv"; : >"$results"
declare -a live=()    # pids of servers this script started
mounts=()
cleanup() {
  local rc=$?
  for m in "${mounts[@]}"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m" 2>/dev/null; done
  for p in "${live[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${live[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "$rc" != 0 ]; then
    echo "engine-bench: failed; logs in $work" >&2
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
  elif [ "${KEEP:-0}" != 1 ]; then
    rm -rf "$work"
  fi
}
trap cleanup EXIT
forget() { local keep=() p; for p in "${live[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done; live=("${keep[@]}"); }
record() { # store server key value; an empty value means a measurement went wrong
  [ -n "$4" ] || die "no value for $3 ($2, $1 store)"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"
}
now() { date +%s.%N; }

# ---- builds: this one, and the previous one (a git revision built in a temp dir, or BASELINE_CP) ----
echo "engine-bench: building this tree (./bucketdisk)..." >&2
./bucketdisk --version >/dev/null || die "this tree does not build"
this_id="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' ':!docs' 2>/dev/null || echo '+local changes')"
this_cli=("$root/bucketdisk")
[ "$NMT" = 1 ] && export BUCKETDISK_JAVA_OPTS="${BUCKETDISK_JAVA_OPTS:-} -XX:NativeMemoryTracking=summary"
if [ -n "${BASELINE_CP:-}" ]; then
  prev_id=${BASELINE_NAME:-"class path $BASELINE_CP"}
  prev_cli=("$java" --enable-native-access=ALL-UNNAMED -XX:+UseZGC -Xss512k -cp "$BASELINE_CP" io.bucketdisk.app.Main)
else
  rev=${BASELINE_REV:-main}
  sha=$(git rev-parse --verify -q "$rev^{commit}") || die "BASELINE_REV=$rev is not a commit"
  prev_id="${BASELINE_NAME:-$rev} ($(git rev-parse --short "$sha"))"
  tree="/tmp/bucketdisk-baseline-$sha"
  if [ ! -f "$tree/app/target/bucketdisk.stamp" ]; then
    echo "engine-bench: building the previous build $prev_id in $tree..." >&2
    rm -rf "$tree"; mkdir -p "$tree"
    git archive "$sha" | tar -x -C "$tree"
    (cd "$tree" && ./mvnw -B -ntp -o -q -DskipTests -Dmaven.test.skip.exec=true package -pl app -am \
      >"$work/baseline-build.log" 2>&1) || { tail -30 "$work/baseline-build.log" >&2; die "the previous build $prev_id does not build"; }
    touch "$tree/app/target/bucketdisk.stamp"
  fi
  prev_cli=("$java" --enable-native-access=ALL-UNNAMED -XX:+UseZGC -Xss512k
    -cp "$tree/app/target/classes:$tree/app/target/lib/*" io.bucketdisk.app.Main)
fi

# ---- S3: s3proxy on loopback from the store module's test class path, counting on the server side ----
s3_endpoint=""; counters_url=""
if [[ " $STORES " == *" s3 "* ]]; then
  start_s3proxy; live+=("$s3pid")
fi

# The gateway's store counters from its Prometheus text: requests by op (every attempt) and payload bytes.
metrics_py=$(cat <<'PY'
import re, sys
v = {}
for line in sys.stdin:
    m = re.match(r'bucketdisk_store_requests_seconds_count\{op="(\w+)"\} (\S+)', line)
    if m: v[m.group(1)] = float(m.group(2))
    m = re.match(r'bucketdisk_store_payload_bytes_total\{direction="(\w+)"\} (\S+)', line)
    if m: v[m.group(1)] = float(m.group(2))
if any(k not in v for k in ("get", "put", "delete", "up", "down")):
    sys.exit("the gateway /metrics lack store request counters")
for name, k in (("gets", "get"), ("get_bytes", "down"), ("puts", "put"), ("put_bytes", "up"), ("deletes", "delete")):
    print(name, int(v[k]))
PY
)
# ---- store-side counters: gets get_bytes puts put_bytes deletes, as "k v" lines ----
counters() { # store server
  if [ "$1" = s3 ]; then
    curl -sf "$counters_url" || die "the counting s3proxy does not answer"
  elif [ "$2" != s3backer ]; then
    curl -sf "http://$metrics_addr/metrics" | python3 -c "$metrics_py" \
      || die "cannot read the gateway's store counters from /metrics"
  else
    echo "none 0"
  fi
}
delta() { # before-file after-file store server job  -> records job.<counter> deltas
  python3 - "$@" <<'PY' >>"$results"
import sys
b = dict(l.split() for l in open(sys.argv[1]) if l.strip())
a = dict(l.split() for l in open(sys.argv[2]) if l.strip())
for k in ("gets", "get_bytes", "puts", "put_bytes", "deletes"):
    if k in a:
        print(f"{sys.argv[3]}\t{sys.argv[4]}\t{sys.argv[5]}.{k}\t{int(float(a[k]) - float(b[k]))}")
PY
}

# ---- servers ----
server_pid=""; target=(); metrics_addr=""; mnt=""; s3b_args=()
start_gateway() { # store server fresh(1/0)
  local store=$1 who=$2 cli url port
  if [ "$who" = this ]; then cli=("${this_cli[@]}"); else cli=("${prev_cli[@]}"); fi
  local place="$who${round_suffix:-}"  # each round of (e) writes a volume of its own
  if [ "$store" = s3 ]; then url=$(s3_url "$place/"); else url="file://$work/dir-$place"; mkdir -p "$work/dir-$place"; fi
  if [ "$3" = 1 ]; then
    "${cli[@]}" volume create --store "$url" --size "$ws_bytes" bench >>"$work/$store-$who.log" 2>&1 \
      || die "$who: volume create failed on the $store store (log: $work/$store-$who.log)"
  fi
  port=$(free_port); metrics_addr="127.0.0.1:$(free_port)"
  "${cli[@]}" gateway --store "$url" --cache-size "$CACHE" --listen "127.0.0.1:$port" \
    --control "unix://$work/control-$who.sock" --metrics "$metrics_addr" >>"$work/$store-$who.log" 2>&1 &
  server_pid=$!; live+=("$server_pid")
  for _ in $(seq 1 300); do
    nbdinfo --size "nbd://127.0.0.1:$port/bench" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || die "$who gateway exited on the $store store (log: $work/$store-$who.log)"
    sleep 0.2
  done
  nbdinfo --size "nbd://127.0.0.1:$port/bench" >/dev/null 2>&1 || die "$who gateway did not serve within 60 s"
  target=(--ioengine=nbd "--uri=nbd://127.0.0.1:$port/bench")
}
start_s3backer() { # store fresh(1/0)
  local store=$1
  mnt="$work/mnt-$store"; mkdir -p "$mnt"
  if [ "$store" = s3 ]; then
    s3b_args=(--baseURL="$s3_endpoint/" --accessId=access --accessKey=secret --authVersion=aws4 --prefix=s3backer/
      --blockSize=1M --size="$ws_bytes" --blockCacheSize=$((cache_bytes / block)) bucketdisk)
  else
    mkdir -p "$work/dir-s3backer"
    s3b_args=(--test --blockSize=1M --size="$ws_bytes" --blockCacheSize=$((cache_bytes / block)) "$work/dir-s3backer")
  fi
  s3backer -f "${s3b_args[@]}" "$mnt" >>"$work/$store-s3backer.log" 2>&1 &
  server_pid=$!; live+=("$server_pid"); mounts+=("$mnt")
  for _ in $(seq 1 300); do
    [ -f "$mnt/file" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "s3backer exited on the $store store (log: $work/$store-s3backer.log)"
    sleep 0.2
  done
  [ -f "$mnt/file" ] || die "s3backer did not mount within 60 s"
  target=(--ioengine=libaio --direct=1 "--filename=$mnt/file")
}
start_server() { if [ "$2" = s3backer ]; then start_s3backer "$1" "$3"; else start_gateway "$@"; fi; }
stop_server() { # store server; graceful (flushes), bounded
  if [ "$2" = s3backer ]; then
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  else
    kill -TERM "$server_pid" 2>/dev/null || true
  fi
  for _ in $(seq 1 3000); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$server_pid" 2>/dev/null && die "$2 did not stop within 600 s on the $1 store"
  wait "$server_pid" 2>/dev/null || true
  forget "$server_pid"
}

# ---- measuring ----
reset_hwm() { echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || die "cannot reset the peak RSS of $server_pid (needs root)"; }
peak_rss() { awk '/VmHWM/{print $2 * 1024}' "/proc/$server_pid/status"; }
run_fio() { # name out.json limit-seconds jobfile [extra]
  local name=$1 out=$2 limit=$3 job=$4; shift 4
  timeout "$limit" fio --output-format=json "${target[@]}" "$@" "bench/fio/$job" >"$out" 2>"$out.err" \
    || die "fio $name failed or ran over ${limit}s: $(tail -3 "$out.err")"
  python3 - "$out" <<'PY' || die "fio $name reported an error"
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])["jobs"][0]
sys.exit(1 if j["error"] else 0)
PY
}
fio_field() { # json expr over job j
  python3 - "$1" "$2" <<'PY'
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t[t.index("{"):])["jobs"][0]
print(eval(sys.argv[2], {"j": j}))
PY
}
settle() { # store server -> SETTLED: seconds until the store side last changed (bounded by SETTLE_MAX)
  local store=$1 who=$2 t0 t_last last cur quiet=0 i
  t0=$(now); t_last=$t0; SETTLED=""
  if [ "$who" = s3backer ]; then
    for i in $(seq 1 $((SETTLE_MAX * 5))); do
      [ "$(awk '/block_cache_dirty_ratio/{print $2}' "$mnt/stats")" = 0.0000 ] && break; sleep 0.2
    done
    [ "$(awk '/block_cache_dirty_ratio/{print $2}' "$mnt/stats")" = 0.0000 ] || SETTLED=">$SETTLE_MAX"
    t_last=$(now)
  fi
  if [ "$store" = s3 ] || [ "$who" != s3backer ]; then
    counters "$store" "$who" | grep -E '^(puts|deletes|gets) ' >"$work/settle0"
    for i in $(seq 1 "$SETTLE_MAX"); do
      sleep 1
      counters "$store" "$who" | grep -E '^(puts|deletes|gets) ' >"$work/settle1"
      if cmp -s "$work/settle0" "$work/settle1"; then
        quiet=$((quiet + 1)); [ "$quiet" -ge "$QUIET" ] && break
      else
        quiet=0; t_last=$(now); cp "$work/settle1" "$work/settle0"
      fi
    done
    [ "$quiet" -ge "$QUIET" ] || SETTLED=">$SETTLE_MAX"
  fi
  [ -n "$SETTLED" ] || SETTLED=$(python3 -c "print(f'{$t_last-$t0:.1f}')")
}
cpu_since() { awk -v now="$(cpu_ticks "/proc/$1/stat")" -v t0="$2" -v hz="$clk_tck" 'BEGIN {printf "%.2f", (now - t0) / hz}'; }
job() { # store server key jobfile limit env... -- extra fio args ; leaves $work/j.json
  local store=$1 who=$2 key=$3 file=$4 limit=$5; shift 5
  counters "$store" "$who" >"$work/c0"; reset_hwm
  cpu0_server=$(cpu_ticks "/proc/$server_pid/stat"); cpu0_s3=""; [ "$store" = s3 ] && cpu0_s3=$(cpu_ticks "/proc/$s3pid/stat")
  local t0 t1; t0=$(now)
  (export "$@"; run_fio "$key" "$work/j.json" "$limit" "$file")
  t1=$(now)
  record "$store" "$who" "$key.wall_s" "$(python3 -c "print(f'{$t1-$t0:.2f}')")"
  record "$store" "$who" "$key.client_bytes" "$(fio_field "$work/j.json" 'j["read"]["io_bytes"]+j["write"]["io_bytes"]')"
  record "$store" "$who" "$key.fio_cpu_s" "$(fio_field "$work/j.json" 'round((j["usr_cpu"]+j["sys_cpu"])/100*j["job_runtime"]/1000,2)')"
}
job_end() { # store server key [settle]
  if [ "${4:-0}" = 1 ]; then settle "$1" "$2"; record "$1" "$2" "$3.settle_s" "$SETTLED"; fi
  # CPU of the server and of s3proxy from the job's start until now (a settle included): who pays for a byte
  record "$1" "$2" "$3.server_cpu_s" "$(cpu_since "$server_pid" "$cpu0_server")"
  [ -z "$cpu0_s3" ] || record "$1" "$2" "$3.s3_cpu_s" "$(cpu_since "$s3pid" "$cpu0_s3")"
  counters "$1" "$2" >"$work/c1"; delta "$work/c0" "$work/c1" "$1" "$2" "$3"
  record "$1" "$2" "$3.rss" "$(peak_rss)"
  if [ "$NMT" = 1 ] && [ "$2" = this ]; then
    mkdir -p "$work/nmt"
    { echo "VmHWM_kB $(awk '/VmHWM/{print $2}' "/proc/$server_pid/status")"
      "$JAVA_HOME/bin/jcmd" "$server_pid" VM.native_memory summary; } >"$work/nmt/$1-$3.txt" 2>&1 || true
  fi
}

# FLUSH honesty: write 1 MiB of a pattern, FLUSH (fsync), SIGKILL the server at once, restart, read it back.
probe_flush() { # store server
  local store=$1 who=$2 img opts=()
  if [ "$who" = s3backer ]; then img="$mnt/file"; opts=(-t none); else img="${target[1]#--uri=}"; fi
  qemu-io -f raw "${opts[@]}" -c 'write -P 0x5b 0 1M' -c flush "$img" >"$work/probe.out" 2>&1 \
    || die "flush probe: the write through $who failed: $(tail -2 "$work/probe.out")"
  kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true; forget "$server_pid"
  if [ "$who" = s3backer ]; then
    umount -l "$mnt" 2>/dev/null || true
    s3backer --reset-mounted-flag "${s3b_args[@]}" >>"$work/$store-s3backer.log" 2>&1 || true
  fi
  start_server "$store" "$who" 0
  if [ "$who" = s3backer ]; then img="$mnt/file"; else img="${target[1]#--uri=}"; fi
  # qemu-io exits 1 both when the pattern differs and when the read fails: tell them apart by its output.
  qemu-io -f raw "${opts[@]}" -r -c 'read -P 0x5b 0 1M' "$img" >"$work/probe.out" 2>&1 || true
  if grep -q "^Pattern verification failed" "$work/probe.out"; then
    record "$store" "$who" probe lost
  elif grep -q "^read 1048576/1048576 bytes" "$work/probe.out"; then
    record "$store" "$who" probe kept
  else
    # a server that cannot serve the read after its restart is a result too (the previous builds' closes folded the
    # whole log while the next client waited out its handshake); the table says so and the run goes on
    echo "engine-bench: flush probe: the read back through $who failed: $(tail -2 "$work/probe.out")" >&2
    record "$store" "$who" probe unreadable
  fi
}

# ---- the jobs, per store and server ----
limit_seq=$(( 600 + ws_bytes / 200000 ))   # at least 200 kB/s, or the run stops as broken
limit_timed() { echo $(( $1 + SETTLE_MAX + 900 )); }
servers_for() { # store -> the servers compared on it
  if [ -n "${SERVERS:-}" ]; then echo "$SERVERS"; return; fi
  # s3backer's only local backend, --test, sleeps 0-200 ms per block I/O on purpose (test_io.c): no benchmark.
  if [ "$1" = s3 ] && [ "$S3BACKER" = 1 ]; then echo this prev s3backer; else echo this prev; fi
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(now)

raw_bench() { # [fresh-get]: bench/RawStoreBench.java on $raw_url, its figures appended to $work/raw.out
  "$java" -cp "app/target/classes:app/target/lib/*" bench/RawStoreBench.java "$raw_url" "$ws_bytes" $((4 << 20)) 8 "$@" \
    >>"$work/raw.out" 2>>"$work/raw.log" || die "raw store benchmark failed: $(tail -3 "$work/raw.log")"
}
for store in $STORES; do
  [ "$store" = dir ] || [ "$store" = s3 ] || die "STORES may name dir and s3, not $store"
  # job (e) and the raw figures STREAM_ROUNDS times, the servers' order reversed every other round; the report
  # takes the median of each figure (a stream of 1 GiB moves 10-30% from one run to the next here)
  for round in $(seq 1 "$STREAM_ROUNDS"); do
    round_suffix=""; [ "$round" = 1 ] || round_suffix="-r$round"
    order=$(servers_for "$store"); [ $((round % 2)) = 1 ] || order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
    echo "engine-bench: raw $store PUT/GET (the gateway's store client, 4 MiB objects, 8 at a time; GETs also by a fresh process)..." >&2
    if [ "$store" = s3 ]; then raw_url=$(s3_url raw/); else mkdir -p "$work/dir-raw"; raw_url="file://$work/dir-raw"; fi
    : >"$work/raw.out"; : >"$work/raw.log"
    raw_bench
    raw_bench fresh-get  # the GETs again as the first thing a new process does: what a fresh gateway's cold read compares with
    for field in put_mib_s get_mib_s get_again_mib_s fresh_get_mib_s small_put_mean_us small_put_p99_us; do
      record "$store" raw "$field" "$(awk -v f="$field" '$1 == f {print $2}' "$work/raw.out")"
    done

    for who in $order; do
      echo "engine-bench: $store store, $who: (e) sequential write + FLUSH, cold read..." >&2
      start_server "$store" "$who" 1
      job "$store" "$who" seqwrite engine-seqwrite.fio "$limit_seq" WS="$ws_bytes"
      job_end "$store" "$who" seqwrite 1
      stop_server "$store" "$who"
      start_server "$store" "$who" 0
      job "$store" "$who" seqread engine-seqread.fio "$limit_seq" WS="$ws_bytes"
      job_end "$store" "$who" seqread
      # the same read again in the same process: its runtime is warm now, and 4x the cache means it is still a miss
      # (the job's GETs in the requests table show how much)
      job "$store" "$who" seqread2 engine-seqread.fio "$limit_seq" WS="$ws_bytes"
      job_end "$store" "$who" seqread2
      stop_server "$store" "$who"
    done
  done
  [ "$JOBS" = all ] || continue

  for who in $(servers_for "$store"); do
    echo "engine-bench: $store store, $who: (b) 4k random read QD32 over 4x the cache..." >&2
    start_server "$store" "$who" 0
    job "$store" "$who" randread "engine-randread.fio" "$(limit_timed "$SECONDS_EACH")" WS="$ws_bytes" RUNTIME="$SECONDS_EACH"
    record "$store" "$who" randread.iops "$(fio_field "$work/j.json" 'round(j["read"]["iops"])')"
    job_end "$store" "$who" randread

    echo "engine-bench: $store store, $who: (a) 4k random write QD32 over 4x the cache, ${RANDWRITE_SECONDS}s + FLUSH..." >&2
    job "$store" "$who" randwrite engine-randwrite.fio "$(limit_timed "$RANDWRITE_SECONDS")" WS="$ws_bytes" RUNTIME="$RANDWRITE_SECONDS"
    record "$store" "$who" randwrite.iops "$(fio_field "$work/j.json" 'round(j["write"]["iops"])')"
    record "$store" "$who" randwrite.run_s "$RANDWRITE_SECONDS"
    job_end "$store" "$who" randwrite 1

    echo "engine-bench: $store store, $who: (d) 4k write + FLUSH at QD1..." >&2
    job "$store" "$who" syncwrite engine-syncwrite.fio "$(limit_timed "$SECONDS_EACH")" WS="$ws_bytes" RUNTIME="$SECONDS_EACH"
    record "$store" "$who" syncwrite.write_us "$(fio_field "$work/j.json" 'round(j["write"]["lat_ns"]["mean"]/1000,1)')"
    record "$store" "$who" syncwrite.flush_us "$(fio_field "$work/j.json" 'round(j["sync"]["lat_ns"]["mean"]/1000,1)')"
    record "$store" "$who" syncwrite.flush_p99_us "$(fio_field "$work/j.json" 'round(j["sync"]["lat_ns"]["percentile"]["99.000000"]/1000,1)')"
    record "$store" "$who" syncwrite.write_p99_us "$(fio_field "$work/j.json" 'round(j["write"]["clat_ns"]["percentile"]["99.000000"]/1000,1)')"
    record "$store" "$who" syncwrite.flushes "$(fio_field "$work/j.json" 'j["sync"]["total_ios"]')"
    job_end "$store" "$who" syncwrite

    echo "engine-bench: $store store, $who: (c) 4k random read QD32, warm, over 80% of the cache..." >&2
    (export WS="$warm_bytes" RUNTIME=5; run_fio warm "$work/w.json" 600 engine-seqread.fio; run_fio warm "$work/w.json" 600 engine-randread.fio)
    job "$store" "$who" warmread "engine-randread.fio" "$(limit_timed "$SECONDS_EACH")" WS="$warm_bytes" RUNTIME="$SECONDS_EACH"
    record "$store" "$who" warmread.iops "$(fio_field "$work/j.json" 'round(j["read"]["iops"])')"
    job_end "$store" "$who" warmread

    echo "engine-bench: $store store, $who: FLUSH honesty probe (fsync, SIGKILL, read back)..." >&2
    probe_flush "$store" "$who"
    stop_server "$store" "$who"
  done
done

# (c)'s reference: the front end's own figure, the same job against this build's in-memory export.
if [ "$JOBS" = all ]; then
echo "engine-bench: memory export (the front end's own figure)..." >&2
port=$(free_port)
"${this_cli[@]}" gateway --store memory:// --listen "127.0.0.1:$port" --control "unix://$work/control-mem.sock" \
  >"$work/memory.log" 2>&1 &
server_pid=$!; live+=("$server_pid")
for _ in $(seq 1 300); do nbdinfo --size "nbd://127.0.0.1:$port/demo" >/dev/null 2>&1 && break; sleep 0.2; done
nbdinfo --size "nbd://127.0.0.1:$port/demo" >/dev/null 2>&1 || die "the memory export did not start"
target=(--ioengine=nbd "--uri=nbd://127.0.0.1:$port/demo")
(export WS="$warm_bytes" RUNTIME=5; run_fio warm "$work/w.json" 600 engine-seqwrite.fio; run_fio warm "$work/w.json" 600 engine-randread.fio)
(export WS="$warm_bytes" RUNTIME="$SECONDS_EACH"; run_fio memory "$work/j.json" "$(limit_timed "$SECONDS_EACH")" engine-randread.fio)
record all memory warmread.iops "$(fio_field "$work/j.json" 'round(j["read"]["iops"])')"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; forget "$server_pid"
fi

# ---- report ----
mkdir -p bench/results
out="bench/results/$(date -u +%Y-%m-%d-%H%M)-engine.md"
python3 bench/engine_report.py "$results" \
  --title "Engine benchmark $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$SMOKE" = 1 ] && echo ' (SMOKE settings: not the figures the issue asks for)')" \
  --machine "$(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)" \
  --load "before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)" \
  --minutes "$(python3 -c "print(f'{($(now)-$t_start)/60:.0f}')")" \
  --this "$this_id" --prev "$prev_id" \
  --s3backer "$(s3backer --version 2>&1 | head -1 || true)" \
  --tools "$(fio --version), $("$java" -version 2>&1 | head -1), s3proxy 4.1.0 (filesystem blob store on local disk)" \
  --cache "$CACHE" --cache-bytes "$cache_bytes" --ws "$ws_bytes" --warm "$warm_bytes" \
  --randwrite-s "$RANDWRITE_SECONDS" --each-s "$SECONDS_EACH" --smoke "$SMOKE" \
  --command "${SMOKE:+SMOKE=$SMOKE }$([ "$JOBS" = all ] || echo "JOBS=$JOBS ")${SERVERS:+SERVERS='$SERVERS' }$([ "$STREAM_ROUNDS" = 1 ] || echo "STREAM_ROUNDS=$STREAM_ROUNDS ")CACHE=$CACHE RANDWRITE_SECONDS=$RANDWRITE_SECONDS SECONDS_EACH=$SECONDS_EACH STORES='$STORES' bench/engine-bench.sh" \
  >"$out" || die "the report could not be written"
if [ "$NMT" = 1 ] && [ -d "$work/nmt" ]; then
  cp -r "$work/nmt" "${out%.md}-nmt"
  { echo; echo "NMT=1: this build's gateway under -XX:NativeMemoryTracking=summary (files in ${out%.md}-nmt/), MiB:"; echo
    echo "| store-job | VmHWM | NMT committed | heap | malloc now | malloc peak | Compiler arena peak | Arena Chunk peak |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for f in "${out%.md}-nmt"/*.txt; do
      awk -v n="$(basename "$f" .txt)" '
        function kb(s, k) { return (match(s, k "=[0-9]+KB") ? substr(s, RSTART + length(k) + 1, RLENGTH - length(k) - 3) : 0) / 1024 }
        /^VmHWM_kB/ { hwm = $2 / 1024 }
        /^Total:/ { total = kb($0, "committed") }
        /Java Heap/ { heap = kb($0, "committed") }
        /^ *malloc: / { if (match($0, /malloc: [0-9]+KB/)) now = substr($0, RSTART + 8, RLENGTH - 10) / 1024; peak = kb($0, "peak") }
        /tag=Compiler/ { getline; if (/arena=/) cpeak = kb($0, "peak") }
        /tag=Arena Chunk/ { apeak = kb($0, "peak") }
        END { printf "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", n, hwm, total, heap, now, peak, cpeak, apeak }' "$f"
    done; } >>"$out"
fi
cat "$out"
echo "results: $out" >&2
