#!/usr/bin/env bash
# Runs every test of bucketdisk on a fresh Debian 12 machine: installs what the tests need (apt packages and
# Debian's kernel for the VM tests, via scripts/setup.sh), then `mvnw verify` (unit, fuzz, interop, VM, e2e).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
. scripts/java-home.sh
bd_find_java
./mvnw -B -ntp verify "$@"
