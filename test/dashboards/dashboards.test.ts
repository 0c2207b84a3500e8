import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { PROBE_STATES } from '../../src/probe/types.js';
import { namesIn } from '../alerts/promql-names.js';
import { promtool } from '../alerts/tools.js';
import {
  allSelected,
  loadDashboards,
  type PanelQuery,
  panelsOf,
  parseLabelValues,
  queriesOf,
  substitute,
  tableColumnTitles,
  variableQuery,
} from './queries.js';

const dashboards = loadDashboards();

/** Grafana's syntax for the data source variable, which every panel must name. */
const DATASOURCE_UID = ['$', '{datasource}'].join('');

/** The dashboards the issue asks for, by their stable uids. */
const EXPECTED_UIDS = [
  'imanager-ports-exporter',
  'imanager-ports-nodeports',
  'imanager-ports-nodes',
  'imanager-ports-overview',
];

/** Runs promtool check rules on one recording rule per expression; returns its verdict. */
function checkExpressions(exprs: readonly { name: string; expr: string }[]) {
  const dir = mkdtempSync(join(tmpdir(), 'imanager-dashboards-'));
  try {
    const file = join(dir, 'exprs.rules.yml');
    const rules = exprs.map((e) => ({ record: e.name, expr: e.expr }));
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard-exprs', rules }] }));
    return promtool(['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function ruleName(q: PanelQuery): string {
  return `dashboard:${q.uid.replace(/-/g, '_')}:panel${q.panel.id}:${q.target.refId}`;
}

describe('dashboards/', () => {
  it('holds the four dashboards, each in <uid>.json', () => {
    assert.deepEqual(
      dashboards.map((d) => d.dashboard.uid),
      EXPECTED_UIDS,
    );
    for (const { file, dashboard } of dashboards) assert.equal(file, `${dashboard.uid}.json`);
  });

  for (const { dashboard } of dashboards) {
    describe(dashboard.uid, () => {
      const variables = dashboard.templating.list;

      it('has a datasource variable that every panel and query uses', () => {
        const ds = variables.find((v) => v.name === 'datasource');
        assert.equal(ds?.type, 'datasource');
        assert.equal(ds?.query, 'prometheus');
        for (const panel of panelsOf(dashboard)) {
          if (panel.type === 'row') continue;
          assert.deepEqual(
            panel.datasource,
            { type: 'prometheus', uid: DATASOURCE_UID },
            panel.title,
          );
          for (const t of panel.targets ?? []) {
            assert.equal(t.datasource?.uid, DATASOURCE_UID, `${panel.title} ${t.refId}`);
          }
        }
      });

      it('has node and group variables where it shows nodes and NodePorts', () => {
        const names = variables.map((v) => v.name);
        if (dashboard.uid !== 'imanager-ports-exporter') assert.ok(names.includes('node'));
        if (/overview|nodeports/.test(dashboard.uid)) assert.ok(names.includes('group'));
        for (const v of variables.filter((x) => x.type === 'query')) {
          // Multi-value variables go into =~ matchers; All must match every value.
          if (v.multi) assert.equal(v.allValue, '.*', v.name);
        }
      });

      it('uses every variable it defines, and defines every variable it uses', () => {
        const text = JSON.stringify(dashboard.panels) + JSON.stringify(variables);
        const defined = new Set(variables.map((v) => v.name));
        for (const name of defined) {
          assert.match(text, new RegExp(`\\$\\{?${name}\\b`), `${name} is never used`);
        }
        for (const m of text.matchAll(/\$\{?([a-zA-Z_]\w*)/g)) {
          const name = m[1] as string;
          if (name.startsWith('__')) continue;
          assert.ok(defined.has(name), `$${name} is used but not defined`);
        }
      });

      it('has a cluster variable first, which every query of a series matches', () => {
        const [datasource, cluster] = variables;
        assert.equal(datasource?.name, 'datasource');
        assert.equal(cluster?.name, 'cluster');
        assert.equal(cluster?.allValue, '.*', 'All matches series without the label too');
        const selectors = [
          ...queriesOf(dashboard).map((q) => ({
            where: `${q.panel.title} ${q.target.refId}`,
            expr: q.target.expr,
          })),
          ...variables
            .filter((v) => v.type === 'query' && v.name !== 'cluster')
            .map((v) => ({
              where: `variable ${v.name}`,
              expr: parseLabelValues(variableQuery(v)).selector,
            })),
        ];
        for (const { where, expr } of selectors) {
          const { metrics } = namesIn(substitute(expr, allSelected(dashboard)));
          for (const [metric, labels] of metrics) {
            assert.ok(labels.has('cluster'), `${where}: ${metric} without the cluster matcher`);
          }
        }
      });

      it('shows no two table columns under one title', () => {
        for (const p of panelsOf(dashboard).filter((x) => x.type === 'table')) {
          const titles = tableColumnTitles(p);
          const seen = new Set<string>();
          for (const t of titles) {
            assert.ok(!seen.has(t), `${p.title}: two columns titled "${t}"`);
            seen.add(t);
          }
        }
      });

      it('lays panels out on the 24-column grid with unique ids', () => {
        const ids = panelsOf(dashboard).map((p) => p.id);
        assert.equal(new Set(ids).size, ids.length);
        for (const p of panelsOf(dashboard)) {
          assert.ok(
            p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24,
            `${p.title}: ${JSON.stringify(p.gridPos)}`,
          );
          if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `${p.title} has no query`);
        }
      });

      it('maps every port state in every state panel', () => {
        const statePanels = panelsOf(dashboard).filter(
          (p) =>
            ['state-timeline', 'table'].includes(p.type) &&
            (p.targets ?? []).some((t) => t.expr.includes('imanager_port_state')),
        );
        if (dashboard.uid !== 'imanager-ports-exporter') assert.ok(statePanels.length >= 2);
        for (const p of statePanels) {
          const text = JSON.stringify(p.fieldConfig);
          for (const state of PROBE_STATES) {
            assert.match(text, new RegExp(`"text":"${state}`), `${p.title}: ${state}`);
          }
        }
      });
    });
  }

  it('gives the nodes and NodePorts dashboards the port variable that alert links set', () => {
    for (const uid of ['imanager-ports-nodes', 'imanager-ports-nodeports']) {
      const d = dashboards.find((x) => x.dashboard.uid === uid)?.dashboard;
      assert.ok(
        d?.templating.list.some((v) => v.name === 'port'),
        uid,
      );
    }
  });

  it('says in red on the overview when the data is stale, and never shows a green 0 for no data', () => {
    const d = dashboards.find((x) => x.dashboard.uid === 'imanager-ports-overview')?.dashboard;
    assert.ok(d);
    const stats = panelsOf(d).filter((p) => p.type === 'stat');
    assert.equal(stats[0]?.title, 'Data');
    assert.match(stats[0]?.targets?.[0]?.expr ?? '', /timestamp\(up\{/);
    for (const p of stats.slice(1)) {
      const expr = p.targets?.[0]?.expr ?? '';
      if (!/^\(\n\s+\(count/.test(expr)) continue;
      assert.match(expr, /or on\(\)\nvector\(-1\)$/, `${p.title}: stale value`);
      assert.match(JSON.stringify(p.fieldConfig), /"-1":\{"text":"no data","color":"red"/, p.title);
    }
    const nodesDown = stats.find((p) => p.title === 'Nodes down');
    assert.doesNotMatch(
      nodesDown?.targets?.[0]?.expr ?? '',
      /icmp_up\{[^}]*\} == 0/,
      'needs no ICMP',
    );
  });

  it('has only valid PromQL, variables filled in (promtool check rules)', () => {
    const all = dashboards.flatMap((d) =>
      queriesOf(d.dashboard).map((q) => ({
        name: ruleName(q),
        expr: substitute(q.target.expr, allSelected(d.dashboard)),
      })),
    );
    assert.ok(all.length > 40, `only ${all.length} queries`);
    const run = checkExpressions(all);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${all.length} rules found`));
  });

  it('has only valid series selectors in its variables (promtool check rules)', () => {
    const selectors = dashboards.flatMap(({ dashboard }) =>
      dashboard.templating.list
        .filter((v) => v.type === 'query')
        .map((v) => ({
          name: `variable:${dashboard.uid.replace(/-/g, '_')}:${v.name}`,
          expr: substitute(parseLabelValues(variableQuery(v)).selector, allSelected(dashboard)),
        })),
    );
    const run = checkExpressions(selectors);
    assert.equal(run.status, 0, run.output);
  });

  it('would catch invalid PromQL', () => {
    const run = checkExpressions([{ name: 'broken', expr: 'sum by (node (imanager_port_up)' }]);
    assert.notEqual(run.status, 0, run.output);
  });
});
