#!/usr/bin/env bash
# Runs every test of bucketdisk on a fresh Debian 12 machine: installs what the tests need (apt packages and
# Debian's kernel for the VM tests, via scripts/setup.sh), starts the second S3 server (a single-node Ceph RADOS
# Gateway, scripts/ceph-rgw.sh; stopped on exit) for every module's tests, then `mvnw verify` (unit, fuzz, interop,
# VM, e2e), then lists every skipped test with its reason (scripts/skips.py). s3proxy, the first S3 server, runs
# inside the tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
. scripts/java-home.sh
bd_find_java
ceph_dir=$(mktemp -d /tmp/bucketdisk-ceph-XXXXXX)
trap 'bash scripts/ceph-rgw.sh stop "$ceph_dir"' EXIT
start=$(date +%s)
BUCKETDISK_CEPH_RGW=$(bash scripts/ceph-rgw.sh start "$ceph_dir" | tail -n 1)
export BUCKETDISK_CEPH_RGW
echo "test: Ceph RGW up in $(( $(date +%s) - start )) s: ${BUCKETDISK_CEPH_RGW%% *}"
# A test missing something setup.sh installs fails instead of skipping (io.bucketdisk.testing.Requirement),
# and every skip is listed at the end; a skip for any reason but the absent Docker engine fails the run.
export BUCKETDISK_TEST_STRICT=1
status=0
./mvnw -B -ntp verify "$@" || status=$?
python3 scripts/skips.py "$root" || { [ "$status" -ne 0 ] || status=1; }
exit "$status"
