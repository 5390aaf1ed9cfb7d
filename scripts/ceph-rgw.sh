#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with a RADOS Gateway, for bucketdisk's tests against a second real S3 server.
#
#   scripts/ceph-rgw.sh start DIR    creates the cluster in DIR (must not exist or be empty), starts it, prints
#                                    "endpoint=http://127.0.0.1:PORT access-key=... secret-key=..." and
#                                    writes the same line to DIR/endpoint; exits non-zero with the failing daemon's
#                                    log tail when a step does not finish in time
#   scripts/ceph-rgw.sh stop DIR     stops the daemons started in DIR and deletes DIR
#   scripts/ceph-rgw.sh check        exits 0 when Debian's Ceph packages are installed, else names them
#
# One monitor, one BlueStore OSD on a sparse file, one radosgw; messengers on 127.0.0.1 (msgr2, crc mode), no cephx,
# no manager (placement groups go active without one), pools of size 1. Ports are free ephemeral ports. Runs as root
# or as an ordinary user; needs no systemd. Every step is bounded (START_TIMEOUT seconds in all, default 180).
set -euo pipefail

ACCESS_KEY=bucketdisk-access
SECRET_KEY=bucketdisk-secret
START_TIMEOUT=${START_TIMEOUT:-180}
need=(ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph python3 curl)

die() { echo "ceph-rgw: $*" >&2; exit 1; }

check() {
  local missing=()
  for b in "${need[@]}"; do command -v "$b" >/dev/null || missing+=("$b"); done
  if ((${#missing[@]})); then
    echo "ceph-rgw: missing ${missing[*]}; run scripts/setup.sh (installs ceph-mon ceph-osd radosgw)" >&2
    return 1
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# remaining seconds of the start budget, at least 1
left() { local l=$(( deadline - $(date +%s) )); (( l > 0 )) || fail "start budget of ${START_TIMEOUT}s used up"; echo "$l"; }

fail() {
  echo "ceph-rgw: $*" >&2
  for f in "$dir"/log/*.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f" >&2
    grep -v ' rocksdb:' "$f" | tail -n 8 >&2 || true
  done
  stop_daemons
  exit 1
}

stop_daemons() {
  local pids=() p
  for name in client.rgw osd.0 mon.a; do
    p="$dir/run/$name.pid"
    [ -f "$p" ] || continue
    pid=$(cat "$p")
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

start() {
  check
  [ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  mkdir -p "$dir"/{mon,osd0,run,log}
  dir=$(cd "$dir" && pwd)
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  local fsid mon_port rgw_port osd_uuid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  cat > "$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
# without cephx there is no session key, so the messenger must not insist on "secure" mode
ms mon client mode = crc
ms client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms service mode = crc
ms cluster mode = crc
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
mon data = $dir/mon
osd data = $dir/osd0
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 10737418240
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw thread pool size = 64
EOF
  local conf=(-c "$dir/ceph.conf")
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  timeout "$(left)" ceph-mon "${conf[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" \
    || fail "ceph-mon --mkfs failed"
  timeout "$(left)" ceph-mon "${conf[@]}" -i a || fail "ceph-mon did not start"
  local t
  t=$(left)
  timeout "$t" ceph "${conf[@]}" --connect-timeout "$t" osd new "$osd_uuid" >/dev/null \
    || fail "the monitor did not answer (ceph osd new)"
  # The OSD's data is a sparse 10 GiB file: BlueStore creates it with ftruncate, so it holds only what is written.
  timeout "$(left)" ceph-osd "${conf[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" 2>"$dir/log/osd-mkfs.err" \
    || fail "ceph-osd --mkfs failed: $(tail -n 3 "$dir/log/osd-mkfs.err")"
  timeout "$(left)" ceph-osd "${conf[@]}" -i 0 2>>"$dir/log/osd-start.err" || fail "ceph-osd did not start"
  until timeout "$(left)" ceph "${conf[@]}" --connect-timeout 5 osd dump 2>/dev/null | grep -q '^osd.0 up'; do
    left >/dev/null
    sleep 0.5
  done
  # radosgw-admin creates the gateway's pools on first use; it blocks until their placement groups are active.
  timeout "$(left)" radosgw-admin "${conf[@]}" user create --uid=bucketdisk --display-name=bucketdisk \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null || fail "radosgw-admin user create failed"
  timeout "$(left)" radosgw "${conf[@]}" -n client.rgw || fail "radosgw did not start"
  until [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$rgw_port/")" = 200 ]; do
    left >/dev/null
    sleep 0.2
  done
  local line="endpoint=http://127.0.0.1:$rgw_port access-key=$ACCESS_KEY secret-key=$SECRET_KEY"
  echo "$line" > "$dir/endpoint"
  echo "$line"
}

cmd=${1:-}
case "$cmd" in
  start) [ $# -eq 2 ] || die "usage: $0 start DIR"; dir=$2; start ;;
  stop)
    [ $# -eq 2 ] || die "usage: $0 stop DIR"; dir=$2
    [ -d "$dir" ] || exit 0
    stop_daemons
    rm -rf "$dir"
    ;;
  check) check ;;
  *) die "usage: $0 start DIR | stop DIR | check" ;;
esac
