/**
 * One source for the alert rules and dashboards: the chart's copies under files/ are
 * byte for byte alerts/ and dashboards/, and what the PrometheusRule, the rules ConfigMap
 * and the dashboard ConfigMaps carry is exactly those files (the `{{ $labels.node }}`
 * of the annotations untouched by Helm's template engine).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/node-child.js';
import { byKind, CHART_DIR, ciFile, type Manifest, oneOfKind, render } from './chart.js';

const RULES = 'imanager-ports.rules.yml';
const SYNC = 'run bash scripts/chart-files.sh';

function read(...path: string[]): string {
  return readFileSync(join(...path), 'utf8');
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort();
}

describe("the chart's copies of alerts/ and dashboards/", () => {
  it('the rule file is the same', () => {
    assert.ok(
      read(CHART_DIR, 'files', 'alerts', RULES) === read(REPO_ROOT, 'alerts', RULES),
      `helm/imanager-port-exporter/files/alerts/${RULES} differs from alerts/${RULES}: ${SYNC}`,
    );
  });

  it('the dashboards are the same files, and all of them', () => {
    const source = jsonFiles(join(REPO_ROOT, 'dashboards'));
    const copies = jsonFiles(join(CHART_DIR, 'files', 'dashboards'));
    assert.ok(source.length > 0, 'dashboards/ has dashboards');
    assert.deepEqual(copies, source, `the chart's dashboards are not dashboards/: ${SYNC}`);
    for (const file of source) {
      assert.ok(
        read(CHART_DIR, 'files', 'dashboards', file) === read(REPO_ROOT, 'dashboards', file),
        `helm/imanager-port-exporter/files/dashboards/${file} differs from dashboards/${file}: ${SYNC}`,
      );
    }
  });
});

describe('the rendered monitoring objects carry exactly those files', () => {
  let manifests: Manifest[];
  before(async () => {
    manifests = await render({ valuesFiles: [ciFile('monitoring')] });
  });

  it('PrometheusRule spec is the rule file', () => {
    const rule = oneOfKind(manifests, 'PrometheusRule');
    const file = read(REPO_ROOT, 'alerts', RULES);
    assert.deepEqual(rule.spec, parse(file));
    const annotations = JSON.stringify(rule.spec);
    assert.ok(file.includes('{{ $labels.node }}'), 'the rule file still uses $labels.node');
    assert.ok(
      annotations.includes('{{ $labels.node }}'),
      'Helm left {{ $labels.node }} as written',
    );
  });

  it('the rules ConfigMap holds the rule file, byte for byte', () => {
    const configMap = byKind(manifests, 'ConfigMap').find((candidate) =>
      candidate.metadata.name.endsWith('-rules'),
    );
    assert.ok(configMap, 'a rules ConfigMap');
    assert.equal(
      (configMap.data as Record<string, string>)[RULES],
      read(REPO_ROOT, 'alerts', RULES),
    );
  });

  it('one dashboard ConfigMap per dashboard, labelled for the Grafana sidecar, holding the file', () => {
    const dashboards = byKind(manifests, 'ConfigMap').filter(
      (candidate) =>
        (candidate.metadata.labels as Record<string, string>).grafana_dashboard === '1',
    );
    const carried = new Map<string, string>();
    for (const configMap of dashboards) {
      const data = configMap.data as Record<string, string>;
      assert.equal(Object.keys(data).length, 1, `${configMap.metadata.name} holds one dashboard`);
      for (const [key, text] of Object.entries(data)) carried.set(key, text);
    }
    const files = jsonFiles(join(REPO_ROOT, 'dashboards'));
    assert.deepEqual([...carried.keys()].sort(), files);
    for (const file of files) {
      assert.equal(carried.get(file), read(REPO_ROOT, 'dashboards', file), file);
      // And Grafana can read it.
      assert.equal(typeof (JSON.parse(carried.get(file) ?? '') as { uid?: unknown }).uid, 'string');
    }
  });
});
