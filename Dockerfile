# syntax=docker/dockerfile:1
# The exporter's image: built from source in a full Node.js image, run from a slim one.
#
#   npm run image          # docker, podman or buildah, whichever is here (scripts/image.sh)
#   npm run image:save     # an OCI archive to carry into an air-gapped cluster
#   docker run --rm -p 19101:19101 imanager-port-exporter:0.1.0
#
# Both stages use the same Node.js major and Debian release: the two native addons
# (native/icmp_dgram.c for ICMP datagram sockets, and net-ping's raw-socket) are
# compiled against the build stage's Node.js and glibc.
#
# Base images are pinned by the digest of their multi-arch index, so a rebuild gets the
# same bytes and a moved tag cannot change the image. The tag each digest was taken from
# is in the comment above it. Both digests were read from public material (a BuildKit
# log resolving node:20-bookworm, and Dockerfiles pinning node:20-bookworm-slim on
# GitHub): this project's machines reach no image registry to resolve them. Refresh
# them, and check them, where a registry is reachable:
#   docker buildx imagetools inspect docker.io/library/node:20-bookworm --format '{{json .Manifest.Digest}}'
#   crane digest docker.io/library/node:20-bookworm-slim
# and change the tag comments with them. The release workflow builds from these pins.
# node:20-bookworm
ARG BUILD_IMAGE=docker.io/library/node:20-bookworm@sha256:8f693eaa7e0a8e71560c9a82b55fd54c2ae920a2ba5d2cde28bac7d1c01c9ba5
# node:20-bookworm-slim
ARG RUNTIME_IMAGE=docker.io/library/node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${BUILD_IMAGE} AS build
WORKDIR /build
# The lockfile first, so a change to src/ reuses the installed dependencies.
COPY package.json package-lock.json binding.gyp ./
COPY native ./native
# `npm ci` would run our `prepare` (tsc) before src/ is here: skip every install script,
# then build the two native addons the program needs: raw-socket, and ours from
# binding.gyp with the node-gyp that npm bundles. node-gyp uses the headers of this
# image's own Node.js (found beside its binary) instead of downloading them.
RUN npm ci --ignore-scripts --no-audit --no-fund \
  && export npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")" \
  && npm rebuild raw-socket \
  && node "$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle-vendor.mjs ./scripts/
# Compile, drop the dev dependencies (TypeScript, tsx, biome, ...), and check that what
# the runtime stage gets still loads: the entry point and both addons.
RUN npm run build \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
  && node dist/main.js --version \
  && node -e "require('raw-socket'); require('./build/Release/icmp_dgram.node')"

FROM ${RUNTIME_IMAGE}
# Set by scripts/image.sh and the release workflow: the package version, the git revision.
ARG VERSION=""
ARG REVISION=""
LABEL org.opencontainers.image.title="imanager-port-exporter" \
  org.opencontainers.image.description="Prometheus exporter for the TCP ports SuperMap iManager needs on Kubernetes nodes" \
  org.opencontainers.image.licenses="Apache-2.0" \
  org.opencontainers.image.version="${VERSION}" \
  org.opencontainers.image.revision="${REVISION}"
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the program's user: it writes nothing to its image.
COPY --from=build /build/package.json ./package.json
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
COPY --from=build /build/build/Release/icmp_dgram.node ./build/Release/icmp_dgram.node
# The vendor bundles' V8 code caches, written again by this image's Node.js: V8 refuses
# a cache made by another build of it, and the bundle is then compiled at every start
# (src/vendor/cached-bundle.ts).
RUN node --input-type=module -e "import { readdirSync } from 'node:fs'; \
  import { writeCodeCache } from './dist/vendor/cached-bundle.js'; \
  for (const f of readdirSync('dist/vendor')) \
    if (f.endsWith('.cjs')) writeCodeCache('dist/vendor/' + f);"
# nobody:nogroup, with no capability. ICMP works without one where the kernel's
# net.ipv4.ping_group_range covers group 65534: the Helm chart's icmp.enabled sets that
# sysctl for the pod; `docker run --sysctl net.ipv4.ping_group_range="65534 65534"` does
# the same by hand. Elsewhere the exporter falls back to a raw socket, which needs
# CAP_NET_RAW and so uid 0 (the chart's icmp.socket=raw).
USER 65534:65534
EXPOSE 19101
# package.json "bin": dist/main.js. Exec form: node is PID 1 and gets SIGTERM itself.
ENTRYPOINT ["node", "/app/dist/main.js"]
