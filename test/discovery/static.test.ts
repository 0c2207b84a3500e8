import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  mergeStaticNodes,
  StaticSource,
  staticNode,
  withStaticNodes,
} from '../../src/discovery/static.js';
import type { ClusterNode, DiscoverySnapshot, Source } from '../../src/discovery/types.js';
import { FakeClock } from '../helpers/fake-clock.js';

const discovered: ClusterNode[] = [
  {
    name: 'm1',
    addresses: ['127.0.10.1'],
    roles: ['control-plane'],
    ready: true,
    kubeletVersion: 'v1.25.6',
  },
  {
    name: 'w1',
    addresses: ['127.0.10.2'],
    roles: ['worker'],
    ready: false,
    kubeletVersion: 'v1.25.6',
  },
];

describe('StaticSource', () => {
  it('hands out its fixed snapshot at start and is always up', async () => {
    const clock = new FakeClock(0, Date.UTC(2025, 0, 1, 12));
    const source = new StaticSource({
      nodes: [{ name: 'nfs', addresses: ['127.0.10.9'], roles: ['nfs-server', 'worker'] }],
      kubernetesVersion: '1.22',
      clock,
    });
    assert.deepEqual(source.status(), { source: 'static', up: true });
    const seen: DiscoverySnapshot[] = [];
    await source.start((s) => seen.push(s));
    assert.deepEqual(seen, [
      {
        nodes: [
          {
            name: 'nfs',
            addresses: ['127.0.10.9'],
            roles: ['worker', 'nfs-server'],
            ready: true,
            kubeletVersion: '',
          },
        ],
        nodePorts: [],
        kubernetesVersion: '1.22',
      },
    ]);
    assert.deepEqual(source.status(), {
      source: 'static',
      up: true,
      lastSuccessSeconds: Date.UTC(2025, 0, 1, 12) / 1000,
    });
    await source.stop();
  });
});

describe('mergeStaticNodes', () => {
  const snapshot: DiscoverySnapshot = {
    nodes: discovered,
    nodePorts: [],
    kubernetesVersion: '1.25',
  };

  it('adds configured nodes after the discovered ones', () => {
    const merged = mergeStaticNodes(snapshot, [
      staticNode({ name: 'registry', addresses: ['127.0.10.50'], roles: ['registry'] }),
    ]);
    assert.deepEqual(
      merged.nodes.map((n) => n.name),
      ['m1', 'w1', 'registry'],
    );
    assert.equal(merged.kubernetesVersion, '1.25');
  });

  it('keeps a discovered node over a configured one of the same name, adding its roles', () => {
    const merged = mergeStaticNodes(snapshot, [
      staticNode({ name: 'w1', addresses: ['127.0.99.99'], roles: ['license-center'] }),
    ]);
    assert.deepEqual(merged.nodes, [
      discovered[0],
      { ...discovered[1], roles: ['worker', 'license-center'] },
    ]);
  });

  it('returns the snapshot itself when nothing is configured', () => {
    assert.equal(mergeStaticNodes(snapshot, []), snapshot);
  });
});

describe('withStaticNodes', () => {
  it('merges into every snapshot of the inner source and reports its status', async () => {
    let push: (s: DiscoverySnapshot) => void = () => {};
    let stopped = false;
    const inner: Source = {
      name: 'kubernetes',
      start: async (onChange) => {
        push = onChange;
      },
      stop: async () => {
        stopped = true;
      },
      status: () => ({ source: 'kubernetes', up: false }),
    };
    const combined = withStaticNodes(inner, [
      { name: 'outside', addresses: ['127.0.10.77'], roles: ['registry'] },
    ]);
    const seen: string[][] = [];
    await combined.start((s) => seen.push(s.nodes.map((n) => n.name)));
    push({ nodes: discovered, nodePorts: [] });
    push({ nodes: [], nodePorts: [] });
    assert.deepEqual(seen, [['m1', 'w1', 'outside'], ['outside']]);
    assert.equal(combined.name, 'kubernetes');
    assert.deepEqual(combined.status(), { source: 'kubernetes', up: false });
    await combined.stop();
    assert.equal(stopped, true);
  });
});
