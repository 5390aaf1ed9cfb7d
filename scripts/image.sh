#!/usr/bin/env bash
# Builds the bucketdisk container image from deploy/Dockerfile with buildah, without a Docker engine or a registry,
# and prints its size. The Dockerfile's base images are made here from Debian's packages and this machine's JDK 25,
# tagged with the names the Dockerfile uses, so the build runs with --pull=never:
#   debian:bookworm-slim        debootstrap --variant=minbase bookworm, docs and man pages dropped as in the real one
#   eclipse-temurin:25-jdk      that root plus the JDK at /opt/java/openjdk (JAVA_HOME and PATH as the official image)
#   eclipse-temurin:25-jre      that root plus a jlink'd runtime of every non-tool module at /opt/java/openjdk
# Usage: scripts/image.sh [TAG]   (default: the tag the manifests use, from deploy/kubernetes/kustomization.yaml)
# Needs root (or sudo) for debootstrap; podman, buildah, debootstrap and runc come from scripts/setup.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/image-env.sh
tag=${1:-$(bd_image_tag)}
cache="$root/.cache/image"
mkdir -p "$cache"
jdk=${BD_IMAGE_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$jdk/bin/jlink" ] || { echo "image: no JDK 25 with jlink at $jdk (set BD_IMAGE_JDK)" >&2; exit 1; }

# 1. A Debian bookworm root, once (about 35 s and 70 MiB of downloads).
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
  # ...and apt cleans its downloads after each install, as the official Debian images configure it.
  cat > "$cache/rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  find "$cache/rootfs/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$cache"/rootfs/usr/share/{man,info,locale,groff,lintian}/* "$cache"/rootfs/var/cache/apt/*.bin \
    "$cache"/rootfs/var/cache/apt/archives/*.deb \
    "$cache"/rootfs/var/lib/apt/lists/* "$cache"/rootfs/var/log/*
  tar -C "$cache/rootfs" --numeric-owner -cf "$cache/bookworm-slim.tar" .
  rm -rf "$cache/rootfs"
fi

# 2. The base images, each tagged with the name the Dockerfile uses (docker.io/library/... is what a short name means).
base_exists() { podman "${BD_PODMAN_OPTS[@]}" image exists "$1"; }
if ! base_exists docker.io/library/debian:bookworm-slim; then
  echo "image: base debian:bookworm-slim"
  podman "${BD_PODMAN_OPTS[@]}" import --change 'CMD ["bash"]' "$cache/bookworm-slim.tar" \
    docker.io/library/debian:bookworm-slim >/dev/null
fi
java_base() {  # $1 = image name, $2 = directory holding the Java runtime
  local ctx; ctx=$(mktemp -d "$cache/ctx.XXXX")
  cp -rL "$2" "$ctx/openjdk"  # -L: the host JDK's cacerts may be a link into /etc/ssl
  # Like the official images, ca-certificates is installed; this machine's own extra CAs (an egress proxy's, say)
  # are trusted in the build stage only, so the Maven wrapper inside the build reaches Maven Central.
  mkdir -p "$ctx/ca"
  if [ "$1" = docker.io/library/eclipse-temurin:25-jdk ]; then
    cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
  fi
  cat > "$ctx/Containerfile" <<'CF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
COPY openjdk /opt/java/openjdk
ENV JAVA_HOME=/opt/java/openjdk PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["jshell"]
CF
  buildah "${BD_BUILDAH_OPTS[@]}" bud "${BD_BUILD_OPTS[@]}" --pull=never -q -t "$1" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
}
if ! base_exists docker.io/library/eclipse-temurin:25-jdk; then
  echo "image: base eclipse-temurin:25-jdk (from $jdk)"
  java_base docker.io/library/eclipse-temurin:25-jdk "$jdk"
fi
if ! base_exists docker.io/library/eclipse-temurin:25-jre; then
  echo "image: base eclipse-temurin:25-jre (jlink of $jdk)"
  jre=$(mktemp -d "$cache/jre.XXXX")
  modules=$("$jdk/bin/java" --list-modules | sed 's/@.*//' \
    | grep -Ev '^jdk\.(compiler|javadoc|jdeps|jlink|jpackage|jshell|jartool|jstatd|jcmd|jconsole|jdi|hotspot\.agent|editpad|internal\.(ed|le|opt|jvmstat)|graal\.compiler.*|internal\.vm\.ci)$|^java\.compiler$' \
    | paste -sd, -)
  "$jdk/bin/jlink" --add-modules "$modules" --strip-java-debug-attributes --no-man-pages --no-header-files --output "$jre/openjdk"
  java_base docker.io/library/eclipse-temurin:25-jre "$jre/openjdk"
  rm -rf "$jre"
fi

# 3. The real Dockerfile, from the repository root.
echo "image: building $tag from deploy/Dockerfile"
start=$(date +%s)
buildah "${BD_BUILDAH_OPTS[@]}" bud "${BD_BUILD_OPTS[@]}" --pull=never --layers --ignorefile deploy/Dockerfile.dockerignore \
  -f deploy/Dockerfile -t "$tag" .
size=$(podman "${BD_PODMAN_OPTS[@]}" image inspect --format '{{.Size}}' "$tag")
echo "image: $tag built in $(( $(date +%s) - start )) s, size $(( size / 1024 / 1024 )) MiB ($size bytes)"
