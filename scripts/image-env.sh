# Sourced by scripts/image.sh and the image test: how podman and buildah run on these machines, and the image's tag.
# - runc, not crun: these machines mount cgroups in hybrid mode (v1 controllers plus an empty v2), which crun refuses.
# - explicit ulimits: podman's defaults for root (nofile and nproc of 1048576) exceed this sandbox's hard limits.
# - host network for RUN steps, so apt-get and the Maven wrapper reach Debian's mirror and Maven Central.
BD_PODMAN_OPTS=(--runtime runc)
BD_BUILDAH_OPTS=()
export BUILDAH_RUNTIME=runc
BD_RUN_OPTS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
BD_BUILD_OPTS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --network host)

# The image tag the manifests name (deploy/kubernetes/kustomization.yaml's images entry, else the Dockerfile label).
bd_image_tag() {
  local here; here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local version; version=$(sed -n 's/.*org.opencontainers.image.version="\([^"]*\)".*/\1/p' "$here/deploy/Dockerfile")
  echo "ghcr.io/bucketdisk/bucketdisk:${version:-0.1.0}"
}
