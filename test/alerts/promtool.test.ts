import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { STATE_GUIDE } from '../../src/probe/states.js';
import { statesWithVerdict } from '../../src/targets/verdict.js';
import { loadDashboards } from '../dashboards/queries.js';
import { promtool } from './tools.js';

const ALERTS_DIR = join(import.meta.dirname, '../../alerts');
const RULES_FILE = join(ALERTS_DIR, 'imanager-ports.rules.yml');
const TESTS_DIR = join(ALERTS_DIR, 'tests');

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly keep_firing_for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

interface RuleFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly Rule[] }[];
}

interface UnitTestFile {
  readonly rule_files: readonly string[];
  readonly tests: readonly {
    readonly alert_rule_test?: readonly {
      readonly alertname: string;
      readonly exp_alerts?: readonly unknown[] | null;
    }[];
  }[];
}

const ruleFile = parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
const alerts = ruleFile.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
const byName = new Map(alerts.map((a) => [a.alert as string, a]));
const testFiles = readdirSync(TESTS_DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort();

/** The alerts the issue asks for by name. */
const REQUIRED_ALERTS = [
  'ImanagerRequiredPortClosed',
  'ImanagerExternalPortUnreachable',
  'ImanagerNodePortUnreachable',
  'ImanagerInternalPortExposed',
  'ImanagerNodeUnreachable',
  'ImanagerNodeExporterDown',
  'ImanagerNodePortOutOfRange',
  'ImanagerPortFlapping',
  'ImanagerExporterDown',
  'ImanagerTargetsNotProbed',
  'ImanagerDiscoveryFailing',
  'ImanagerProbeCycleTooSlow',
];

function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const m of duration.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) {
    total += Number(m[1]) * (units[m[2] as string] as number);
  }
  return total;
}

/** Heading anchors of the runbook, as GitHub makes them. */
function runbookAnchors(): Set<string> {
  const text = readFileSync(join(ALERTS_DIR, 'runbook.md'), 'utf8');
  return new Set(
    [...text.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
      (m[1] as string)
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('alerts/imanager-ports.rules.yml', () => {
  it('passes promtool check rules with no findings', () => {
    const run = promtool(['check', 'rules', RULES_FILE]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS: \d+ rules found/);
    assert.doesNotMatch(run.output, /WARNING|FAILED/, run.output);
  });

  it('is a plain groups: file, as the Helm chart ships it', () => {
    assert.deepEqual(Object.keys(ruleFile), ['groups']);
    const text = readFileSync(RULES_FILE, 'utf8');
    assert.doesNotMatch(text, /\{\{-|\.Values|\.Release|include "/, 'no Helm templating inside');
  });

  for (const name of REQUIRED_ALERTS) {
    it(`has ${name}`, () => assert.ok(byName.has(name), `${name} is missing`));
  }

  it('gives every alert a severity, a for, a summary, a description and a runbook section', () => {
    const anchors = runbookAnchors();
    for (const a of alerts) {
      const where = a.alert as string;
      assert.match(a.alert as string, /^Imanager[A-Z][A-Za-z]+$/, where);
      assert.ok(['critical', 'warning'].includes(a.labels?.severity ?? ''), `${where}: severity`);
      // Two probes at the default 15 s interval at the very least: one lost SYN never pages.
      assert.ok(seconds(a.for ?? '0s') >= 60, `${where}: for ${a.for} is too short`);
      assert.ok((a.annotations?.summary ?? '').length > 0, `${where}: summary`);
      assert.doesNotMatch(a.annotations?.summary ?? '', /\n/, `${where}: one-line summary`);
      const url = a.annotations?.runbook_url ?? '';
      const anchor = url.split('#')[1] ?? '';
      assert.equal(anchor, where.toLowerCase(), `${where}: runbook_url ${url}`);
      assert.ok(anchors.has(anchor), `${where}: runbook.md has no section #${anchor}`);
    }
  });

  it('names where and what in every description', () => {
    const port = ['node', 'address', 'port', 'vantage'];
    const named: Record<string, readonly string[]> = {
      ImanagerRequiredPortClosed: port,
      ImanagerExternalPortUnreachable: port,
      ImanagerNodePortUnreachable: [...port, 'k8s_namespace', 'k8s_service', 'group'],
      ImanagerInternalPortExposed: port,
      ImanagerPortFlapping: port,
      ImanagerNodeExporterDown: [...port, 'instance'],
      ImanagerNodeUnreachable: ['node'],
      ImanagerNodePortOutOfRange: ['node_port', 'k8s_namespace', 'k8s_service', 'group'],
      ImanagerExporterDown: ['instance'],
      ImanagerTargetsNotProbed: ['vantage'],
      ImanagerDiscoveryFailing: ['source'],
      ImanagerProbeCycleTooSlow: [],
      ImanagerConfigReloadFailed: [],
      ImanagerWebCertificateExpiring: [],
    };
    assert.deepEqual([...byName.keys()].sort(), Object.keys(named).sort());
    for (const [alert, labels] of Object.entries(named)) {
      const description = byName.get(alert)?.annotations?.description ?? '';
      for (const label of labels) {
        assert.match(description, new RegExp(`\\$labels\\.${label}\\b`), `${alert}: ${label}`);
      }
    }
  });

  it('says in the words of states.ts what each down state means and what to do', () => {
    const portAlerts = [
      'ImanagerRequiredPortClosed',
      'ImanagerExternalPortUnreachable',
      'ImanagerNodePortUnreachable',
    ];
    for (const name of portAlerts) {
      const description = byName.get(name)?.annotations?.description ?? '';
      for (const state of statesWithVerdict('open', 'down')) {
        const { meaning, action, value } = STATE_GUIDE[state];
        const words = `eq $value ${value}.0 }}${state}: ${meaning}; ${action}.`;
        assert.ok(description.includes(words), `${name}: ${state}`);
      }
      assert.doesNotMatch(description, /eq \$value 4\.0/, `${name}: error is the exporter's`);
    }
  });

  it('links every alert to an absolute runbook section and to a dashboard with the variables it sets', () => {
    const dashboards = new Map(loadDashboards().map(({ dashboard }) => [dashboard.uid, dashboard]));
    for (const a of alerts) {
      const where = a.alert as string;
      assert.match(a.annotations?.runbook_url ?? '', /^https:\/\/\S+\/alerts\/runbook\.md#/, where);
      const url = a.annotations?.dashboard_url ?? '';
      const m = /^http:\/\/localhost:3000\/d\/([\w-]+)\?orgId=1(.*)$/.exec(url);
      assert.ok(m, `${where}: dashboard_url ${url}`);
      const dashboard = dashboards.get(m[1] as string);
      assert.ok(dashboard, `${where}: no dashboard ${m[1]}`);
      const variables = new Set(dashboard.templating.list.map((v) => v.name));
      for (const v of (m[2] as string).matchAll(/&var-(\w+)=/g)) {
        assert.ok(variables.has(v[1] as string), `${where}: ${m[1]} has no variable ${v[1]}`);
      }
    }
  });

  it('keeps the node and port alerts firing through a gap in their data, and only those', () => {
    const outage = alerts.filter((a) => a.keep_firing_for !== undefined);
    assert.deepEqual(outage.map((a) => a.alert).sort(), [
      'ImanagerExternalPortUnreachable',
      'ImanagerNodePortUnreachable',
      'ImanagerNodeUnreachable',
      'ImanagerRequiredPortClosed',
    ]);
    // Past ImanagerExporterDown's `for`, with room for a scrape and an evaluation.
    const exporterDown = seconds(byName.get('ImanagerExporterDown')?.for ?? '0s');
    for (const a of outage) {
      assert.ok(seconds(a.keep_firing_for ?? '0s') >= exporterDown + 60, `${a.alert}`);
    }
  });

  it('fires ImanagerExporterDown within 2 minutes of the last good scrape at 30 s intervals', () => {
    // The first failed scrape comes an interval after the last good one, the evaluation
    // that sees it up to an interval later, and then `for` runs.
    assert.ok(30 + 30 + seconds(byName.get('ImanagerExporterDown')?.for ?? '0s') <= 120);
  });

  it('pages critical for required ports closed, and only for required ports', () => {
    assert.equal(byName.get('ImanagerRequiredPortClosed')?.labels?.severity, 'critical');
    for (const a of alerts) {
      const expr = a.expr.replace(/#.*$/gm, '');
      for (const m of expr.matchAll(/imanager_port_(?:up|state)(\{[^}]*\})?/g)) {
        assert.match(m[1] ?? '', /required="true"/, `${a.alert}: ${m[0]}`);
      }
    }
    // Only the record of nodes that are down reads every port: any answer shows a node up.
    const records = ruleFile.groups.flatMap((g) => g.rules).filter((r) => r.record !== undefined);
    assert.deepEqual(
      records.map((r) => r.record),
      ['imanager:node_down'],
    );
  });
});

describe('promtool unit tests (alerts/tests)', () => {
  it('pass', () => {
    const run = promtool(['test', 'rules', ...testFiles], TESTS_DIR);
    assert.equal(run.status, 0, run.output);
    assert.doesNotMatch(run.output, /FAILED/, run.output);
  });

  it('cover every alert, firing and silent', () => {
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const file of testFiles) {
      const unit = parse(readFileSync(join(TESTS_DIR, file), 'utf8')) as UnitTestFile;
      assert.deepEqual(unit.rule_files, ['../imanager-ports.rules.yml'], file);
      for (const test of unit.tests) {
        for (const t of test.alert_rule_test ?? []) {
          assert.ok(byName.has(t.alertname), `${file} tests unknown alert ${t.alertname}`);
          ((t.exp_alerts ?? []).length > 0 ? firing : silent).add(t.alertname);
        }
      }
    }
    for (const name of byName.keys()) {
      assert.ok(firing.has(name), `no test sees ${name} fire`);
      assert.ok(silent.has(name), `no test sees ${name} stay silent`);
    }
  });

  it('fail when an expectation is wrong', () => {
    // Guards the harness: promtool must compare for real, so a wrong severity fails.
    const unit = parse(readFileSync(join(TESTS_DIR, 'required-port-closed.yml'), 'utf8'));
    unit.rule_files = [RULES_FILE];
    unit.tests[0].alert_rule_test[2].exp_alerts[0].exp_labels.severity = 'warning';
    const dir = mkdtempSync(join(tmpdir(), 'imanager-alerts-'));
    try {
      writeFileSync(join(dir, 'wrong.yml'), stringify(unit));
      const run = promtool(['test', 'rules', 'wrong.yml'], dir);
      assert.notEqual(run.status, 0, run.output);
      assert.match(run.output, /FAILED/);
      assert.match(run.output, /severity="warning"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
