import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ALERTMANAGER_PATH } from '../../scripts/monitoring/alertmanager.js';
import { DEFAULT_CONFIG, withOverrides } from '../../scripts/monitoring/config.js';
import { renderDocs, splice } from '../../scripts/monitoring/docs.js';
import { RULES_PATH, renderAll } from '../../scripts/monitoring/render.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const REGENERATE = 'run npx tsx scripts/monitoring/generate.ts';
/** The default cluster label as PromQL, a template or a dashboard variable uses it (not prose). */
const CLUSTER_LABEL =
  /[(,]\s*cluster\b|\bcluster=~|labels\.cluster\b|var-cluster|"name": "cluster"/;

interface Rule {
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly keep_firing_for?: string;
  readonly annotations?: Record<string, string>;
}

function rules(text: string): Rule[] {
  return (parse(text) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
}

describe('scripts/monitoring/generate.ts', () => {
  it('regenerates the committed rules, inhibit rules and dashboards byte for byte', () => {
    const generated = renderAll(DEFAULT_CONFIG);
    assert.ok(generated.has(RULES_PATH) && generated.has(ALERTMANAGER_PATH));
    for (const [path, text] of generated) {
      assert.equal(
        read(path),
        text,
        `${path} differs from what scripts/monitoring makes: ${REGENERATE}`,
      );
    }
    const committedDashboards = readdirSync(join(ROOT, 'dashboards')).map((f) => `dashboards/${f}`);
    const generatedDashboards = [...generated.keys()].filter((p) => p.startsWith('dashboards/'));
    assert.deepEqual(committedDashboards.sort(), generatedDashboards.sort(), 'no stray dashboards');
  });

  it('keeps the generated tables of the runbook and the README up to date', () => {
    for (const [path, text] of renderDocs(DEFAULT_CONFIG, read)) {
      assert.equal(
        read(path),
        text,
        `the generated blocks of ${path} are out of date: ${REGENERATE}`,
      );
    }
  });

  it('names a document whose markers are missing', () => {
    assert.throws(
      () => splice('README.md', 'no markers here', { alerts: '' }),
      /README\.md: no <!-- generated:alerts --> \.\.\. <!-- \/generated:alerts --> block/,
    );
  });

  it('takes every selector, threshold and link from the one config', () => {
    const changed = renderAll(
      withOverrides({
        exporterSelector: 'job="ports"',
        nodeExporterSelector: 'job="imanager-node"',
        clusterLabel: 'k8s_cluster',
        runbookUrl: 'https://wiki.example.com/imanager',
        grafanaUrl: 'https://grafana.example.com',
        keepFiringFor: '7m',
        for: { requiredPortClosed: '9m' },
        probeCycleSlowSeconds: 99,
      }),
    );
    const text = changed.get(RULES_PATH) ?? '';
    const byName = new Map(rules(text).map((r) => [r.alert, r]));
    assert.match(byName.get('ImanagerExporterDown')?.expr ?? '', /up\{job="ports"\} == 0/);
    assert.match(
      byName.get('ImanagerNodeExporterDown')?.expr ?? '',
      /up\{job="imanager-node", instance=~/,
    );
    assert.equal(byName.get('ImanagerRequiredPortClosed')?.for, '9m');
    assert.equal(byName.get('ImanagerNodeUnreachable')?.keep_firing_for, '7m');
    assert.match(byName.get('ImanagerProbeCycleTooSlow')?.expr ?? '', /> 99/);
    for (const r of rules(text).filter((x) => x.alert !== undefined)) {
      assert.match(r.annotations?.runbook_url ?? '', /^https:\/\/wiki\.example\.com\/imanager#/);
      assert.match(r.annotations?.dashboard_url ?? '', /^https:\/\/grafana\.example\.com\/d\//);
      assert.match(r.annotations?.dashboard_url ?? '', /\$labels\.k8s_cluster/);
    }
    // The variable stays `cluster`; the label it matches is the config's.
    assert.doesNotMatch(text, /[(,]\s*cluster\b|\bcluster=~|labels\.cluster\b/, 'no default label');
    assert.match(text, /on\(k8s_cluster, vantage, node, address, ip\)/);
    assert.doesNotMatch(text, /node\.exporter|imanager-port-exporter\.\*/);
    assert.match(changed.get(ALERTMANAGER_PATH) ?? '', /- k8s_cluster\n\s+- node/);
    const nodes = changed.get('dashboards/imanager-ports-nodes.json') ?? '';
    assert.match(
      nodes,
      /node_cpu_seconds_total\{job=\\"imanager-node\\", k8s_cluster=~\\"\$cluster\\"/,
    );
    assert.doesNotMatch(nodes, /node\.exporter/);
    const exporter = changed.get('dashboards/imanager-ports-exporter.json') ?? '';
    assert.match(exporter, /process_resident_memory_bytes\{job=\\"ports\\"/);
  });

  it('leaves keep_firing_for out for a Prometheus older than 2.42', () => {
    const text = renderAll(withOverrides({ keepFiringFor: '' })).get(RULES_PATH) ?? '';
    assert.doesNotMatch(text, /keep_firing_for/);
    assert.match(text, /alert: ImanagerNodeUnreachable/);
  });

  it('leaves the cluster out everywhere when the config names no cluster label', () => {
    const files = renderAll(withOverrides({ clusterLabel: '' }));
    for (const [path, text] of files) {
      assert.doesNotMatch(text, CLUSTER_LABEL, path);
    }
  });
});
