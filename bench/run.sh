#!/usr/bin/env bash
# Every benchmark in bench/, with the programs they compare against: `npm run bench`.
#
#   bash bench/run.sh [--quick] [--only NAME[,NAME...]] [probe-throughput options]
#
# --quick: shorter runs of everything (about 5 minutes instead of 28); the figures are
# rougher, for a check that the benchmarks still work. --only: just these runs
# (connect-latency, probe-throughput, probe-throughput-50k, probe-throughput-dropped,
# check-scale, scrape-cost, memory, detection-latency, steady-cpu, serving). Other options go to probe-throughput (e.g. --targets 50000).
# Each prints one JSON object, kept in bench/results/*.tmp.json, and a summary line; at
# the end every figure goes into one bench/results/<UTC timestamp>.json, with the load
# average at the start and the end, and the goals table is printed (bench/goals.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
only=""
passthrough=()
while [ $# -gt 0 ]; do
  case "$1" in
  --quick) quick=1 ;;
  --only) only=$2 && shift ;;
  --only=*) only=${1#--only=} ;;
  *) passthrough+=("$1") ;;
  esac
  shift
done
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

# Program -> Debian package. nmap and blackbox are the contenders; GNU time measures
# nmap's CPU; ip and nft make the namespace with dropped ports.
declare -A NEEDED=(
  [/usr/bin/nmap]=nmap
  [/usr/bin/prometheus-blackbox-exporter]=prometheus-blackbox-exporter
  [/usr/bin/time]=time
  [ip]=iproute2
  [nft]=nftables
)
missing=()
for program in "${!NEEDED[@]}"; do
  command -v "$program" >/dev/null 2>&1 || missing+=("${NEEDED[$program]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: missing Debian packages: ${packages[*]}; install them with: sudo apt-get install ${packages[*]}" >&2
    exit 1
  fi
  echo "bench: installing ${packages[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  # The package starts its daemon where systemd runs; the benchmark starts its own.
  if command -v systemctl >/dev/null 2>&1 &&
    systemctl is-active --quiet prometheus-blackbox-exporter 2>/dev/null; then
    systemctl stop prometheus-blackbox-exporter || true
  fi
fi

# A probe in flight holds a socket: as many descriptors as allowed, 65536 if we may.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p bench/results
summaries=()
produced=()
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== load average at the start: $load_start" >&2
run() {
  local name=$1
  shift
  echo "== $name" >&2
  local summary
  rm -f "bench/results/$name.tmp.json"
  summary=$(node --import tsx "$@" --json "bench/results/$name.tmp.json")
  cat "bench/results/$name.tmp.json"
  echo "$summary"
  summaries+=("$name: $summary")
  produced+=("bench/results/$name.tmp.json")
}

if [ $quick -eq 1 ]; then
  throughput=(--rounds 2)
  checkscale=(--rounds 2)
  scrape=(--targets 20000 --scrapes 5 --naive-reps 3)
  memory=(--targets 20000 --churn-s 60 --churn-warm-s 15)
  detection=(--trials 5)
  cpu=(--window-s 30)
  latency=(--rounds 3)
else
  throughput=()
  checkscale=()
  scrape=()
  memory=()
  detection=()
  cpu=()
  latency=()
fi

# ${a[@]+"${a[@]}"}: an empty array under `set -u` in bash before 4.4.
# The connect time reported against a plain connect(), on the network test bed (root).
if wanted connect-latency; then
  if [ "$(id -u)" -eq 0 ]; then
    run connect-latency bench/connect-latency.ts ${latency[@]+"${latency[@]}"}
  else
    echo "== connect-latency: not run: it needs root for the test bed's namespaces" >&2
  fi
fi
if wanted probe-throughput; then
  run probe-throughput bench/probe-throughput.ts ${throughput[@]+"${throughput[@]}"} ${passthrough[@]+"${passthrough[@]}"}
fi
# The issue's goals are at 20,000 and at 50,000 targets.
if wanted probe-throughput-50k; then
  run probe-throughput-50k bench/probe-throughput.ts --targets 50000 ${throughput[@]+"${throughput[@]}"}
fi
# check as documented (node dist/main.js) on 200 nodes x 100 NodePorts from the API double.
if wanted check-scale; then
  run check-scale bench/check-scale.ts ${checkscale[@]+"${checkscale[@]}"}
fi
# Timeouts dominate when ports drop SYNs, so that run is reported on its own. It
# needs a network namespace, hence root.
if wanted probe-throughput-dropped && [ $quick -eq 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    run probe-throughput-dropped bench/probe-throughput.ts --dropped-share 0.1 ${passthrough[@]+"${passthrough[@]}"}
  else
    echo "== probe-throughput-dropped: not run: it needs root for its network namespace" >&2
  fi
fi
if wanted scrape-cost; then run scrape-cost bench/scrape-cost.ts ${scrape[@]+"${scrape[@]}"}; fi
if wanted memory; then run memory bench/memory.ts ${memory[@]+"${memory[@]}"}; fi
if wanted detection-latency; then
  run detection-latency bench/detection-latency.ts ${detection[@]+"${detection[@]}"}
fi
if wanted steady-cpu; then run steady-cpu bench/steady-cpu.ts ${cpu[@]+"${cpu[@]}"}; fi
if wanted serving; then
  if [ $quick -eq 1 ]; then run serving bench/serving.ts --quick; else run serving bench/serving.ts; fi
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== load average at the end: $load_end" >&2
echo "== summary"
printf '%s\n' "${summaries[@]}"
if [ ${#produced[@]} -gt 0 ]; then
  combined="bench/results/$stamp.json"
  echo "== goals (every figure in $combined)"
  node --import tsx bench/goals.ts --combine "$combined" --started-at "$started_at" \
    --load-start "$load_start" --load-end "$load_end" "${produced[@]}"
fi
