#!/usr/bin/env bash
# The tests use real parts that npm cannot bring: promtool, Prometheus and Alertmanager, a node
# exporter, nmap to check our verdicts, nftables and iproute2 for test hosts with a
# firewall, dnsmasq as the network test bed's resolver, python3 for its listeners and
# reference connect(), Chromium for the status page, and buildah for `npm run image`.
# As root they are installed from Debian when missing; otherwise we stop and name what
# to install.
set -euo pipefail

# command -> Debian package that provides it
declare -A NEEDED=(
  [promtool]=prometheus
  [prometheus]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [prometheus-node-exporter]=prometheus-node-exporter
  [prometheus-blackbox-exporter]=prometheus-blackbox-exporter
  [nmap]=nmap
  [nft]=nftables
  [ip]=iproute2
  [dnsmasq]=dnsmasq-base
  [python3]=python3
  [setpriv]=util-linux
  [openssl]=openssl
  [chromium]=chromium
  [buildah]=buildah
)

missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

# One package may provide several commands.
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-tools: missing Debian packages: ${packages[*]}; install them with: sudo apt-get install ${packages[*]}" >&2
  exit 1
fi
echo "ensure-tools: installing ${packages[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# The Debian packages start their daemons where systemd runs; tests start their own.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
