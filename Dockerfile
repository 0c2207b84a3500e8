# syntax=docker/dockerfile:1
# The exporter's image: built from source in a full Node.js image, run from a slim one.
#
#   docker build -t imanager-port-exporter:0.1.0 .
#   docker run --rm -p 19101:19101 imanager-port-exporter:0.1.0
#
# Both stages use the same Node.js major and Debian release: the raw-socket addon
# (net-ping's, for ICMP) is compiled against the build stage's Node.js and glibc.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /build
# The lockfile first, so a change to src/ reuses the installed dependencies.
COPY package.json package-lock.json ./
# `npm ci` would run our `prepare` (tsc) before src/ is here: skip every install script,
# then build the one native addon the program needs. node-gyp uses the headers of this
# image's own Node.js (found beside its binary) instead of downloading them.
RUN npm ci --ignore-scripts --no-audit --no-fund \
  && npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")" npm rebuild raw-socket
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Compile, drop the dev dependencies (TypeScript, tsx, biome, ...), and check that what
# the runtime stage gets still loads: the entry point and the addon.
RUN npm run build \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
  && node dist/main.js --version \
  && node -e "require('raw-socket')"

FROM node:${NODE_VERSION}-bookworm-slim
LABEL org.opencontainers.image.title="imanager-port-exporter" \
  org.opencontainers.image.description="Prometheus exporter for the TCP ports SuperMap iManager needs on Kubernetes nodes" \
  org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the program's user: it writes nothing to its image.
COPY --from=build /build/package.json ./package.json
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
# nobody:nogroup. ICMP needs CAP_NET_RAW, which only a root process gets from a
# container runtime's added capabilities: the Helm chart's icmp.enabled switches to
# uid 0 with NET_RAW as its only capability; `docker run --user 0 --cap-drop ALL
# --cap-add NET_RAW` does the same by hand.
USER 65534:65534
EXPOSE 19101
# package.json "bin": dist/main.js. Exec form: node is PID 1 and gets SIGTERM itself.
ENTRYPOINT ["node", "/app/dist/main.js"]
