/**
 * Incremental planning: a change of nodes or NodePorts plans only the targets it
 * touches (counted), the rest keep their objects, and the set is always planTargets'.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { NO_CATALOG_CHANGES } from '../../src/catalog/overrides.js';
import { CATALOG } from '../../src/catalog/ports.js';
import type { Role } from '../../src/catalog/types.js';
import type { ClusterNode, DiscoverySnapshot, NodePort } from '../../src/discovery/types.js';
import { NO_RESULTS, ProbePipeline, type ResultSink } from '../../src/pipeline.js';
import type { ResultStore } from '../../src/results/store.js';
import { IncrementalPlanner } from '../../src/targets/incremental.js';
import { type PlanInput, planTargets } from '../../src/targets/planner.js';
import type { Target } from '../../src/targets/types.js';
import { silentLogger } from '../../src/util/log.js';
import { newStore } from '../helpers/store.js';

function node(i: number, roles: Role[] = ['worker'], ready = true): ClusterNode {
  return {
    name: `node-${i}`,
    addresses: [`127.0.20.${i + 1}`],
    roles,
    ready,
    kubeletVersion: 'v1.28.3',
  };
}

function nodePort(i: number, fields: Partial<NodePort> = {}): NodePort {
  return {
    namespace: 'imanager',
    service: `svc-${i}`,
    portName: 'http',
    servicePort: 80,
    nodePort: 30000 + i,
    protocol: 'TCP',
    group: 'gis-environment',
    type: 'NodePort',
    trafficPolicy: 'Cluster',
    ...fields,
  };
}

/** A fresh copy each time, as discovery builds its snapshots: same content, new objects. */
function snapshot(
  nodes: readonly ClusterNode[],
  nodePorts: readonly NodePort[],
): DiscoverySnapshot {
  return structuredClone({ nodes, nodePorts, kubernetesVersion: '1.28' });
}

function input(s: DiscoverySnapshot, extra: Partial<PlanInput> = {}): PlanInput {
  return { vantage: 'central', catalog: CATALOG, snapshot: s, ...extra };
}

const byKey = (targets: readonly Target[]) =>
  [...targets].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

const NODES = Array.from({ length: 10 }, (_, i) =>
  node(i, i === 0 ? ['control-plane'] : ['worker']),
);
const NODE_PORTS = Array.from({ length: 20 }, (_, i) => nodePort(i));
const catalogOf = (n: ClusterNode) =>
  planTargets(input(snapshot([n], []))).filter((t) => t.category !== 'nodeport').length;

describe('IncrementalPlanner', () => {
  test('plans only what a change touches, and counts it', () => {
    const planner = new IncrementalPlanner();
    const first = planner.update(input(snapshot(NODES, NODE_PORTS)));
    const total = NODES.reduce((sum, n) => sum + catalogOf(n), 0) + NODES.length * 20;
    assert.equal(first.targets.length, total);
    assert.equal(first.planned, total);
    assert.equal(first.whole, true);

    // The same cluster again (a heartbeat): nothing planned, the same array.
    const again = planner.update(input(snapshot(NODES, NODE_PORTS)));
    assert.deepEqual([again.planned, again.unchanged, again.targets], [0, true, first.targets]);

    // One NodePort added: one target per node.
    const added = planner.update(input(snapshot(NODES, [...NODE_PORTS, nodePort(20)])));
    assert.deepEqual([added.planned, added.whole], [NODES.length, false]);
    assert.equal(added.targets.length, total + NODES.length);

    // One replaced (churn): the new one's, one per node; the old one's are gone.
    const churned = [...NODE_PORTS.slice(1), nodePort(20), nodePort(21)];
    const replaced = planner.update(input(snapshot(NODES, churned)));
    assert.equal(replaced.planned, NODES.length);
    assert.equal(replaced.targets.length, total + NODES.length);
    assert.ok(!replaced.targets.some((t) => t.port === 30000));

    // A NodePort's endpoints move (Local policy): planned again on every node.
    const local = churned.map((p, i) =>
      i === 0 ? { ...p, trafficPolicy: 'Local' as const, readyNodes: ['node-3'] } : p,
    );
    const moved = planner.update(input(snapshot(NODES, local)));
    assert.equal(moved.planned, NODES.length);
    const answering = moved.targets.filter((t) => t.port === 30001 && t.expected === 'open');
    assert.deepEqual(
      answering.map((t) => t.node),
      ['node-3'],
    );

    // A node's readiness changes: that node, catalog and NodePorts, nothing else.
    const nodes = NODES.map((n, i) => (i === 4 ? { ...n, ready: false } : n));
    const before = moved.targets;
    const changedNode = planner.update(input(snapshot(nodes, local)));
    assert.equal(changedNode.planned, catalogOf(NODES[4] as ClusterNode) + local.length);
    // The others keep their objects: the store copies their rows as they were.
    const kept = new Set(before);
    const same = changedNode.targets.filter((t) => kept.has(t));
    assert.equal(same.length, changedNode.targets.length - changedNode.planned);

    // A node removed: nothing planned, its targets gone.
    const fewer = planner.update(input(snapshot(nodes.slice(0, 9), local)));
    assert.equal(fewer.planned, 0);
    assert.ok(!fewer.targets.some((t) => t.node === 'node-9'));

    // What every target depends on (the Kubernetes version) changes: all again.
    const upgraded = planner.update(
      input({ ...snapshot(nodes.slice(0, 9), local), kubernetesVersion: '1.29' }),
    );
    assert.equal(upgraded.whole, true);
    assert.equal(upgraded.planned, upgraded.targets.length);
  });

  test('after any sequence of changes the set is planTargets of the last snapshot', () => {
    const planner = new IncrementalPlanner();
    // A deterministic walk: nodes come and go and change roles, NodePorts churn, a
    // NodePort takes a catalog port's number (31234: the catalog entry wins).
    let seed = 7;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 40; step++) {
      const nodes = Array.from({ length: 3 + random(5) }, (_, i) =>
        node(i, random(4) === 0 ? ['control-plane', 'etcd'] : ['worker'], random(5) !== 0),
      );
      const nodePorts = Array.from({ length: random(8) }, (_, i) =>
        nodePort(i + random(4), random(6) === 0 ? { nodePort: 31234 } : {}),
      );
      const s = snapshot(nodes, nodePorts);
      const shard = step % 10 === 9 ? { index: 1, count: 3 } : undefined;
      const extra = shard ? { shard } : {};
      const got = planner.update(input(s, extra)).targets;
      assert.deepEqual(byKey(got), byKey(planTargets(input(s, extra))), `step ${step}`);
    }
  });
});

/** The pipeline of a central exporter over `store`, IPv4, the default catalog. */
function pipelineOver(store: ResultSink): ProbePipeline {
  return new ProbePipeline({
    settings: {
      vantage: 'central',
      catalog: NO_CATALOG_CHANGES,
      ipFamilies: ['ipv4'],
      nodePortRange: { min: 30000, max: 32767 },
    },
    store,
    logger: silentLogger,
  });
}

describe('ProbePipeline on a churn event', () => {
  test('without a store (check) plans the same jobs as with one, churn included', () => {
    const withStore = pipelineOver(newStore());
    const without = pipelineOver(NO_RESULTS);
    try {
      const keys = (p: ProbePipeline) => p.jobsForCycle().map((j) => j.key);
      for (const nodePorts of [NODE_PORTS, [...NODE_PORTS.slice(1), nodePort(20)]]) {
        withStore.setSnapshot(snapshot(NODES, nodePorts));
        without.setSnapshot(snapshot(NODES, nodePorts));
        assert.deepEqual(keys(without), keys(withStore));
      }
      assert.ok(keys(without).includes('central|node-2|127.0.20.3|127.0.20.3|tcp|30020'));
      // Its results go nowhere, and say so.
      const [job] = without.jobsForCycle();
      assert.ok(job);
      assert.equal(NO_RESULTS.record(job, { state: 'open', durationSeconds: 0 }, 0), false);
    } finally {
      withStore.stop();
      without.stop();
    }
  });

  test('plans the touched targets only; the store has exactly the new set', () => {
    const store = newStore();
    const pipeline = pipelineOver(store);
    try {
      pipeline.setSnapshot(snapshot(NODES, NODE_PORTS));
      const all = store.size;
      assert.equal(pipeline.lastPlanChange?.planned, all);
      pipeline.setSnapshot(snapshot(NODES, [...NODE_PORTS.slice(1), nodePort(20)]));
      assert.equal(pipeline.lastPlanChange?.planned, NODES.length);
      assert.equal(store.size, all);
      assert.equal(store.has('central|node-2|127.0.20.3|127.0.20.3|tcp|30020'), true);
      assert.equal(store.has('central|node-2|127.0.20.3|127.0.20.3|tcp|30000'), false);
      assert.equal(pipeline.jobsForCycle().length, all);
    } finally {
      pipeline.stop();
    }
  });
});

/** Each row's label text by key, and the identifying part's length: what a scrape reads. */
function rowsOf(store: ResultStore): Map<string, { text: string; identifying: number }> {
  const t = store.columns();
  const rows = new Map<string, { text: string; identifying: number }>();
  for (let i = 0; i < t.size; i++) {
    const start = t.labelStart[i] as number;
    const text = t.labelBytes.subarray(start, t.labelStart[i + 1] as number).toString('utf8');
    rows.set((t.targets[i] as Target).key, {
      text,
      identifying: (t.identifyingEnd[i] as number) - start,
    });
  }
  return rows;
}

describe('the store on churn events', () => {
  test('changes only the rows of what changed, and reads as a store set from scratch', () => {
    const store = newStore();
    const calls = { setTargets: 0 };
    const setTargets = store.setTargets.bind(store);
    store.setTargets = (targets) => {
      calls.setTargets++;
      setTargets(targets);
    };
    const pipeline = pipelineOver(store);
    try {
      let seed = 11;
      const random = (n: number) => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed % n;
      };
      let nodes = NODES;
      let first = 0;
      pipeline.setSnapshot(snapshot(nodes, NODE_PORTS));
      for (let step = 0; step < 30; step++) {
        // Every target gets a result; those that stay must keep theirs.
        for (const [i, target] of store.targets().entries()) {
          store.record(
            target,
            { state: i % 3 === 0 ? 'open' : 'refused', durationSeconds: i },
            step,
          );
        }
        const before = new Map(store.targets().map((t) => [t.key, store.result(t.key)]));
        const calledBefore = calls.setTargets;
        // Mostly NodePort churn, sometimes a node that changes, comes or goes.
        const kind = random(5);
        if (kind === 0)
          nodes = nodes.map((n, i) => (i === random(nodes.length) ? { ...n, ready: !n.ready } : n));
        else if (kind === 1 && nodes.length > 3) nodes = nodes.slice(0, -1);
        else if (kind === 2) nodes = [...nodes, node(nodes.length)];
        else first += 1 + random(3);
        const nodePorts = Array.from({ length: 20 }, (_, i) => nodePort(first + i));
        const s = snapshot(nodes, nodePorts);
        pipeline.setSnapshot(s);
        if (kind >= 3) {
          assert.equal(
            calls.setTargets,
            calledBefore,
            `step ${step}: the churn went through setTargets`,
          );
        }
        const reference = newStore();
        reference.setTargets(planTargets(input(s)));
        assert.deepEqual(rowsOf(store), rowsOf(reference), `step ${step}`);
        assert.deepEqual(
          [...store.targetsByCategory()].sort(),
          [...reference.targetsByCategory()].sort(),
        );
        for (const target of store.targets()) {
          const had = before.get(target.key);
          if (had !== undefined) assert.deepEqual(store.result(target.key), had, target.key);
        }
        assert.equal(pipeline.jobsForCycle().length, reference.size);
      }
      // A node that went takes its echo results with it.
      assert.equal(
        store.recordIcmp(
          { node: 'node-9', address: '127.0.20.10', ip: '127.0.20.10' },
          { up: true },
        ),
        nodes.some((n) => n.name === 'node-9'),
      );
    } finally {
      pipeline.stop();
    }
  });
});

describe('the planner over a long churn', () => {
  test('holds no more after 390 NodePorts replaced than at the start', () => {
    // gc() by name: node --test starts this file without --expose-gc.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const nodes = Array.from({ length: 100 }, (_, i) => node(i));
    const at = (step: number) =>
      snapshot(
        nodes,
        Array.from({ length: 195 }, (_, j) => nodePort(step + j)),
      );
    const planner = new IncrementalPlanner();
    planner.update(input(at(0)));
    const targetsAtStart = planner.targets.length;
    gc();
    const before = process.memoryUsage().heapUsed;
    // Every NodePort of the start replaced twice over.
    for (let step = 1; step <= 390; step++) planner.update(input(at(step)));
    gc();
    const grownMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20;
    // Each NodePort's id once, not once per node: 100 copies of each id came to 4.8 MiB
    // here; what is left (about 1.5 MiB) is the maps' slack after deletes, which later
    // churn gives back (below the start again after 1,560 replacements).
    assert.ok(grownMiB < 3, `${grownMiB.toFixed(2)} MiB more after 390 replacements`);
    assert.equal(planner.targets.length, targetsAtStart, 'the same shape of cluster');
  });
});
