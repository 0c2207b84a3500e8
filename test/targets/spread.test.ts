import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import type { ClusterNode } from '../../src/discovery/types.js';
import { planTargets } from '../../src/targets/planner.js';
import { meshPeers, parseShard, shardOf } from '../../src/targets/spread.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);

function node(name: string, i: number): ClusterNode {
  return {
    name,
    addresses: [`10.0.${i >> 8}.${i & 255}`],
    roles: i === 0 ? ['control-plane'] : ['worker'],
    ready: true,
    kubeletVersion: 'v1.28.0',
  };
}

describe('shards', () => {
  test('parseShard reads i/N and refuses the rest', () => {
    assert.deepEqual(parseShard('0/1'), { index: 0, count: 1 });
    assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
    for (const bad of ['3/3', '0/0', '1', '-1/3', 'a/b', '1/3/4']) {
      assert.equal(parseShard(bad), undefined, bad);
    }
  });

  test('with shards 0/3, 1/3 and 2/3 every target is planned by exactly one', () => {
    const nodes = names(40).map(node);
    const snapshot = { nodes, nodePorts: [] };
    const all = planTargets({ vantage: 'central', catalog: CATALOG, snapshot });
    const owners = new Map<string, number[]>();
    const sizes: number[] = [];
    for (let index = 0; index < 3; index++) {
      const part = planTargets({
        vantage: 'central',
        catalog: CATALOG,
        snapshot,
        shard: { index, count: 3 },
      });
      sizes.push(part.length);
      for (const target of part) owners.set(target.key, [...(owners.get(target.key) ?? []), index]);
    }
    assert.equal(owners.size, all.length, 'every target is in some shard');
    for (const [key, list] of owners) assert.equal(list.length, 1, `${key} in shards ${list}`);
    // Balanced within 20% of an even split.
    for (const size of sizes)
      assert.ok(Math.abs(size - all.length / 3) < all.length / 15, `${sizes}`);
  });

  test('a target keeps its shard: the hash depends on its key alone', () => {
    assert.equal(
      shardOf('central|a|10.0.0.1|tcp|6443', 7),
      shardOf('central|a|10.0.0.1|tcp|6443', 7),
    );
  });
});

describe('mesh peers (rendezvous hashing)', () => {
  test('bounded: k peers, never itself, and all when there are fewer', () => {
    const all = names(50);
    const peers = meshPeers('node-7', all, 10);
    assert.equal(peers.length, 10);
    assert.ok(!peers.includes('node-7'));
    assert.equal(new Set(peers).size, 10);
    assert.deepEqual(meshPeers('node-1', names(4), 10).sort(), ['node-0', 'node-2', 'node-3']);
    assert.deepEqual(meshPeers('node-1', all, 0), []);
  });

  test('stable: a node joining or leaving changes at most the one choice it wins or loses', () => {
    const all = names(60);
    const before = meshPeers('node-3', all, 10);
    const joined = meshPeers('node-3', [...all, 'node-new'], 10);
    assert.ok(before.filter((p) => !joined.includes(p)).length <= 1);
    const leaving = before[4] as string;
    const left = meshPeers(
      'node-3',
      all.filter((n) => n !== leaving),
      10,
    );
    assert.deepEqual(
      before.filter((p) => p !== leaving),
      left.filter((p) => before.includes(p)),
    );
    assert.equal(left.length, 10);
  });

  test('spread: every node is probed by some agent, none by far more than k', () => {
    const all = names(200);
    const k = 10;
    const probedBy = new Map<string, number>(all.map((n) => [n, 0]));
    for (const self of all) {
      for (const peer of meshPeers(self, all, k)) probedBy.set(peer, (probedBy.get(peer) ?? 0) + 1);
    }
    const counts = [...probedBy.values()];
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      all.length * k,
      'cost is nodes x k',
    );
    assert.ok(Math.min(...counts) >= 1, 'a node no agent probes');
    assert.ok(Math.max(...counts) <= 3 * k, `a node probed by ${Math.max(...counts)} agents`);
  });

  test('a node agent plans its own node and its peers, and its localhost ports at 127.0.0.1', () => {
    const nodes = names(30).map(node);
    const targets = planTargets({
      vantage: 'node-0',
      catalog: CATALOG,
      snapshot: { nodes, nodePorts: [], kubernetesVersion: '1.28' },
      meshPeers: 5,
    });
    const probed = new Set(targets.map((t) => t.node));
    assert.equal(probed.size, 6);
    assert.ok(probed.has('node-0'));
    const scheduler = targets.find((t) => t.node === 'node-0' && t.port === 10259);
    assert.equal(scheduler?.address, '127.0.0.1');
    assert.equal(scheduler?.expected, 'open');
    assert.ok(targets.every((t) => t.vantage === 'node-0'));
  });
});
