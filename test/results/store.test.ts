import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNPROBED } from '../../src/results/store.js';
import type { Target } from '../../src/targets/types.js';
import { renderedTargetFamilies } from '../helpers/scrape.js';
import { newStore } from '../helpers/store.js';
import { catalogTarget, nodePortTarget } from './targets.js';

const T0 = 1_700_000_000_000;

describe('ResultStore', () => {
  it('knows a new target but has no result for it until the first probe', () => {
    const store = newStore();
    const t = catalogTarget();
    store.setTargets([t]);
    assert.equal(store.size, 1);
    assert.equal(store.has(t.key), true);
    assert.equal(store.result(t.key), undefined);
    assert.equal(store.columns().state[0], UNPROBED);
    assert.deepEqual(store.targets(), [t]);
  });

  it('keeps the latest result, with the time of the probe and of the last state change', () => {
    const store = newStore();
    const t = catalogTarget();
    store.setTargets([t]);
    assert.equal(store.record(t, { state: 'open', durationSeconds: 0.002 }, T0), true);
    assert.deepEqual(store.result(t.key), {
      state: 'open',
      durationSeconds: 0.002,
      probedAtMs: T0,
      lastChangeMs: T0,
    });
  });

  it('moves lastChange only when the state differs from the previous one', () => {
    const store = newStore();
    const t = catalogTarget();
    store.setTargets([t]);
    store.record(t, { state: 'open', durationSeconds: 0.001 }, T0);
    store.record(t, { state: 'open', durationSeconds: 0.003 }, T0 + 15_000);
    assert.equal(store.result(t.key)?.lastChangeMs, T0);
    assert.equal(store.result(t.key)?.probedAtMs, T0 + 15_000);
    assert.equal(store.result(t.key)?.durationSeconds, 0.003);

    store.record(t, { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' }, T0 + 30_000);
    assert.deepEqual(store.result(t.key), {
      state: 'timeout',
      durationSeconds: 2,
      error: 'ETIMEDOUT',
      probedAtMs: T0 + 30_000,
      lastChangeMs: T0 + 30_000,
    });

    store.record(t, { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' }, T0 + 45_000);
    assert.equal(store.result(t.key)?.lastChangeMs, T0 + 30_000);
    // An error reason belongs to its result: an open port afterwards has none.
    store.record(t, { state: 'open', durationSeconds: 0.001 }, T0 + 60_000);
    assert.equal(store.result(t.key)?.error, undefined);
    assert.equal(store.result(t.key)?.lastChangeMs, T0 + 60_000);
  });

  it('deletes a removed target and its result at once', async () => {
    const store = newStore();
    const a = catalogTarget();
    const b = catalogTarget({ port: 2379, portName: 'etcd-client', component: 'etcd' });
    store.setTargets([a, b]);
    store.record(a, { state: 'open', durationSeconds: 0.001 }, T0);
    store.record(b, { state: 'refused', durationSeconds: 0.001 }, T0);

    store.setTargets([b]);
    assert.equal(store.size, 1);
    assert.equal(store.has(a.key), false);
    assert.equal(store.result(a.key), undefined);
    assert.equal(store.result(b.key)?.state, 'refused');
    const text = await renderedTargetFamilies(store);
    assert.doesNotMatch(text, /port="6443"/);
    assert.match(text, /port="2379"/);

    // Back in the set, it starts over: no stale result comes back with it.
    store.setTargets([a, b]);
    assert.equal(store.result(a.key), undefined);
  });

  it('ignores a result for a target that is no longer in the set', async () => {
    const store = newStore();
    const a = catalogTarget();
    store.setTargets([a]);
    store.setTargets([]);
    assert.equal(store.record(a, { state: 'open', durationSeconds: 0.001 }, T0), false);
    assert.equal(store.size, 0);
    assert.equal(store.result(a.key), undefined);
    assert.equal((await renderedTargetFamilies(store)).includes('node-1'), false);
  });

  it('keeps results across a re-plan that changes labels, and shows the new labels', async () => {
    const store = newStore();
    const before = catalogTarget({ expected: 'open', required: true });
    const other = catalogTarget({ node: 'node-2', address: '10.0.0.2' });
    store.setTargets([before, other]);
    store.record(before, { state: 'refused', durationSeconds: 0.001 }, T0);
    store.record(other, { state: 'open', durationSeconds: 0.004 }, T0);

    const after = catalogTarget({ expected: 'any', required: false });
    const added = nodePortTarget();
    store.setTargets([added, { ...other }, after]);
    assert.equal(store.result(after.key)?.state, 'refused');
    assert.equal(store.result(after.key)?.lastChangeMs, T0);
    store.record(added, { state: 'open', durationSeconds: 0.002 }, T0);

    // The label bytes of kept, changed and new rows match a store built from scratch.
    const fresh = newStore();
    fresh.setTargets([added, other, after]);
    fresh.record(after, { state: 'refused', durationSeconds: 0.001 }, T0);
    fresh.record(other, { state: 'open', durationSeconds: 0.004 }, T0);
    fresh.record(added, { state: 'open', durationSeconds: 0.002 }, T0);
    const text = await renderedTargetFamilies(store);
    assert.equal(text, await renderedTargetFamilies(fresh));
    assert.match(text, /node="node-1".*required="false",expected="any"\} 0/);
  });

  it('reuses the memory of replaced columns, but never of leased ones', async () => {
    const targetsOn = (node: string) =>
      Array.from({ length: 50 }, (_, i) => catalogTarget({ node, port: 1000 + i }));
    const [a, b, c, d] = ['node-a', 'node-b', 'node-c', 'node-d'].map(targetsOn) as Target[][];
    const store = newStore();
    store.setTargets(a as Target[]);
    const lease = store.leaseColumns();
    const leased = Buffer.from(lease.table.labelBytes);
    store.setTargets(b as Target[]);
    store.setTargets(c as Target[]);
    // a's memory would have been reused here, were it not leased.
    assert.notEqual(store.columns().labelBytes.buffer, lease.table.labelBytes.buffer);
    assert.deepEqual(Buffer.from(lease.table.labelBytes), leased);
    lease.release();
    lease.release();
    const bMemory = store.columns().labelBytes.buffer;
    store.setTargets(d as Target[]);
    store.setTargets(a as Target[]);
    assert.equal(store.columns().labelBytes.buffer, bMemory);
    const text = await renderedTargetFamilies(store);
    const fresh = newStore();
    fresh.setTargets(a as Target[]);
    assert.equal(text, await renderedTargetFamilies(fresh));
  });

  it('keeps its columns when a re-plan changes nothing a row shows', () => {
    const store = newStore();
    const t = catalogTarget();
    store.setTargets([t]);
    store.record(t, { state: 'open', durationSeconds: 0.001 }, T0);
    const state = store.columns().state;
    const again = { ...t };
    store.setTargets([again]);
    assert.equal(store.columns().state, state);
    assert.equal(store.targets()[0], again);
    assert.equal(store.result(t.key)?.state, 'open');
  });

  it('keeps the first of two targets with the same key', () => {
    const store = newStore();
    const first = catalogTarget({ component: 'first' });
    const second = catalogTarget({ component: 'second' });
    store.setTargets([first, second]);
    assert.equal(store.size, 1);
    assert.equal(store.targets()[0], first);
  });

  it('counts targets by category, probed or not', () => {
    const store = newStore();
    store.setTargets([
      catalogTarget(),
      catalogTarget({ port: 2379 }),
      catalogTarget({ port: 5000, category: 'default' }),
      nodePortTarget(),
    ]);
    assert.deepEqual(Object.fromEntries(store.targetsByCategory()), {
      fixed: 2,
      default: 1,
      nodeport: 1,
    });
  });

  it('keeps ICMP results only for node addresses that targets name, with their vantage', () => {
    const store = newStore();
    store.setTargets([
      catalogTarget({ vantage: 'node-9', node: 'node-1', address: '10.0.0.1' }),
      catalogTarget({ vantage: 'node-9', node: 'node-2', address: '10.0.0.2' }),
    ]);
    assert.equal(
      store.recordIcmp(
        { node: 'node-1', address: '10.0.0.1', ip: '10.0.0.1' },
        { up: true, rttSeconds: 0.0005 },
        T0,
      ),
      true,
    );
    assert.equal(
      store.recordIcmp({ node: 'node-2', address: '10.0.0.2', ip: '10.0.0.2' }, { up: false }, T0),
      true,
    );
    assert.equal(
      store.recordIcmp(
        { node: 'node-3', address: '10.0.0.3', ip: '10.0.0.3' },
        { up: true, rttSeconds: 0.001 },
        T0,
      ),
      false,
    );
    assert.deepEqual(
      [...store.icmpResults()],
      [
        {
          vantage: 'node-9',
          node: 'node-1',
          address: '10.0.0.1',
          ip: '10.0.0.1',
          up: true,
          rttSeconds: 0.0005,
          probedAtMs: T0,
        },
        {
          vantage: 'node-9',
          node: 'node-2',
          address: '10.0.0.2',
          ip: '10.0.0.2',
          up: false,
          probedAtMs: T0,
        },
      ],
    );

    store.setTargets([catalogTarget({ vantage: 'node-9', node: 'node-2', address: '10.0.0.2' })]);
    assert.deepEqual(
      [...store.icmpResults()].map((e) => e.node),
      ['node-2'],
    );
  });

  it('stores label text with non-ASCII values as UTF-8 without losing the identifying prefix', async () => {
    const store = newStore();
    const t = catalogTarget({ node: 'nœud-1', component: 'Grafana "α"' });
    store.setTargets([t]);
    store.record(t, { state: 'open', durationSeconds: 0.25 }, T0);
    const text = await renderedTargetFamilies(store);
    assert.match(
      text,
      /\nimanager_port_connect_duration_seconds\{vantage="central",node="nœud-1",address="10.0.0.1",ip="10.0.0.1",port="6443",protocol="tcp"\} 0.25\n/,
    );
    assert.match(text, /component="Grafana \\"α\\""/);
  });
});
