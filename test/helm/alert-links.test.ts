/**
 * The chart's share of the alerting: an opt-in AlertmanagerConfig carrying exactly the
 * inhibit rules of alerts/alertmanager.yml, valid against the operator's schema, and the
 * alertLinks values that point every alert's runbook_url and dashboard_url elsewhere.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { AlertmanagerConfig } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/AlertmanagerConfig';
import { parse } from 'yaml';
import { inhibitRules, parseMatcher } from '../../scripts/monitoring/alertmanager.js';
import { DEFAULT_CONFIG } from '../../scripts/monitoring/config.js';
import { REPO_ROOT } from '../helpers/node-child.js';
import { byKind, CHART_DIR, type Manifest, oneOfKind, RenderError, render } from './chart.js';

interface RuleFile {
  readonly groups: readonly {
    readonly rules: readonly { readonly annotations?: Record<string, string> }[];
  }[];
}

function annotations(file: RuleFile, key: string): string[] {
  return file.groups.flatMap((g) =>
    g.rules.flatMap((r) => (r.annotations ? [r.annotations[key] ?? ''] : [])),
  );
}

describe('the AlertmanagerConfig', () => {
  let manifests: Manifest[];
  before(async () => {
    manifests = await render({ set: ['alertmanagerConfig.enabled=true'] });
  });

  it('is the chart copy of alerts/alertmanager.yml', () => {
    assert.equal(
      readFileSync(join(CHART_DIR, 'files', 'alerts', 'alertmanager.yml'), 'utf8'),
      readFileSync(join(REPO_ROOT, 'alerts', 'alertmanager.yml'), 'utf8'),
      'run bash scripts/chart-files.sh',
    );
  });

  it('carries exactly the inhibit rules of alerts/alertmanager.yml, valid for the operator', () => {
    const config = oneOfKind(manifests, 'AlertmanagerConfig');
    const { source: _source, ...object } = config;
    new AlertmanagerConfig(
      object as unknown as ConstructorParameters<typeof AlertmanagerConfig>[0],
    ).validate();
    const fragment = parse(readFileSync(join(REPO_ROOT, 'alerts', 'alertmanager.yml'), 'utf8')) as {
      inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
    };
    assert.equal(fragment.inhibit_rules.length, inhibitRules(DEFAULT_CONFIG).length);
    assert.deepEqual(
      (config.spec as { inhibitRules: unknown[] }).inhibitRules,
      fragment.inhibit_rules.map((r) => ({
        sourceMatch: r.source_matchers.map(parseMatcher),
        targetMatch: r.target_matchers.map(parseMatcher),
        equal: r.equal,
      })),
    );
  });

  it('is not made unless asked for', async () => {
    assert.deepEqual(byKind(await render(), 'AlertmanagerConfig'), []);
  });
});

describe('alertLinks', () => {
  it('leaves the rule file as it is when unset', async () => {
    const manifests = await render({ set: ['prometheusRule.enabled=true'] });
    const rule = oneOfKind(manifests, 'PrometheusRule');
    const file = rule.spec as RuleFile;
    for (const url of annotations(file, 'runbook_url'))
      assert.ok(url.startsWith(`${DEFAULT_CONFIG.runbookUrl}#`));
    for (const url of annotations(file, 'dashboard_url'))
      assert.ok(url.startsWith(`${DEFAULT_CONFIG.grafanaUrl}/d/`));
  });

  it('points every runbook and dashboard link elsewhere, in the PrometheusRule and the ConfigMap', async () => {
    const manifests = await render({
      set: [
        'prometheusRule.enabled=true',
        'rulesConfigMap.enabled=true',
        'alertLinks.runbookUrl=https://wiki.example.com/imanager/runbook',
        'alertLinks.grafanaUrl=https://grafana.example.com/',
      ],
    });
    const fromConfigMap = byKind(manifests, 'ConfigMap').find((m) =>
      m.metadata.name.endsWith('-rules'),
    );
    const files = [
      oneOfKind(manifests, 'PrometheusRule').spec as RuleFile,
      parse(
        ((fromConfigMap?.data ?? {}) as Record<string, string>)['imanager-ports.rules.yml'] ?? '',
      ) as RuleFile,
    ];
    for (const file of files) {
      const runbooks = annotations(file, 'runbook_url');
      assert.ok(runbooks.length >= 13);
      for (const url of runbooks)
        assert.match(url, /^https:\/\/wiki\.example\.com\/imanager\/runbook#imanager[a-z]+$/);
      for (const url of annotations(file, 'dashboard_url')) {
        assert.match(url, /^https:\/\/grafana\.example\.com\/d\/imanager-ports-[a-z]+\?orgId=1/);
      }
    }
  });

  it('refuses a link that is not a URL', async () => {
    await assert.rejects(
      render({ set: ['alertLinks.runbookUrl=wiki/runbook'] }),
      (error: unknown) => {
        assert.ok(error instanceof RenderError);
        assert.match(error.stderr, /alertLinks\.runbookUrl|runbookUrl/);
        return true;
      },
    );
  });
});
