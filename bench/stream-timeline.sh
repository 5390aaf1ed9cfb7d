#!/usr/bin/env bash
# What a fresh gateway's 1 MiB streams look like second by second, and whether JVM flags change them: s3proxy on
# loopback; per round, a fresh gateway (this tree, through the launcher) writes a volume of WS (fio nbd, 1 MiB QD8,
# then FLUSH), another fresh one reads it twice, with fio's bandwidth logged every 200 ms. Rounds alternate A and B:
# OPTS_A and OPTS_B are added to the launcher's flags (BUCKETDISK_JAVA_OPTS). Prints every pass and its timeline,
# then the means of B / A. Not a timed test; one round pair varies by 10-20% here.
#   bench/stream-timeline.sh                                         A = B = the launcher's flags, 1 round pair
#   OPTS_B=-XX:+AlwaysPreTouch ROUNDS=3 CACHE=256M WS=1G bench/stream-timeline.sh
# THREADS=1 adds, per pass, the gateway's CPU seconds per GiB by thread group (user and system time from
# /proc/PID/task/*/stat; "exited" is what threads that ended during the pass used, e.g. a connection's readers).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/java-home.sh
bd_find_java || exit 1
export JAVA_HOME
java="$JAVA_HOME/bin/java"
CACHE=${CACHE:-256M}; WS=${WS:-1G}; ROUNDS=${ROUNDS:-1}; OPTS_A=${OPTS_A:-}; OPTS_B=${OPTS_B:-}; THREADS=${THREADS:-0}
die() { echo "stream-timeline: $*" >&2; exit 1; }
for tool in fio nbdinfo python3; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs it)"; done

work=$(mktemp -d /tmp/bdtimeline.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. bench/bench-lib.sh
./bucketdisk --version >/dev/null || die "this tree does not build"
start_s3proxy; pids+=("$s3pid")
url=$(s3_url t/)
port=$(free_port)
uri="nbd://127.0.0.1:$port"

gateway() { # opts: starts a fresh gateway, waits until it serves
  BUCKETDISK_JAVA_OPTS="$1" ./bucketdisk gateway --store "$url" --cache-size "$CACHE" --listen "127.0.0.1:$port" \
    --control "unix://$work/control.sock" >>"$work/gateway.log" 2>&1 &
  gpid=$!; pids+=("$gpid")
  for _ in $(seq 1 300); do nbdinfo --size "$uri/$vol" >/dev/null 2>&1 && return; sleep 0.2; done
  die "the gateway did not serve within 60 s (log: $work/gateway.log)"
}
stop() { kill -TERM "$gpid"; wait "$gpid" 2>/dev/null || true; }
threads() { # the gateway's CPU ticks: the process's, then each thread's group (its name less digits) and id
  echo "process $(cpu_ticks "/proc/$gpid/stat") 0"
  for t in /proc/"$gpid"/task/*; do
    echo "$(tr -d '0-9 ' <"$t/comm") $(cpu_ticks "$t/stat" 2>/dev/null || echo 0) ${t##*/}"
  done
}
pass() { # label fio-job -> MiB/s by wall time, and the timeline (and $work/threads with THREADS=1)
  local t0 t1 log="$work/bw-$1"
  [ "$THREADS" = 1 ] && threads >"$work/threads0"
  t0=$(date +%s.%N)
  WS=$WS fio --output-format=terse --ioengine=nbd "--uri=$uri/$vol" --write_bw_log="$log" --log_avg_msec=200 \
    "bench/fio/$2" >/dev/null || die "fio $2 failed"
  t1=$(date +%s.%N)
  if [ "$THREADS" = 1 ]; then
    threads >"$work/threads1"
    python3 - "$work/threads0" "$work/threads1" "$WS_BYTES" "$clk_tck" >"$work/threads" <<'PY'
import collections, sys
def ticks(path):
    return {tid: (name, int(t)) for name, t, tid in (l.split() for l in open(path))}
a, b = ticks(sys.argv[1]), ticks(sys.argv[2])
groups = collections.Counter()
for tid, (name, t) in b.items():
    if tid != "0":
        groups[name] += t - a.get(tid, (name, 0))[1]
groups["exited"] = b["0"][1] - a["0"][1] - sum(groups.values())
gib, hz = int(sys.argv[3]) / 2**30, int(sys.argv[4])
print(f"gateway CPU s/GiB {(b['0'][1] - a['0'][1]) / hz / gib:.2f}: "
      + ", ".join(f"{n} {v / hz / gib:.2f}" for n, v in groups.most_common() if v > 0))
PY
  fi
  python3 -c "print(f'{$WS_BYTES / 1048576 / ($t1 - $t0):.1f}')"
  awk -F', ' '{printf "%.1f:%d ", $1/1000, $2/1024} END {print ""}' "$log"_bw.1.log >"$work/timeline"
}
WS_BYTES=$(bytes_of "$WS") || die "WS=$WS is not a size (e.g. 1G)"
results="$work/results"; : >"$results"
for round in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    opts=OPTS_$side; vol="v$round${side,,}"
    vol=$(./bucketdisk volume create --store "$url" --size "$WS_BYTES" "$vol" 2>>"$work/create.log" | awk 'NR == 2 {print $1}')
    [ -n "$vol" ] || die "volume create failed: $(tail -2 "$work/create.log")"
    gateway "${!opts}"; w=$(pass write engine-seqwrite.fio); tw=$(cat "$work/timeline"); cw=$(cat "$work/threads" 2>/dev/null || true); stop
    gateway "${!opts}"; r1=$(pass read1 engine-seqread.fio); t1=$(cat "$work/timeline"); c1=$(cat "$work/threads" 2>/dev/null || true)
    r2=$(pass read2 engine-seqread.fio); t2=$(cat "$work/timeline"); c2=$(cat "$work/threads" 2>/dev/null || true); stop
    echo "round $round $side [${!opts}]: write $w, cold read $r1, again $r2 MiB/s"
    echo "  write  $tw"; echo "  read 1 $t1"; echo "  read 2 $t2"
    if [ "$THREADS" = 1 ]; then echo "  write  $cw"; echo "  read 1 $c1"; echo "  read 2 $c2"; fi
    printf '%s %s %s %s\n' "$side" "$w" "$r1" "$r2" >>"$results"
  done
done
python3 - "$results" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
mean = lambda side, i: st.mean(float(r[i]) for r in rows if r[0] == side)
for i, name in ((1, "write + FLUSH"), (2, "cold read, fresh gateway"), (3, "read again, same process")):
    a, b = mean("A", i), mean("B", i)
    print(f"{name}: A {a:.1f} MiB/s, B {b:.1f} MiB/s, B/A {b / a:.2f}")
PY
