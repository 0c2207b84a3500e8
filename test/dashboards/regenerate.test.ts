import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, withOverrides } from '../../scripts/monitoring/config.js';
import { RULES_PATH, renderAll } from '../../scripts/monitoring/render.js';

const ROOT = join(import.meta.dirname, '../..');

describe('scripts/monitoring/generate.ts', () => {
  it('regenerates the committed rules and dashboards byte for byte', () => {
    const generated = renderAll(DEFAULT_CONFIG);
    for (const [path, text] of generated) {
      assert.equal(
        readFileSync(join(ROOT, path), 'utf8'),
        text,
        `${path} differs from what scripts/monitoring/config.ts makes: run npx tsx scripts/monitoring/generate.ts`,
      );
    }
    const committedDashboards = readdirSync(join(ROOT, 'dashboards')).map((f) => `dashboards/${f}`);
    const generatedDashboards = [...generated.keys()].filter((p) => p.startsWith('dashboards/'));
    assert.deepEqual(committedDashboards.sort(), generatedDashboards.sort(), 'no stray dashboards');
  });

  it('takes every selector and threshold from the one config', () => {
    const changed = renderAll(
      withOverrides({
        exporterSelector: 'job="ports"',
        nodeExporterSelector: 'job="imanager-node"',
        for: { requiredPortClosed: '7m' },
        probeCycleSlowSeconds: 99,
      }),
    );
    const rules = changed.get(RULES_PATH) ?? '';
    assert.match(rules, /up\{job="ports"\} == 0/);
    assert.match(rules, /up\{job="imanager-node", instance=~/);
    assert.match(rules, /alert: ImanagerRequiredPortClosed\n(?:.*\n){0,8}?\s+for: 7m/);
    assert.match(rules, /imanager_probe_cycle_duration_seconds > 99/);
    assert.doesNotMatch(rules, /node\.exporter|imanager-port-exporter\.\*/);
    const nodes = changed.get('dashboards/imanager-ports-nodes.json') ?? '';
    assert.match(nodes, /node_cpu_seconds_total\{job=\\"imanager-node\\"/);
    assert.doesNotMatch(nodes, /node\.exporter/);
    const exporter = changed.get('dashboards/imanager-ports-exporter.json') ?? '';
    assert.match(exporter, /process_resident_memory_bytes\{job=\\"ports\\"/);
  });
});
