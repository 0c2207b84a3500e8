/**
 * Every metric and label that alerts/ and dashboards/ name is one the exporter exports
 * (src/metrics/names.ts), one of prom-client's process_* and nodejs_* families, one
 * iManager's node exporter exports (read off a running Debian node exporter), or
 * Prometheus' own `up`, `job` and `instance`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parse } from 'yaml';
import { NODE_DOWN } from '../../scripts/monitoring/alerts.js';
import { DEFAULT_CONFIG } from '../../scripts/monitoring/config.js';
import { HOST_LABELS } from '../../scripts/monitoring/promql.js';
import { METRICS, PROCESS_METRIC_PREFIXES } from '../../src/metrics/names.js';
import {
  allSelected,
  loadDashboards,
  parseLabelValues,
  queriesOf,
  substitute,
  variableQuery,
} from '../dashboards/queries.js';
import { type Daemon, familiesIn, freePort, startDaemon } from '../e2e/daemon.js';
import { type ExpressionNames, legendLabels, namesIn } from './promql-names.js';
import { requireTool } from './tools.js';

/**
 * Labels Prometheus attaches to every scraped series, and those the config says a
 * Prometheus may add (the cluster) or the Operator adds and alerts keep (namespace).
 */
const TARGET_LABELS = [
  'job',
  'instance',
  DEFAULT_CONFIG.clusterLabel,
  ...DEFAULT_CONFIG.keptScrapeLabels,
];

type Families = ReadonlyMap<string, ReadonlySet<string>>;

interface Use {
  /** Where, for the failure message. */
  readonly where: string;
  readonly expr: string;
  /** Labels read off the result: legend templates, annotations, variable labels. */
  readonly resultLabels?: readonly string[];
}

function rulesUses(): Use[] {
  const text = readFileSync(
    join(import.meta.dirname, '../../alerts/imanager-ports.rules.yml'),
    'utf8',
  );
  const file = parse(text) as {
    groups: {
      rules: {
        alert?: string;
        record?: string;
        expr: string;
        annotations?: Record<string, string>;
      }[];
    }[];
  };
  return file.groups.flatMap((g) =>
    g.rules.map((r) => ({
      where: r.alert ? `alert ${r.alert}` : `record ${r.record}`,
      expr: r.expr,
      resultLabels: Object.values(r.annotations ?? {}).flatMap((a) =>
        [...a.matchAll(/\$labels\.([a-zA-Z_]\w*)/g)].map((m) => m[1] as string),
      ),
    })),
  );
}

function dashboardUses(): Use[] {
  return loadDashboards().flatMap(({ dashboard }) => {
    const values = allSelected(dashboard);
    const panels = queriesOf(dashboard).map((q) => ({
      where: `${dashboard.uid} "${q.panel.title}" ${q.target.refId}`,
      expr: substitute(q.target.expr, values),
      resultLabels: legendLabels(q.target.legendFormat ?? ''),
    }));
    const variables = dashboard.templating.list
      .filter((v) => v.type === 'query')
      .map((v) => {
        const { selector, label } = parseLabelValues(variableQuery(v));
        return {
          where: `${dashboard.uid} variable ${v.name}`,
          expr: substitute(selector, values),
          resultLabels: [label],
        };
      });
    return [...panels, ...variables];
  });
}

/** What is wrong with one use, as messages; empty when all its names are known. */
function problems(use: Use, families: Families): string[] {
  const found: ExpressionNames = namesIn(use.expr);
  const out: string[] = [];
  const reachable = new Set([...TARGET_LABELS, ...found.derivedLabels]);
  for (const [metric, matchers] of found.metrics) {
    const labels = families.get(metric);
    if (!labels) {
      out.push(`${use.where}: metric ${metric} is exported by nothing`);
      continue;
    }
    for (const l of labels) reachable.add(l);
    for (const l of matchers) {
      if (!labels.has(l) && !TARGET_LABELS.includes(l)) {
        out.push(`${use.where}: ${metric} has no label ${l}`);
      }
    }
  }
  const read = [...found.groupingLabels, ...found.sourceLabels, ...(use.resultLabels ?? [])];
  for (const l of read) {
    if (!reachable.has(l)) out.push(`${use.where}: label ${l} is on none of its metrics`);
  }
  return out;
}

async function nodeExporterFamilies(): Promise<Map<string, Set<string>>> {
  const binary = requireTool('/usr/bin/prometheus-node-exporter', 'prometheus-node-exporter');
  const port = await freePort();
  let daemon: Daemon | undefined;
  try {
    daemon = await startDaemon([binary, `--web.listen-address=127.0.0.1:${port}`], {
      ready: /Listening on/,
    });
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    return familiesIn(await response.text());
  } finally {
    await daemon?.stop();
  }
}

async function processFamilies(): Promise<Map<string, Set<string>>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return familiesIn(await registry.metrics());
}

describe('metric contract of alerts/ and dashboards/', () => {
  const families = new Map<string, ReadonlySet<string>>();

  before(async () => {
    for (const [name, spec] of Object.entries(METRICS)) families.set(name, new Set(spec.labels));
    // The rule file's own record, with the labels it keeps.
    families.set(NODE_DOWN, new Set([...TARGET_LABELS, ...HOST_LABELS]));
    families.set('up', new Set(TARGET_LABELS));
    for (const [name, labels] of await processFamilies()) {
      if (PROCESS_METRIC_PREFIXES.some((p) => name.startsWith(p))) families.set(name, labels);
    }
    for (const [name, labels] of await nodeExporterFamilies()) {
      if (name.startsWith('node_')) families.set(name, labels);
    }
  });
  after(() => families.clear());

  it('names only exported metrics and labels in the alert rules', () => {
    const uses = rulesUses();
    assert.ok(uses.length >= 14);
    assert.deepEqual(
      uses.flatMap((u) => problems(u, families)),
      [],
    );
  });

  it('names only exported metrics and labels in the dashboards', () => {
    const uses = dashboardUses();
    assert.ok(uses.length >= 40);
    assert.deepEqual(
      uses.flatMap((u) => problems(u, families)),
      [],
    );
  });

  it('uses the node exporter figures the nodes dashboard shows', () => {
    for (const name of [
      'node_cpu_seconds_total',
      'node_memory_MemAvailable_bytes',
      'node_memory_MemTotal_bytes',
      'node_filesystem_avail_bytes',
      'node_filesystem_size_bytes',
    ]) {
      assert.ok(families.has(name), `node exporter does not export ${name}`);
    }
    assert.ok(families.get('node_filesystem_avail_bytes')?.has('fstype'));
  });

  it('catches a metric or a label that nothing exports', () => {
    assert.deepEqual(
      problems(
        {
          where: 'made up',
          expr: 'sum by (nodes) (imanager_port_upp) + imanager_port_state{services="x"}',
          resultLabels: ['vantage', 'pod'],
        },
        families,
      ),
      [
        'made up: metric imanager_port_upp is exported by nothing',
        'made up: imanager_port_state has no label services',
        'made up: label nodes is on none of its metrics',
        'made up: label pod is on none of its metrics',
      ],
    );
  });
});
