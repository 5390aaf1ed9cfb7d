#!/usr/bin/env bash
# Builds the bucketdisk image from deploy/Dockerfile with buildah, without a Docker engine or a registry, and prints
# its size. The Dockerfile's base images are made here, tagged with the names the Dockerfile uses, so the build runs
# with --pull=never:
#   debian:bookworm-slim     debootstrap --variant=minbase bookworm, docs, man pages and locales dropped as in the real one
#   eclipse-temurin:25-jdk   that root plus curl, binutils (jlink --strip-debug runs objcopy), ca-certificates and this
#                            machine's JDK 25 at /opt/java/openjdk, with JAVA_HOME and PATH as the official image sets them
# Everything lives under .cache/image: the Debian root (a tar), a private podman/buildah storage (base images and the
# build's cached layers), the Maven repository of the build stage (its RUN --mount=type=cache) and the two
# configuration files podman and buildah read here (print them with `scripts/image.sh --env`).
# Usage: scripts/image.sh [TAG]   (default: the tag the manifests use, ghcr.io/bucketdisk/bucketdisk:<version>)
#        scripts/image.sh --env   (prints the exports that make podman and buildah use that storage and settings)
# Needs root (or sudo) for debootstrap and podman; podman, buildah, runc and debootstrap come from scripts/setup.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache="$root/.cache/image"
mkdir -p "$cache/tmp"
[ "$(id -u)" -eq 0 ] || { echo "image: run as root (debootstrap and podman need it): sudo $0 $*" >&2; exit 1; }

# How podman and buildah run on these machines, in the two files they read (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF):
# - runc, not crun: the cgroups are mounted in hybrid mode (v1 controllers plus an empty v2), which crun refuses.
# - explicit ulimits: podman's defaults for root (nofile and nproc 1048576) exceed this sandbox's hard limits.
# - host network: a container's ports are the host's (loopback tests need no CNI bridge).
# - a storage of our own under .cache/image: nothing shared with other builds on the machine, and cacheable.
run_id=$(printf '%s' "$root" | md5sum | cut -c1-8)
cat > "$cache/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
netns = "host"
[engine]
runtime = "runc"
tmp_dir = "/run/bucketdisk-image-$run_id/libpod"
EOF
cat > "$cache/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$cache/containers"
runroot = "/run/bucketdisk-image-$run_id/storage"
EOF
export CONTAINERS_CONF="$cache/containers.conf" CONTAINERS_STORAGE_CONF="$cache/storage.conf" BUILDAH_RUNTIME=runc
# buildah keeps RUN --mount=type=cache directories (the build's ~/.m2) under $TMPDIR.
export TMPDIR="$cache/tmp"
if [ "${1:-}" = --env ]; then
  echo "export CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF BUILDAH_RUNTIME=runc"
  exit 0
fi

version=$(sed -n 's/.*org.opencontainers.image.version="\([^"]*\)".*/\1/p' deploy/Dockerfile)
tag=${1:-ghcr.io/bucketdisk/bucketdisk:$version}
jdk=${BD_IMAGE_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$jdk/bin/jlink" ] || { echo "image: no JDK 25 with jlink at $jdk (set BD_IMAGE_JDK)" >&2; exit 1; }
for tool in podman buildah runc debootstrap; do
  command -v "$tool" >/dev/null || { echo "image: $tool is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
done
build=(buildah bud --network host --pull=never)
t0=$(date +%s)

# 1. A Debian bookworm root, once (about a minute and 40 MiB of downloads).
if [ ! -s "$cache/bookworm-slim.tar" ]; then
  echo "image: debootstrap bookworm (minbase)"
  rm -rf "$cache/rootfs"
  debootstrap --variant=minbase bookworm "$cache/rootfs" "${BD_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    > "$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # As debian:bookworm-slim: no docs, man pages or locales, now or from later apt-get installs.
  cat > "$cache/rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
  find "$cache/rootfs/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$cache"/rootfs/usr/share/{man,info,locale,groff,lintian}/* "$cache"/rootfs/var/cache/apt/*.bin \
    "$cache"/rootfs/var/lib/apt/lists/* "$cache"/rootfs/var/log/* "$cache"/rootfs/var/cache/debconf/*-old
  tar -C "$cache/rootfs" --numeric-owner -cf "$cache/bookworm-slim.tar.part" .
  mv "$cache/bookworm-slim.tar.part" "$cache/bookworm-slim.tar"
  rm -rf "$cache/rootfs"
fi

# 2. The base images, tagged with the names the Dockerfile uses (a short name means docker.io/library/...).
if ! podman image exists docker.io/library/debian:bookworm-slim; then
  echo "image: base debian:bookworm-slim"
  podman import --change 'CMD ["bash"]' "$cache/bookworm-slim.tar" docker.io/library/debian:bookworm-slim >/dev/null
fi
if ! podman image exists docker.io/library/eclipse-temurin:25-jdk; then
  echo "image: base eclipse-temurin:25-jdk (from $jdk)"
  ctx=$(mktemp -d "$cache/ctx.XXXX")
  cp -rL "$jdk" "$ctx/openjdk"  # -L: the JDK's cacerts may be a link into /etc/ssl
  # This machine's extra CAs (an egress proxy's, say), so curl and the Maven wrapper in the build reach the network.
  mkdir -p "$ctx/ca"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
  cat > "$ctx/Containerfile" <<'CF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl binutils \
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
COPY openjdk /opt/java/openjdk
ENV JAVA_HOME=/opt/java/openjdk PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["jshell"]
CF
  "${build[@]}" -q -t docker.io/library/eclipse-temurin:25-jdk -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
t1=$(date +%s)

# 3. The real Dockerfile, from the repository root; --layers reuses every step whose inputs did not change.
echo "image: building $tag from deploy/Dockerfile"
"${build[@]}" --layers --ignorefile deploy/Dockerfile.dockerignore -f deploy/Dockerfile -t "$tag" . \
  > "$cache/build.log" 2>&1 || { tail -40 "$cache/build.log" >&2; echo "image: build failed (log: $cache/build.log)" >&2; exit 1; }
grep -E '^java modules:' "$cache/build.log" | sed 's/^/image: /' || true
size=$(podman image inspect --format '{{.Size}}' "$tag")
t2=$(date +%s)
echo "image: $tag: $(( size / 1024 / 1024 )) MiB ($size bytes); bases $(( t1 - t0 )) s, build $(( t2 - t1 )) s"
