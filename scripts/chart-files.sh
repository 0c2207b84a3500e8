#!/usr/bin/env bash
# Copies the alert rules and the Grafana dashboards into the Helm chart. Helm reads
# files only from inside a chart's directory, so the chart keeps copies under files/;
# test/helm/monitoring-files.test.ts fails when they differ from alerts/ and
# dashboards/. Run this after `npx tsx scripts/monitoring/generate.ts`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
files="$root/helm/imanager-port-exporter/files"

rm -rf "$files/alerts" "$files/dashboards"
mkdir -p "$files/alerts" "$files/dashboards"
cp "$root/alerts/imanager-ports.rules.yml" "$root/alerts/alertmanager.yml" "$files/alerts/"
cp "$root"/dashboards/*.json "$files/dashboards/"
echo "chart-files: copied alerts/imanager-ports.rules.yml, alerts/alertmanager.yml and $(find "$files/dashboards" -name '*.json' | wc -l) dashboards into ${files#"$root"/}"
