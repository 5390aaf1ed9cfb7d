#!/usr/bin/env bash
# Runs every test of bucketdisk on a fresh Debian 12 machine: installs what the tests need (apt packages and
# Debian's kernel for the VM tests, via scripts/setup.sh), then `mvnw verify` (unit, fuzz, interop, VM, e2e), then
# lists every skipped test with its reason (scripts/skips.py).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
. scripts/java-home.sh
bd_find_java
# A test missing something setup.sh installs fails instead of skipping (io.bucketdisk.testing.Requirement),
# and every skip is listed at the end; a skip for any reason but the absent Docker engine fails the run.
export BUCKETDISK_TEST_STRICT=1
status=0
./mvnw -B -ntp verify "$@" || status=$?
python3 scripts/skips.py "$root" || { [ "$status" -ne 0 ] || status=1; }
exit "$status"
