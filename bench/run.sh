#!/usr/bin/env bash
# One-command NBD benchmark: the bucketdisk gateway (memory export), nbdkit memory and qemu-nbd (raw file in
# /dev/shm) on loopback, each driven by fio's nbd engine with the same jobs. Each row runs REPEAT times, the
# servers taking turns, and reports the median. Prints every figure and the ratio gateway/nbdkit, and writes
# bench/results/<date>.md with the machine it ran on.
#   bench/run.sh                          full run (about 5 minutes)
#   RUNTIME=3 REPEAT=1 bench/run.sh       quick look
#   BASELINE_CP='/tmp/old/classes:/tmp/old/lib/*' bench/run.sh
#                                         also runs an earlier build (a copy of app/target/classes and
#                                         app/target/lib) as "baseline", through this tree's launcher (the
#                                         same JVM flags), for a before/after in one run;
#                                         BASELINE_NAME='commit abc1234' names it in the results file
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
RUNTIME=${RUNTIME:-5}
REPEAT=${REPEAT:-3}
SIZE=${SIZE:-256M}
work=$(mktemp -d /tmp/bdbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work" /dev/shm/bdbench.raw
}
trap cleanup EXIT

for tool in fio nbdkit qemu-nbd nbdinfo python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
fio --enghelp=nbd >/dev/null 2>&1 || { echo "bench: this fio has no nbd engine" >&2; exit 1; }

. bench/bench-lib.sh
wait_nbd() {
  for _ in $(seq 1 300); do nbdinfo --size "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "bench: $1 did not come up" >&2; exit 1
}

gw_port=$(free_port); kit_port=$(free_port); qn_port=$(free_port)
./bucketdisk --version >/dev/null   # builds once if needed
# The gateway's NBD server over its in-memory export: the same kind of backend as nbdkit memory.
./bucketdisk gateway --store memory:// --listen "127.0.0.1:$gw_port" --control "unix://$work/control.sock" \
  >"$work/gw.log" 2>&1 & pids+=($!)
nbdkit -f -p "$kit_port" memory 1G >"$work/nbdkit.log" 2>&1 & pids+=($!)
truncate -s 1G /dev/shm/bdbench.raw
qemu-nbd -f raw -t -e 16 -x demo -p "$qn_port" /dev/shm/bdbench.raw >"$work/qemu-nbd.log" 2>&1 & pids+=($!)
if [ -n "${BASELINE_CP:-}" ]; then
  base_port=$(free_port)
  # through this tree's launcher, so that both builds run with the same JVM flags (heap, collector)
  JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java" BUCKETDISK_CLASSPATH="$BASELINE_CP" \
    sh deploy/bucketdisk.sh gateway --store memory:// --listen "127.0.0.1:$base_port" \
    --control "unix://$work/control-base.sock" >"$work/baseline.log" 2>&1 & pids+=($!)
fi

declare -A uri=(
  [gateway]="nbd://127.0.0.1:$gw_port/demo"
  [nbdkit]="nbd://127.0.0.1:$kit_port/"
  [qemu-nbd]="nbd://127.0.0.1:$qn_port/demo"
)
servers=(gateway nbdkit qemu-nbd)
if [ -n "${BASELINE_CP:-}" ]; then
  uri[baseline]="nbd://127.0.0.1:$base_port/demo"
  servers+=(baseline)
fi
for s in "${servers[@]}"; do wait_nbd "${uri[$s]}"; done

# name | fio arguments | metric (iops, bw = MB/s, lat = mean completion latency in us)
jobs=(
  "4k randread QD32|--rw=randread --bs=4k --iodepth=32|iops"
  "4k randwrite QD32|--rw=randwrite --bs=4k --iodepth=32|iops"
  "4k randread QD1 latency|--rw=randread --bs=4k --iodepth=1|lat"
  "1M seq read QD4|--rw=read --bs=1M --iodepth=4|bw"
  "1M seq write QD4|--rw=write --bs=1M --iodepth=4|bw"
)

fio_json() { # uri, extra args...
  local u=$1; shift
  fio --name=bench --ioengine=nbd --uri="$u" --size="$SIZE" --time_based --runtime="$RUNTIME" \
    --ramp_time=1 --output-format=json "$@" 2>/dev/null
}
metric() { # json file, metric
  python3 - "$1" "$2" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
job = json.loads(text[text.index("{"):])["jobs"][0]  # the nbd engine prints a line before the JSON
m = sys.argv[2]
r, w = job["read"], job["write"]
side = r if r["io_bytes"] > 0 else w
if m == "iops":
    print(f'{side["iops"]:.0f}')
elif m == "bw":
    print(f'{side["bw_bytes"] / 1e6:.0f}')
else:
    print(f'{side["clat_ns"]["mean"] / 1000:.1f}')
PY
}

# Warm: fill the benchmark range on every server (allocates memory pages) and let the JIT compile the gateway.
for s in "${servers[@]}"; do
  fio --name=warm --ioengine=nbd --uri="${uri[$s]}" --size="$SIZE" --rw=write --bs=1M --iodepth=8 >/dev/null 2>&1
done
for s in gateway ${BASELINE_CP:+baseline}; do
  fio_json "${uri[$s]}" --rw=randrw --bs=4k --iodepth=32 --runtime=5 >/dev/null
done

out="bench/results/$(date -u +%Y-%m-%d-%H%M).md"
bcols=${BASELINE_CP:+ baseline | baseline/nbdkit |}
cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
{
  echo "# NBD benchmark $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Tools: $(fio --version), $(nbdkit --version | head -1), $(qemu-nbd --version | head -1), $("${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"/bin/java -version 2>&1 | head -1)."
  echo "fio nbd engine over loopback TCP, one job, ${RUNTIME}s per run after 1s ramp, range $SIZE (pre-written);"
  echo "each figure is the median of $REPEAT runs, the servers taking turns."
  echo "Gateway: \`./bucketdisk gateway --store memory://\` (in-memory export, build $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- nbd-gateway engine app 2>/dev/null || echo ' with local changes'));"
  if [ -n "${BASELINE_CP:-}" ]; then
    echo "baseline: the same command from \`$BASELINE_CP\`${BASELINE_NAME:+ ($BASELINE_NAME)};"
  fi
  echo "nbdkit: \`nbdkit memory 1G\`;"
  echo "qemu-nbd: raw file in /dev/shm."
  echo
  echo "| job | unit | gateway | nbdkit | qemu-nbd | gateway/nbdkit |$bcols"
  echo "|---|---|---:|---:|---:|---:|${BASELINE_CP:+---:|---:|}"
} >"$out"

printf '%-26s %-6s %10s %10s %10s %10s\n' job unit gateway nbdkit qemu-nbd gw/nbdkit
for j in "${jobs[@]}"; do
  IFS='|' read -r name args m <<<"$j"
  declare -A runs=() val=()
  for _ in $(seq 1 "$REPEAT"); do
    for s in "${servers[@]}"; do
      # shellcheck disable=SC2086
      fio_json "${uri[$s]}" $args >"$work/$s.json"
      runs[$s]="${runs[$s]:-} $(metric "$work/$s.json" "$m")"
    done
  done
  for s in "${servers[@]}"; do
    val[$s]=$(python3 -c "import statistics,sys; m = statistics.median(float(x) for x in sys.argv[1:]); print(f'{m:.0f}' if m >= 100 else f'{m:.1f}')" ${runs[$s]})
  done
  unit=$([ "$m" = iops ] && echo IOPS || { [ "$m" = bw ] && echo MB/s || echo "us"; })
  # For latency lower is better: the ratio is nbdkit/gateway so that >= 1.0 always means "gateway as good".
  ratio_of() {
    if [ "$m" = lat ]; then
      python3 -c "print(f'{${val[nbdkit]}/${val[$1]}:.2f}')"
    else
      python3 -c "print(f'{${val[$1]}/${val[nbdkit]}:.2f}')"
    fi
  }
  ratio=$(ratio_of gateway)
  extra=""
  if [ -n "${BASELINE_CP:-}" ]; then
    extra=" ${val[baseline]} | $(ratio_of baseline) |"
  fi
  printf '%-26s %-6s %10s %10s %10s %10s %s\n' "$name" "$unit" "${val[gateway]}" "${val[nbdkit]}" "${val[qemu-nbd]}" "$ratio" \
    "${BASELINE_CP:+baseline ${val[baseline]} (ratio $(ratio_of baseline))}"
  echo "| $name | $unit | ${val[gateway]} | ${val[nbdkit]} | ${val[qemu-nbd]} | $ratio |$extra" >>"$out"
done
{
  echo
  echo "Latency row: mean completion latency; its ratio is nbdkit/gateway, so >= 1.0 means the gateway is as fast."
  if [ -n "${BASELINE_CP:-}" ]; then
    echo "Baseline: an earlier gateway build run in the same pass (\`BASELINE_CP\`), with its own ratio to nbdkit."
  fi
  echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$out"
echo "results: $out"
