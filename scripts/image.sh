#!/usr/bin/env bash
# Builds the exporter's image from the Dockerfile with whatever OCI builder is here, and
# saves it as an OCI archive for air-gapped clusters.
#
#   bash scripts/image.sh build      # npm run image
#   bash scripts/image.sh save       # npm run image:save: builds, then writes the archive
#   bash scripts/image.sh builder    # which builder would run, or why none can
#
# Tags: $IMAGE:<package version> and $IMAGE:<package version>-<git revision> (IMAGE
# defaults to imanager-port-exporter). The builder: $IMAGE_BUILDER if set, else docker
# when its daemon answers, else podman, else buildah. The archive:
# dist/imanager-port-exporter-<version>.oci.tar, an OCI image layout in a tar, for
# `skopeo copy oci-archive:...`, `podman load` or `docker load` (README.md: Air-gapped).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

fail() {
  echo "scripts/image.sh: $*" >&2
  exit 2
}

image="${IMAGE:-imanager-port-exporter}"
version="$(node -p 'require("./package.json").version')"
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
archive="$root/dist/imanager-port-exporter-$version.oci.tar"

# Prints the builder's name, or fails naming what is missing.
find_builder() {
  if [ -n "${IMAGE_BUILDER:-}" ]; then
    command -v "$IMAGE_BUILDER" >/dev/null 2>&1 || fail "IMAGE_BUILDER=$IMAGE_BUILDER: no such command"
    echo "$IMAGE_BUILDER"
    return
  fi
  # The docker client alone cannot build: it needs a daemon to talk to.
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo docker
  elif command -v podman >/dev/null 2>&1; then
    echo podman
  elif command -v buildah >/dev/null 2>&1; then
    echo buildah
  elif command -v docker >/dev/null 2>&1; then
    fail "no OCI builder: docker is installed but its daemon does not answer (docker info), and neither podman nor buildah is installed (Debian: apt-get install buildah)"
  else
    fail "no OCI builder: install docker (with its daemon), podman or buildah (Debian: apt-get install buildah)"
  fi
}

build() {
  local builder="$1"
  local args=(
    --file Dockerfile
    --tag "$image:$version"
    --tag "$image:$version-$revision"
    --build-arg "VERSION=$version"
    --build-arg "REVISION=$revision"
  )
  echo "scripts/image.sh: building $image:$version and $image:$version-$revision with $builder" >&2
  case "$builder" in
    docker | podman) "$builder" build "${args[@]}" . ;;
    buildah) buildah bud "${args[@]}" . ;;
    *) fail "unknown builder $builder: docker, podman or buildah" ;;
  esac
}

save() {
  local builder="$1"
  mkdir -p "$(dirname "$archive")"
  rm -f "$archive"
  case "$builder" in
    # Docker 25 and later write an OCI image layout (index.json, oci-layout) in the tar.
    docker) docker save --output "$archive" "$image:$version" ;;
    podman) podman save --format oci-archive --output "$archive" "$image:$version" ;;
    buildah) buildah push "$image:$version" "oci-archive:$archive:$image:$version" ;;
  esac
  echo "scripts/image.sh: wrote $archive" >&2
}

case "${1:-}" in
  builder) find_builder ;;
  build) build "$(find_builder)" ;;
  save)
    builder="$(find_builder)"
    build "$builder"
    save "$builder"
    ;;
  *) fail "usage: bash scripts/image.sh build|save|builder" ;;
esac
