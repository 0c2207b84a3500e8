import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STATE_GUIDE } from '../../src/probe/states.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { ResultStore } from '../../src/results/store.js';
import {
  type CellState,
  filterFromQuery,
  statusView,
  type Verdict,
} from '../../src/server/status-view.js';
import type { ExpectedState, Target } from '../../src/targets/types.js';
import { judge } from '../../src/targets/verdict.js';
import { catalogTarget } from '../results/targets.js';
import { clusterNode, clusterStore, NODES, nodePort, T0 } from './status-fixture.js';

const REFUSED: ProbeResult = { state: 'refused', durationSeconds: 0.0002, error: 'ECONNREFUSED' };
const TIMEOUT: ProbeResult = { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' };

describe('the status page judges cells with the shared judgement', () => {
  const cases: [ExpectedState, CellState, Verdict][] = [
    ['open', 'open', 'ok'],
    ['open', 'refused', 'down'],
    ['open', 'timeout', 'down'],
    ['open', 'unreachable', 'down'],
    ['open', 'error', 'unknown'],
    ['open', 'rejected', 'down'],
    ['closed', 'rejected', 'ok'],
    ['closed', 'error', 'unknown'],
    ['closed', 'open', 'exposed'],
    ['closed', 'refused', 'ok'],
    ['closed', 'timeout', 'ok'],
    ['any', 'open', 'neutral'],
    ['any', 'refused', 'neutral'],
    ['open', 'unprobed', 'unprobed'],
    ['closed', 'unprobed', 'unprobed'],
  ];
  for (const [expected, state, verdict] of cases) {
    it(`expected ${expected}, found ${state}: ${verdict}`, () => {
      const judged = judge({ expected, required: true }, state === 'unprobed' ? undefined : state);
      assert.equal(judged.verdict, verdict);
    });
  }
});

describe('statusView', () => {
  it('has a row per node and a column per port: catalog order, then NodePorts by group and number', () => {
    const view = statusView(clusterStore(), T0);
    assert.deepEqual(
      view.nodes.map((n) => n.name),
      ['master-1', 'worker-1', 'worker-2'],
    );
    assert.deepEqual(
      view.columns.map((c) => c.port),
      // 31234 first as in the catalog; 10259/10257 are bound to localhost, unseen from central.
      [
        31234, 6443, 2379, 2380, 10250, 10251, 10252, 9101, 3307, 9183, 179, 31100, 30080, 31500,
        32000,
      ],
    );
    assert.deepEqual(view.columns.map((c) => c.group).slice(-3), [
      'basic-service',
      'gis-environment',
      'other',
    ]);
    assert.deepEqual(view.columns.at(-2)?.nodePort, {
      namespace: 'imanager-gis',
      service: 'gisapp-1a2b',
    });
    // Ports that do not apply to a node have no cell.
    assert.equal(view.cells.get('worker-1')?.get(6443), undefined);
    assert.equal(view.cells.get('master-1')?.get(6443)?.state, 'open');
    assert.deepEqual(view.groups, ['catalog', 'basic-service', 'gis-environment', 'other']);
  });

  it('puts NodePorts of a lower group after higher ones whatever their numbers', () => {
    const store = clusterStore({
      nodePorts: [
        nodePort({ nodePort: 30001, group: 'other' }),
        nodePort({ nodePort: 32001, group: 'basic-service' }),
        nodePort({ nodePort: 31001, group: 'gis-environment' }),
        nodePort({ nodePort: 30500, group: 'basic-service' }),
      ],
    });
    const nodePorts = statusView(store, T0).columns.filter((c) => c.category === 'nodeport');
    assert.deepEqual(
      nodePorts.map((c) => c.port),
      [30500, 32001, 31001, 30001],
    );
  });

  it('lists a required port that is not open with its state, since when and what to do', () => {
    const store = clusterStore({
      result: (t) => (t.node === 'worker-1' && t.port === 9101 ? REFUSED : OPEN),
      at: () => T0 - 300_000,
    });
    const view = statusView(store, T0);
    assert.equal(view.totals.failing, 1);
    assert.equal(view.totals.failingNodes, 1);
    assert.deepEqual(view.failing, [
      {
        node: 'worker-1',
        address: '10.0.0.2',
        port: 9101,
        name: 'node-exporter',
        component: 'node-exporter',
        category: 'fixed',
        group: 'catalog',
        state: 'refused',
        verdict: 'down',
        expected: 'open',
        sinceMs: T0 - 300_000,
        error: 'ECONNREFUSED',
        hint: STATE_GUIDE.refused.action,
      },
    ]);
    const cell = view.cells.get('worker-1')?.get(9101);
    assert.equal(cell?.verdict, 'down');
    assert.equal(cell?.failing, true);
    assert.equal(cell?.sinceMs, T0 - 300_000);
    assert.equal(view.nodes.find((n) => n.name === 'worker-1')?.failing, 1);
    assert.equal(view.columns.find((c) => c.port === 9101)?.failing, 1);
  });

  it('dates a failure from its first result in that state, not from the latest probe', () => {
    const store = clusterStore({ result: () => OPEN });
    const target = store.targets().find((t) => t.node === 'worker-2' && t.port === 31500);
    assert.ok(target);
    store.record(target, TIMEOUT, T0 + 15_000);
    store.record(target, TIMEOUT, T0 + 30_000);
    const view = statusView(store, T0 + 40_000);
    assert.equal(view.failing[0]?.sinceMs, T0 + 15_000);
    assert.equal(view.failing[0]?.hint, STATE_GUIDE.timeout.action);
    assert.equal(view.cells.get('worker-2')?.get(31500)?.probedAtMs, T0 + 30_000);
    assert.equal(view.lastProbeMs, T0 + 30_000);
  });

  it('lists the newest failure first', () => {
    const store = clusterStore({
      result: (t) => (t.port === 10250 ? REFUSED : OPEN),
      at: (t) => (t.node === 'worker-1' ? T0 : T0 - 60_000),
    });
    assert.deepEqual(
      statusView(store, T0).failing.map((f) => f.node),
      ['worker-1', 'master-1', 'worker-2'],
    );
  });

  it('does not list what is not required, nor what is expected any, but still judges it', () => {
    const store = clusterStore({
      // 32000 is in the group `other` (not required); 10251 is legacy on 1.28 (expected any).
      result: (t) => (t.port === 32000 || t.port === 10251 ? REFUSED : OPEN),
    });
    const view = statusView(store, T0);
    assert.deepEqual(view.failing, []);
    const other = view.cells.get('worker-1')?.get(32000);
    assert.equal(other?.verdict, 'down');
    assert.equal(other?.required, false);
    assert.equal(other?.failing, false);
    assert.equal(view.cells.get('master-1')?.get(10251)?.verdict, 'neutral');
  });

  it('from outside the cluster an internal port that answers is exposed, one that refuses is fine', () => {
    const store = clusterStore({
      vantage: 'external',
      result: (t) =>
        t.port === 2379 && t.node === 'master-1' ? OPEN : t.port === 2380 ? REFUSED : OPEN,
    });
    const view = statusView(store, T0);
    const etcd = view.cells.get('master-1')?.get(2379);
    assert.equal(etcd?.expected, 'closed');
    assert.equal(etcd?.verdict, 'exposed');
    assert.equal(etcd?.failing, true);
    assert.equal(view.cells.get('master-1')?.get(2380)?.verdict, 'ok');
    const exposed = view.failing.filter((f) => f.verdict === 'exposed').map((f) => f.port);
    assert.ok(exposed.includes(2379));
    assert.equal(
      view.failing.find((f) => f.port === 2379)?.hint,
      judge({ expected: 'closed', required: true }, 'open').advice,
    );
  });

  it('shows a target without a result as not probed yet, and never as failing', () => {
    const store = clusterStore({ result: (t) => (t.node === 'worker-2' ? undefined : OPEN) });
    const view = statusView(store, T0);
    const cell = view.cells.get('worker-2')?.get(10250);
    assert.equal(cell?.state, 'unprobed');
    assert.equal(cell?.verdict, 'unprobed');
    assert.equal(cell?.sinceMs, undefined);
    assert.equal(view.totals.failing, 0);
    assert.ok(view.totals.byState.unprobed > 0);
    assert.equal(view.totals.byState.unprobed + view.totals.byState.open, view.totals.targets);
  });

  it('narrows to one node, keeping every node in the choice', () => {
    const view = statusView(clusterStore({ result: () => REFUSED }), T0, {
      filter: { node: 'worker-1' },
    });
    assert.deepEqual(
      view.nodes.map((n) => n.name),
      ['worker-1'],
    );
    assert.deepEqual(view.allNodes, ['master-1', 'worker-1', 'worker-2']);
    assert.ok(view.failing.every((f) => f.node === 'worker-1'));
    assert.ok(!view.columns.some((c) => c.port === 6443), 'a control-plane port is not a column');
  });

  it('narrows to one group of ports', () => {
    const store = clusterStore({ result: () => REFUSED });
    const gis = statusView(store, T0, { filter: { group: 'gis-environment' } });
    assert.deepEqual(
      gis.columns.map((c) => c.port),
      [31500],
    );
    assert.equal(gis.nodes.length, 3);
    assert.ok(gis.failing.every((f) => f.port === 31500));
    const catalog = statusView(store, T0, { filter: { group: 'catalog' } });
    assert.ok(catalog.columns.every((c) => c.category !== 'nodeport'));
  });

  it('reads the filter from query parameters and drops what it does not know', () => {
    assert.deepEqual(filterFromQuery({ node: 'worker-1', group: 'gis-environment' }), {
      node: 'worker-1',
      group: 'gis-environment',
    });
    assert.deepEqual(filterFromQuery({ node: '', group: '' }), {});
    assert.deepEqual(filterFromQuery({ group: 'nonsense', other: 'x' }), {});
    assert.deepEqual(filterFromQuery({ node: ['a', 'b'], group: { x: 1 } }), { node: 'a' });
  });

  it('caps the NodePort columns, keeping the failing ones, and counts what it hides', () => {
    const nodePorts = Array.from({ length: 250 }, (_, i) =>
      nodePort({ nodePort: 30000 + i, group: 'gis-environment' }),
    );
    const store = clusterStore({
      nodePorts,
      result: (t) => (t.port === 30249 || t.port === 30248 ? TIMEOUT : OPEN),
    });
    const view = statusView(store, T0, { maxNodePortColumns: 40 });
    const shown = view.columns.filter((c) => c.category === 'nodeport').map((c) => c.port);
    assert.equal(shown.length, 40);
    assert.deepEqual(shown.slice(0, 3), [30000, 30001, 30002]);
    assert.deepEqual(shown.slice(-2), [30248, 30249], 'the failing columns are kept, in order');
    assert.deepEqual(view.hidden, { columns: 210, failing: 0 });
    assert.equal(view.failing.length, 6);

    const tight = statusView(store, T0, { maxNodePortColumns: 1 });
    assert.deepEqual(
      tight.columns.filter((c) => c.category === 'nodeport').map((c) => c.port),
      [30248],
    );
    assert.deepEqual(tight.hidden, { columns: 249, failing: 3 });
    assert.deepEqual(
      tight.nodes.map((n) => n.hiddenFailing),
      [1, 1, 1],
    );
    assert.equal(tight.failing.length, 6, 'the list keeps what the matrix hides');
  });

  it('carries node readiness, roles and the last ICMP echo', () => {
    const nodes = [{ ...clusterNode('worker-9', '10.0.0.9', ['worker']), ready: false }];
    const store = clusterStore({ nodes, nodePorts: [] });
    store.recordIcmp({ node: 'worker-9', address: '10.0.0.9', ip: '10.0.0.9' }, { up: false }, T0);
    const [node] = statusView(store, T0).nodes;
    assert.deepEqual(node, {
      name: 'worker-9',
      address: '10.0.0.9',
      roles: ['worker'],
      ready: false,
      icmp: { up: false },
      failing: 0,
      hiddenFailing: 0,
    });
  });

  it('shows a failing target over a passing one when two share a node and port', () => {
    const a = catalogTarget({ node: 'n', address: '10.0.0.1' });
    const b = catalogTarget({ node: 'n', address: '127.0.0.1' });
    const store = new ResultStore();
    store.setTargets([a, b]);
    store.record(a, OPEN, T0);
    store.record(b, REFUSED, T0);
    const view = statusView(store, T0);
    assert.equal(view.cells.get('n')?.get(6443)?.state, 'refused');
    assert.equal(view.totals.targets, 1);
    assert.deepEqual(view.totals.byState, { ...NO_STATES, refused: 1 });
  });

  it('is empty, not broken, without targets', () => {
    const view = statusView(new ResultStore(), T0);
    assert.deepEqual(view.nodes, []);
    assert.deepEqual(view.columns, []);
    assert.equal(view.lastProbeMs, undefined);
    assert.equal(view.totals.targets, 0);
  });

  it('orders rows as the nodes were found, whatever order the targets come in', () => {
    const store = clusterStore();
    const reversed: Target[] = [...store.targets()].reverse();
    store.setTargets(reversed);
    assert.deepEqual(
      statusView(store, T0).nodes.map((n) => n.name),
      NODES.map((n) => n.name),
    );
  });
});

const OPEN: ProbeResult = { state: 'open', durationSeconds: 0.0004 };
const NO_STATES: Record<CellState, number> = {
  open: 0,
  refused: 0,
  timeout: 0,
  unreachable: 0,
  error: 0,
  rejected: 0,
  unprobed: 0,
};
