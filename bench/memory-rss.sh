#!/usr/bin/env bash
# Peak RSS of the gateway (docs/cache.md#memory), the way the launcher starts it against the old JVM flags, in one
# run: a directory store, --cache-size CACHE (default 256Mi), a 1 GiB volume written sequentially, then fio's nbd
# engine, randrw 4k QD32 over all of it for RUNTIME s (default 30). Prints VmHWM and IOPS of each and the ratios.
#   bench/memory-rss.sh           (needs fio with its nbd engine: scripts/setup.sh; the app built: ./bucketdisk --help)
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/scripts/java-home.sh"
bd_find_java || exit 1
CACHE=${CACHE:-256Mi}; RUNTIME=${RUNTIME:-30}; PORT=${PORT:-10977}
cp="$root/app/target/classes:$root/app/target/lib/*"
[ -d "$root/app/target/lib" ] || { echo "memory-rss: build first (./bucketdisk --help)" >&2; exit 1; }
fio --enghelp=nbd >/dev/null 2>&1 || { echo "memory-rss: fio with the nbd engine is missing (scripts/setup.sh)" >&2; exit 1; }

one() { # LABEL COMMAND... -> "LABEL hwm_mib read_iops write_iops"
  local label=$1; shift
  local d; d=$(mktemp -d "/tmp/bdmem-$label.XXXX")
  "$JAVA_HOME/bin/java" -cp "$cp" io.bucketdisk.app.Main volume create v --size 1Gi --store "file://$d/store" >/dev/null 2>&1
  "$@" gateway --store "file://$d/store" --listen "127.0.0.1:$PORT" --control "unix://$d/control.sock" \
    --cache-size "$CACHE" >"$d/gw.log" 2>&1 &
  local pid=$!
  for _ in $(seq 150); do grep -q "serving NBD" "$d/gw.log" && break; sleep 0.2; done
  grep -q "serving NBD" "$d/gw.log" || { cat "$d/gw.log" >&2; kill $pid; exit 1; }
  fio --name=fill --ioengine=nbd --uri="nbd://127.0.0.1:$PORT/v" --rw=write --bs=1M --iodepth=8 --size=1G --output=/dev/null
  fio --name=rr --ioengine=nbd --uri="nbd://127.0.0.1:$PORT/v" --rw=randrw --bs=4k --iodepth=32 --size=1G \
    --time_based --runtime="$RUNTIME" --output-format=terse --output="$d/fio.txt"
  local hwm; hwm=$(awk '/VmHWM/{print int($2/1024)}' /proc/$pid/status)
  echo "$label $hwm $(awk -F';' '{print $8, $49}' "$d/fio.txt")"
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$d"
}

old=$(one old "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:+UseZGC -Xss512k -cp "$cp" io.bucketdisk.app.Main)
new=$(JAVA="$JAVA_HOME/bin/java" BUCKETDISK_CLASSPATH="$cp" one launcher sh "$root/deploy/bucketdisk.sh")
echo "cache $CACHE, randrw 4k QD32 over 1 GiB for $RUNTIME s"
printf '%-10s %12s %10s %10s\n' launch "peak RSS MiB" "read IOPS" "write IOPS"
for r in "$old" "$new"; do printf '%-10s %12s %10s %10s\n' $r; done
set -- $old; o_h=$2 o_r=$3 o_w=$4; set -- $new
python3 -c "import sys; o=[float(x) for x in sys.argv[1:4]]; n=[float(x) for x in sys.argv[4:7]]; print('launcher/old: RSS %.2f, read IOPS %.2f, write IOPS %.2f' % (n[0]/o[0], n[1]/o[1], n[2]/o[2]))" "$o_h" "$o_r" "$o_w" "$2" "$3" "$4"
