import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STATE_GUIDE } from '../../src/probe/states.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { StatusData } from '../../src/server/status/latest.js';
import {
  type CellState,
  queryFromParams,
  StatusQueryError,
  statusView,
  type Verdict,
} from '../../src/server/status-view.js';
import type { ExpectedState, Target } from '../../src/targets/types.js';
import { judge } from '../../src/targets/verdict.js';
import { newStore } from '../helpers/store.js';
import { catalogTarget } from '../results/targets.js';
import { clusterNode, clusterStore, NODES, nodePort, T0, viewOf } from './status-fixture.js';

const OPEN: ProbeResult = { state: 'open', durationSeconds: 0.0004 };
const REFUSED: ProbeResult = { state: 'refused', durationSeconds: 0.0002, error: 'ECONNREFUSED' };
const TIMEOUT: ProbeResult = { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' };
const UNREACHABLE: ProbeResult = {
  state: 'unreachable',
  durationSeconds: 0.003,
  error: 'EHOSTUNREACH',
};
const NO_STATES: Record<CellState, number> = {
  open: 0,
  refused: 0,
  timeout: 0,
  unreachable: 0,
  error: 0,
  rejected: 0,
  unprobed: 0,
};

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
  it('has a row per node and a column per port: catalog order, then NodePorts by group and number', async () => {
    const view = await viewOf(clusterStore());
    const m = view.matrix;
    assert.ok(m);
    assert.deepEqual(
      m.nodes.map((n) => n.name),
      ['master-1', 'worker-1', 'worker-2'],
    );
    assert.deepEqual(
      m.columns.map((c) => c.port),
      // 31234 first as in the catalog; 10259/10257 are bound to localhost, unseen from central.
      [
        31234, 6443, 2379, 2380, 10250, 10251, 10252, 9101, 3307, 9183, 179, 31100, 30080, 31500,
        32000,
      ],
    );
    assert.deepEqual(m.columns.map((c) => c.group).slice(-3), [
      'basic-service',
      'gis-environment',
      'other',
    ]);
    assert.deepEqual(m.columns.at(-2)?.nodePort, {
      namespace: 'imanager-gis',
      service: 'gisapp-1a2b',
    });
    assert.equal(m.cells.get('worker-1')?.get(6443), undefined);
    assert.equal(m.cells.get('master-1')?.get(6443)?.state, 'open');
    assert.deepEqual(view.groups, ['catalog', 'basic-service', 'gis-environment', 'other']);
  });

  it('puts NodePorts of a lower group after higher ones whatever their numbers', async () => {
    const store = clusterStore({
      nodePorts: [
        nodePort({ nodePort: 30001, group: 'other' }),
        nodePort({ nodePort: 32001, group: 'basic-service' }),
        nodePort({ nodePort: 31001, group: 'gis-environment' }),
        nodePort({ nodePort: 30500, group: 'basic-service' }),
      ],
    });
    const columns = (await viewOf(store)).matrix?.columns ?? [];
    assert.deepEqual(
      columns.filter((c) => c.category === 'nodeport').map((c) => c.port),
      [30500, 32001, 31001, 30001],
    );
  });

  it('lists a required port that is not open with its state, since when and what to do', async () => {
    const store = clusterStore({
      result: (t) => (t.node === 'worker-1' && t.port === 9101 ? REFUSED : OPEN),
      at: () => T0 - 300_000,
    });
    const view = await viewOf(store);
    assert.equal(view.totals.failing, 1);
    assert.equal(view.totals.failingNodes, 1);
    assert.equal(view.failing.total, 1);
    const [row] = view.failing.rows;
    assert.equal(row?.kind, 'target');
    assert.equal(row?.node, 'worker-1');
    assert.equal(row?.address, '10.0.0.2');
    assert.equal(row?.port, 9101);
    assert.equal(row?.name, 'node-exporter');
    assert.equal(row?.state, 'refused');
    assert.equal(row?.verdict, 'down');
    assert.equal(row?.sinceMs, T0 - 300_000);
    assert.equal(row?.error, 'ECONNREFUSED');
    assert.equal(row?.hint, STATE_GUIDE.refused.action);
    const cell = view.matrix?.cells.get('worker-1')?.get(9101);
    assert.equal(cell?.verdict, 'down');
    assert.equal(cell?.failing, true);
    assert.equal(view.matrix?.nodes.find((n) => n.name === 'worker-1')?.failing, 1);
    assert.equal(view.matrix?.columns.find((c) => c.port === 9101)?.failing, 1);
  });

  it('a node where nothing answers is one row, whatever its ports', async () => {
    const store = clusterStore({
      result: (t) => (t.node === 'worker-2' ? UNREACHABLE : OPEN),
    });
    const view = await viewOf(store);
    assert.ok(view.totals.failing > 3, `${view.totals.failing}`);
    assert.equal(view.failing.total, 1);
    const [row] = view.failing.rows;
    assert.equal(row?.kind, 'node');
    assert.equal(row?.node, 'worker-2');
    assert.equal(row?.nodeDown, true);
    assert.equal(row?.state, 'unreachable');
    assert.equal(row?.count, view.totals.failing);
    assert.ok(row?.members.some((m) => m.startsWith('10250 ')));
    assert.equal(view.matrix?.nodes.find((n) => n.name === 'worker-2')?.nothingAnswers, true);
  });

  it('a node whose firewall rejects every port answers: one row that says open the ports, not that it is down', async () => {
    const rejected: ProbeResult = { state: 'rejected', durationSeconds: 0.0003, error: 'EACCES' };
    const store = clusterStore({ result: (t) => (t.node === 'worker-2' ? rejected : OPEN) });
    const view = await viewOf(store);
    assert.equal(view.failing.total, 1);
    const [row] = view.failing.rows;
    assert.equal(row?.kind, 'node');
    assert.equal(row?.node, 'worker-2');
    assert.equal(row?.nodeDown, false);
    assert.equal(row?.state, 'rejected');
    assert.equal(row?.hint, STATE_GUIDE.rejected.action);
    assert.equal(view.matrix?.nodes.find((n) => n.name === 'worker-2')?.nothingAnswers, false);
  });

  it('a NodePort failing on every node is one row with a count; a node dropping several ports is one', async () => {
    const nodePorts = Array.from({ length: 60 }, (_, i) =>
      nodePort({ nodePort: 30100 + i, namespace: 'imanager-gis', group: 'gis-environment' }),
    );
    const store = clusterStore({
      nodePorts,
      result: (t) => {
        if (t.category === 'nodeport') return REFUSED; // 60 Services without endpoints
        if (t.node === 'worker-1' && (t.port === 9101 || t.port === 10250)) return TIMEOUT;
        return OPEN;
      },
    });
    const view = await viewOf(store, T0, {}, { failingRowsPerPage: 100 });
    assert.equal(view.totals.failing, 60 * 3 + 2);
    assert.equal(view.failing.total, 61, '60 Services and one node');
    const ports = view.failing.rows.filter((r) => r.kind === 'port');
    assert.equal(ports.length, 60);
    assert.deepEqual(
      { count: ports[0]?.count, nodes: ports[0]?.nodes, of: ports[0]?.of },
      { count: 3, nodes: 3, of: 3 },
    );
    assert.deepEqual(ports[0]?.members, ['master-1', 'worker-1', 'worker-2']);
    const node = view.failing.rows.find((r) => r.kind === 'node');
    assert.equal(node?.node, 'worker-1');
    assert.equal(node?.count, 2);
    assert.equal(node?.nodeDown, false);
    // A timeout is worse than a refusal: the node's row comes first.
    assert.equal(view.failing.rows[0], node);
  });

  it('lists exposures first, then nodes where nothing answers, then by state', async () => {
    const store = clusterStore({
      vantage: 'external',
      result: (t) => {
        if (t.node === 'worker-2') return UNREACHABLE;
        if (t.node === 'master-1' && t.port === 2379) return OPEN; // internal, answers from outside
        if (t.expected === 'closed') return REFUSED;
        if (t.port === 31500) return TIMEOUT;
        return OPEN;
      },
    });
    const view = await viewOf(store);
    const order = view.failing.rows.map((r) => `${r.kind} ${r.verdict} ${r.node ?? r.port}`);
    assert.equal(order[0], 'target exposed master-1');
    assert.equal(order[1], 'node down worker-2');
    assert.equal(
      view.failing.rows[0]?.hint,
      judge({ expected: 'closed', required: true }, 'open').advice,
    );
    assert.equal(view.matrix?.cells.get('master-1')?.get(2379)?.verdict, 'exposed');
  });

  it('pages the list of what fails', async () => {
    const nodePorts = Array.from({ length: 30 }, (_, i) => nodePort({ nodePort: 30100 + i }));
    const store = clusterStore({
      nodePorts,
      result: (t) => (t.category === 'nodeport' ? TIMEOUT : OPEN),
    });
    const first = await viewOf(store, T0, {}, { failingRowsPerPage: 20 });
    assert.deepEqual([first.failing.total, first.failing.page, first.failing.pages], [30, 1, 2]);
    assert.equal(first.failing.rows.length, 20);
    const second = await viewOf(store, T0, { failingPage: 2 }, { failingRowsPerPage: 20 });
    assert.equal(second.failing.rows.length, 10);
    const past = await viewOf(store, T0, { failingPage: 9 }, { failingRowsPerPage: 20 });
    assert.equal(past.failing.page, 2, 'a page past the end shows the last');
  });

  it('says "since start" until this process sees a change', async () => {
    const store = clusterStore({ result: (t) => (t.port === 31500 ? TIMEOUT : OPEN) });
    let now = T0;
    const data = new StatusData(store, { now: () => now });
    const first = statusView(await data.capture(), now, {
      filter: {},
      failingPage: 1,
      nodePage: 1,
    });
    assert.equal(first.failing.rows[0]?.sinceStart, true);
    const target = store.targets().find((t) => t.node === 'worker-1' && t.port === 31500);
    assert.ok(target);
    now = T0 + 15_000;
    store.record(target, REFUSED, now);
    const second = statusView(await data.capture(), now, {
      filter: {},
      failingPage: 1,
      nodePage: 1,
    });
    const worker1 = second.matrix?.cells.get('worker-1')?.get(31500);
    assert.equal(worker1?.sinceStart, false);
    assert.equal(worker1?.sinceMs, T0 + 15_000);
    assert.equal(second.matrix?.cells.get('worker-2')?.get(31500)?.sinceStart, true);
    // A node found later: no change seen since its first probe, which is not the start.
    store.setTargets([
      ...store.targets(),
      ...clusterStore({ nodes: [clusterNode('worker-9', '10.0.0.9', ['worker'])] }).targets(),
    ]);
    now = T0 + 30_000;
    for (const t of store.targets()) if (t.node === 'worker-9') store.record(t, REFUSED, now);
    const third = statusView(await data.capture(), now, {
      filter: {},
      failingPage: 1,
      nodePage: 1,
    });
    const late = third.matrix?.cells.get('worker-9')?.get(10250);
    assert.deepEqual([late?.sinceStart, late?.unchanged], [false, true]);
    const changed = third.matrix?.cells.get('worker-1')?.get(31500);
    assert.deepEqual([changed?.sinceStart, changed?.unchanged], [false, false]);
    const lateRow = third.failing.rows.find((r) => r.kind === 'node' && r.node === 'worker-9');
    assert.deepEqual([lateRow?.sinceStart, lateRow?.unchanged], [false, true]);
  });

  it('lists what recovered, grouped as what fails', async () => {
    const store = clusterStore({
      result: (t) => (t.port === 31500 || t.node === 'worker-2' ? TIMEOUT : OPEN),
    });
    let now = T0;
    const data = new StatusData(store, { now: () => now });
    await data.capture();
    now = T0 + 60_000;
    for (const t of store.targets()) {
      if (t.port === 31500 || t.node === 'worker-2') store.record(t, OPEN, now);
    }
    const view = statusView(await data.capture(), now, { filter: {}, failingPage: 1, nodePage: 1 });
    assert.equal(view.failing.total, 0);
    const kinds = view.recoveries.rows.map((r) => `${r.kind} ${r.node ?? r.port} ${r.wasState}`);
    assert.ok(kinds.includes('port 31500 timeout'), `${kinds}`);
    assert.ok(kinds.includes('node worker-2 timeout'), `${kinds}`);
    const row = view.recoveries.rows.find((r) => r.kind === 'port');
    assert.equal(row?.failedSinceMs, T0);
    assert.equal(row?.recoveredAtMs, T0 + 60_000);
    // An hour later they are gone.
    now = T0 + 60_000 + 3_601_000;
    const later = statusView(await data.capture(), now, {
      filter: {},
      failingPage: 1,
      nodePage: 1,
    });
    assert.equal(later.recoveries.total, 0);
  });

  it('follows targets across a re-plan that moves their rows', async () => {
    const store = clusterStore({ result: (t) => (t.port === 31500 ? TIMEOUT : OPEN) });
    let now = T0;
    const data = new StatusData(store, { now: () => now });
    await data.capture();
    store.setTargets([...store.targets()].reverse());
    now = T0 + 15_000;
    const target = store.targets().find((t) => t.node === 'worker-1' && t.port === 31500);
    assert.ok(target);
    store.record(target, OPEN, now);
    const view = statusView(await data.capture(), now, { filter: {}, failingPage: 1, nodePage: 1 });
    assert.deepEqual(
      view.recoveries.rows.map((r) => [r.kind, r.node, r.port]),
      [['target', 'worker-1', 31500]],
    );
    assert.equal(view.matrix?.cells.get('worker-1')?.get(31500)?.sinceStart, false);
    assert.equal(view.matrix?.cells.get('worker-2')?.get(31500)?.sinceStart, true);
  });

  it('does not list what is not required, nor what is expected any, but still judges it', async () => {
    const store = clusterStore({
      result: (t) => (t.port === 32000 || t.port === 10251 ? REFUSED : OPEN),
    });
    const view = await viewOf(store);
    assert.equal(view.failing.total, 0);
    const other = view.matrix?.cells.get('worker-1')?.get(32000);
    assert.equal(other?.verdict, 'down');
    assert.equal(other?.required, false);
    assert.equal(other?.failing, false);
    assert.equal(view.matrix?.cells.get('master-1')?.get(10251)?.verdict, 'neutral');
  });

  it('shows a target without a result as not probed yet, and never as failing', async () => {
    const store = clusterStore({ result: (t) => (t.node === 'worker-2' ? undefined : OPEN) });
    const view = await viewOf(store);
    const cell = view.matrix?.cells.get('worker-2')?.get(10250);
    assert.equal(cell?.state, 'unprobed');
    assert.equal(cell?.verdict, 'unprobed');
    assert.equal(cell?.sinceMs, undefined);
    assert.equal(view.totals.failing, 0);
    assert.ok(view.totals.byState.unprobed > 0);
    assert.equal(view.totals.byState.unprobed + view.totals.byState.open, view.totals.targets);
  });

  it('narrows to one node with its ports listed, latency and all, keeping every node in the choice', async () => {
    const view = await viewOf(clusterStore({ result: () => REFUSED }), T0, {
      filter: { node: 'worker-1' },
    });
    assert.deepEqual(
      view.matrix?.nodes.map((n) => n.name),
      ['worker-1'],
    );
    assert.deepEqual(view.allNodes, ['master-1', 'worker-1', 'worker-2']);
    assert.ok(view.failing.rows.every((f) => f.node === 'worker-1'));
    assert.ok(!view.matrix?.columns.some((c) => c.port === 6443));
    assert.equal(view.unknownNode, false);
    const open = await viewOf(clusterStore(), T0, { filter: { node: 'worker-1' } });
    const kubelet = open.ports?.find((p) => p.column.port === 10250);
    assert.equal(kubelet?.state, 'open');
    assert.equal(kubelet?.latencySeconds, 0.0004);
    const mean = open.matrix?.nodes[0]?.latency?.meanSeconds ?? 0;
    assert.ok(Math.abs(mean - 0.0004) < 1e-12, `${mean}`);
  });

  it('knows a node it has no targets for', async () => {
    const view = await viewOf(clusterStore(), T0, { filter: { node: 'no-such-node' } });
    assert.equal(view.unknownNode, true);
    assert.equal(view.totals.targets, 0);
    assert.equal(view.lastProbeAnyMs, T0);
  });

  it('narrows to one group of ports', async () => {
    const store = clusterStore({ result: () => REFUSED });
    const gis = await viewOf(store, T0, { filter: { group: 'gis-environment' } });
    assert.deepEqual(
      gis.matrix?.columns.map((c) => c.port),
      [31500],
    );
    assert.equal(gis.matrix?.nodes.length, 3);
    assert.ok(gis.failing.rows.every((f) => f.port === 31500));
    const catalog = await viewOf(store, T0, { filter: { group: 'catalog' } });
    assert.ok(catalog.matrix?.columns.every((c) => c.category !== 'nodeport'));
  });

  it('reads the query: an unknown group is an error naming the valid ones', () => {
    assert.deepEqual(queryFromParams({ node: 'worker-1', group: 'gis-environment' }), {
      filter: { node: 'worker-1', group: 'gis-environment' },
      failingPage: 1,
      nodePage: 1,
    });
    assert.deepEqual(queryFromParams({ node: '', group: '', other: 'x' }).filter, {});
    assert.deepEqual(queryFromParams({ node: ['a', 'b'], group: { x: 1 } }).filter, { node: 'a' });
    assert.equal(queryFromParams({ page: '3', nodes: '2' }).failingPage, 3);
    assert.throws(
      () => queryFromParams({ group: 'nonsense' }),
      (err: unknown) =>
        err instanceof StatusQueryError &&
        err.message ===
          'unknown group "nonsense": expected one of catalog, basic-service, gis-environment, other',
    );
    assert.throws(() => queryFromParams({ page: '0' }), StatusQueryError);
    assert.throws(() => queryFromParams({ page: 'x' }), StatusQueryError);
  });

  it('caps the NodePort columns, keeping the failing ones, and counts what it hides', async () => {
    const nodePorts = Array.from({ length: 250 }, (_, i) =>
      nodePort({ nodePort: 30000 + i, group: 'gis-environment' }),
    );
    const store = clusterStore({
      nodePorts,
      result: (t) => (t.port === 30249 || t.port === 30248 ? TIMEOUT : OPEN),
    });
    const view = await viewOf(store, T0, {}, { maxNodePortColumns: 40 });
    const shown = (view.matrix?.columns ?? [])
      .filter((c) => c.category === 'nodeport')
      .map((c) => c.port);
    assert.equal(shown.length, 40);
    assert.deepEqual(shown.slice(0, 3), [30000, 30001, 30002]);
    assert.deepEqual(shown.slice(-2), [30248, 30249], 'the failing columns are kept, in order');
    assert.deepEqual(view.matrix?.hidden, { columns: 210, failing: 0 });
    assert.equal(view.failing.total, 2, 'two ports, each on every node');

    const tight = await viewOf(store, T0, {}, { maxNodePortColumns: 1 });
    assert.deepEqual(
      (tight.matrix?.columns ?? []).filter((c) => c.category === 'nodeport').map((c) => c.port),
      [30248],
    );
    assert.deepEqual(tight.matrix?.hidden, { columns: 249, failing: 3 });
    assert.deepEqual(
      tight.matrix?.nodes.map((n) => n.hiddenFailing),
      [1, 1, 1],
    );
  });

  it('above its size, a table of nodes, paged, replaces the matrix', async () => {
    const nodes = Array.from({ length: 250 }, (_, i) =>
      clusterNode(`worker-${String(i).padStart(3, '0')}`, `10.1.${i >> 8}.${i & 255}`, ['worker']),
    );
    const store = clusterStore({
      nodes,
      nodePorts: [],
      result: (t) => (t.port === 9101 ? REFUSED : OPEN),
    });
    const view = await viewOf(
      store,
      T0,
      { nodePage: 3 },
      { matrixMaxCells: 1000, nodesPerPage: 100 },
    );
    assert.equal(view.matrix, undefined);
    assert.ok(view.nodeTable);
    assert.deepEqual(
      [view.nodeTable.total, view.nodeTable.page, view.nodeTable.pages],
      [250, 3, 3],
    );
    assert.equal(view.nodeTable.rows.length, 50);
    assert.equal(view.nodeTable.rows[0]?.name, 'worker-200');
    assert.equal(view.nodeTable.rows[0]?.failing, 1);
    assert.deepEqual(
      view.failing.rows.map((r) => [r.kind, r.port, r.count]),
      [['port', 9101, 250]],
    );
  });

  it('carries node readiness, roles and the last ICMP echo', async () => {
    const nodes = [{ ...clusterNode('worker-9', '10.0.0.9', ['worker']), ready: false }];
    const store = clusterStore({ nodes, nodePorts: [] });
    store.recordIcmp({ node: 'worker-9', address: '10.0.0.9', ip: '10.0.0.9' }, { up: false }, T0);
    const node = (await viewOf(store)).matrix?.nodes[0];
    assert.equal(node?.name, 'worker-9');
    assert.equal(node?.address, '10.0.0.9');
    assert.deepEqual(node?.roles, ['worker']);
    assert.equal(node?.ready, false);
    assert.deepEqual(node?.icmp, { up: false });
  });

  it('shows a failing target over a passing one when two share a node and port', async () => {
    const a = catalogTarget({ node: 'n', address: '10.0.0.1' });
    const b = catalogTarget({ node: 'n', address: '127.0.0.1' });
    const store = newStore();
    store.setTargets([a, b]);
    store.record(a, OPEN, T0);
    store.record(b, REFUSED, T0);
    const view = await viewOf(store);
    assert.equal(view.matrix?.cells.get('n')?.get(6443)?.state, 'refused');
    assert.deepEqual(view.totals.byState, { ...NO_STATES, refused: 1, open: 1 });
  });

  it('is empty, not broken, without targets', async () => {
    const view = await viewOf(newStore());
    assert.equal(view.matrix, undefined);
    assert.equal(view.lastProbeMs, undefined);
    assert.equal(view.totals.targets, 0);
    assert.equal(view.failing.total, 0);
  });

  it('orders rows as the nodes were found, whatever order the targets come in', async () => {
    const store = clusterStore();
    const reversed: Target[] = [...store.targets()].reverse();
    store.setTargets(reversed);
    assert.deepEqual(
      (await viewOf(store)).matrix?.nodes.map((n) => n.name),
      NODES.map((n) => n.name),
    );
  });
});
