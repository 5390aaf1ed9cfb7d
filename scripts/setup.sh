#!/usr/bin/env bash
# Installs everything bucketdisk's tests need on a fresh Debian 12 machine: the NBD peers used by the
# interop tests, QEMU and busybox for the real-kernel VM tests, Ceph (monitor, OSD, RADOS Gateway) for the
# second real S3 server (scripts/ceph-rgw.sh), podman/buildah/debootstrap/runc to build and run the container image
# (scripts/image.sh, deploy's ImageIT), Debian's kernel package (unpacked, never installed) that provides nbd.ko,
# and s3backer (FUSE), the peer bench/engine-bench.sh compares against. Idempotent; safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(qemu-utils qemu-system-x86 libnbd-bin nbd-client nbdkit fio busybox-static cpio kmod
          e2fsprogs xfsprogs util-linux socat python3 curl openssl
          ceph-mon ceph-osd radosgw ceph-common
          podman buildah debootstrap runc s3backer)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# DeployManifestTest renders the manifests with `kubectl kustomize`. Use the machine's kubectl when it has one
# (a newer one may come from another package), else Debian's.
if ! command -v kubectl >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing kubernetes-client (kubectl)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi

# The VM tests boot Debian's own kernel, which ships nbd.ko. Download and unpack it once into .cache/kernel.
kdir="$here/.cache/kernel"
if [ ! -f "$kdir/vmlinuz" ]; then
  mkdir -p "$kdir/pkg"
  image=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$image" ] || { echo "setup: cannot find the kernel package linux-image-amd64 depends on" >&2; exit 1; }
  (cd "$kdir/pkg" && apt-get download -qq "$image")
  dpkg-deb -x "$kdir"/pkg/*.deb "$kdir/root"
  # relative, so a copied or moved checkout keeps a working link
  (cd "$kdir" && ln -sf "$(ls root/boot/vmlinuz-* | head -1)" vmlinuz)
  ls "$kdir"/root/lib/modules > "$kdir/version"
  rm -rf "$kdir/pkg"
  echo "setup: kernel $(cat "$kdir/version") unpacked in $kdir"
fi
