import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import type { Role } from '../../src/catalog/types.js';
import type { ClusterNode, DiscoverySnapshot, NodePort } from '../../src/discovery/types.js';
import { planTargets } from '../../src/targets/planner.js';
import type { Target } from '../../src/targets/types.js';

function node(name: string, address: string, roles: Role[]): ClusterNode {
  return { name, addresses: [address], roles, ready: true, kubeletVersion: 'v1.28.3' };
}

const master = node('master-1', '10.1.0.1', ['control-plane']);
const worker = node('worker-1', '10.1.0.2', ['worker']);

function nodePort(fields: Partial<NodePort> = {}): NodePort {
  return {
    namespace: 'imanager',
    service: 'imanager-gateway',
    portName: 'http',
    servicePort: 80,
    nodePort: 31500,
    protocol: 'TCP',
    group: 'basic-service',
    type: 'NodePort',
    trafficPolicy: 'Cluster',
    ...fields,
  };
}

function plan(snapshot: Partial<DiscoverySnapshot>, vantage = 'central'): Target[] {
  return planTargets({
    vantage,
    catalog: CATALOG,
    snapshot: { nodes: [], nodePorts: [], ...snapshot },
  });
}

function find(targets: Target[], nodeName: string, port: number): Target | undefined {
  return targets.find((t) => t.node === nodeName && t.port === port);
}

describe('planTargets', () => {
  test('each node gets the catalog entries of its roles, and nothing else', () => {
    const targets = plan({ nodes: [master, worker], kubernetesVersion: '1.28' });
    const ports = (name: string) =>
      targets
        .filter((t) => t.node === name)
        .map((t) => t.port)
        .sort((a, b) => a - b);
    // 10259/10257 are bound to the node's loopback: not probed from a central vantage.
    assert.deepEqual(
      ports('master-1'),
      [179, 2379, 2380, 6443, 9101, 10250, 10251, 10252, 10255, 10256, 31100, 31234],
    );
    assert.deepEqual(ports('worker-1'), [179, 9101, 10250, 10255, 10256, 31100, 31234]);
  });

  test('legacy health ports are expected "any" and optional from 1.19, open and required before', () => {
    for (const [version, expected, required] of [
      ['1.18', 'open', true],
      ['1.19', 'any', false],
      ['1.22', 'any', false],
      ['1.24', 'any', false],
      [undefined, 'any', false],
    ] as const) {
      const targets = plan({
        nodes: [master],
        ...(version !== undefined && { kubernetesVersion: version }),
      });
      for (const port of [10251, 10252]) {
        const target = find(targets, 'master-1', port);
        assert.equal(target?.expected, expected, `${port} on ${version}`);
        assert.equal(target?.required, required, `${port} on ${version}`);
      }
    }
  });

  test('the secure successors apply from 1.17, and are optional when the version is unknown', () => {
    const local = node('localhost', '127.0.0.1', ['control-plane']);
    for (const [version, expected, required] of [
      ['1.16', 'any', false],
      ['1.17', 'open', true],
      ['1.28', 'open', true],
      [undefined, 'any', false],
    ] as const) {
      const targets = plan({
        nodes: [local],
        ...(version !== undefined && { kubernetesVersion: version }),
      });
      for (const port of [10257, 10259]) {
        const target = find(targets, 'localhost', port);
        assert.equal(target?.expected, expected, `${port} on ${version}`);
        assert.equal(target?.required, required, `${port} on ${version}`);
      }
    }
  });

  test('localhost-only ports are probed where the vantage sees the node loopback', () => {
    const local = node('localhost', '127.0.0.1', ['control-plane']);
    const targets = plan({ nodes: [local], kubernetesVersion: '1.28' });
    assert.equal(find(targets, 'localhost', 10259)?.expected, 'open');
    assert.equal(find(targets, 'localhost', 10257)?.required, true);
    const fromItself = plan({ nodes: [master], kubernetesVersion: '1.28' }, 'master-1');
    assert.ok(find(fromItself, 'master-1', 10259));
  });

  test('from the external vantage internal ports are expected closed, external ones open', () => {
    const targets = plan({ nodes: [master] }, 'external');
    assert.equal(find(targets, 'master-1', 2379)?.expected, 'closed');
    assert.equal(find(targets, 'master-1', 2379)?.required, true);
    assert.equal(find(targets, 'master-1', 31100)?.expected, 'open');
    assert.equal(find(targets, 'master-1', 31234)?.vantage, 'external');
  });

  test('every TCP NodePort is a target on every node; UDP ones are not probed', () => {
    const targets = plan({
      nodes: [master, worker],
      nodePorts: [nodePort(), nodePort({ nodePort: 31501, protocol: 'UDP', portName: 'dns' })],
    });
    const nodePorts = targets.filter((t) => t.category === 'nodeport');
    assert.deepEqual(
      nodePorts.map((t) => `${t.node}:${t.port}`),
      ['master-1:31500', 'worker-1:31500'],
    );
    const [first] = nodePorts;
    assert.deepEqual(first?.nodePort, {
      namespace: 'imanager',
      service: 'imanager-gateway',
      group: 'basic-service',
    });
    assert.equal(first?.scope, 'external');
    assert.equal(first?.expected, 'open');
    assert.equal(first?.required, true);
  });

  test('a Local-policy NodePort is expected open only where a ready endpoint runs', () => {
    const targets = plan({
      nodes: [master, worker],
      nodePorts: [nodePort({ trafficPolicy: 'Local', readyNodes: ['worker-1'] })],
    });
    assert.equal(find(targets, 'worker-1', 31500)?.expected, 'open');
    assert.equal(find(targets, 'master-1', 31500)?.expected, 'any');
    assert.equal(find(targets, 'master-1', 31500)?.required, false);
  });

  test('NodePorts outside the iManager groups are shown but optional', () => {
    const targets = plan({ nodes: [worker], nodePorts: [nodePort({ group: 'other' })] });
    assert.equal(find(targets, 'worker-1', 31500)?.required, false);
  });

  test('a NodePort on a catalog port keeps the catalog meaning', () => {
    const targets = plan({
      nodes: [worker],
      nodePorts: [nodePort({ nodePort: 31100, service: 'imanager-dashboard-ui' })],
    });
    const ui = targets.filter((t) => t.port === 31100);
    assert.equal(ui.length, 1);
    assert.equal(ui[0]?.category, 'default');
    assert.equal(ui[0]?.portName, 'imanager-ui');
  });

  test('keys are stable and unique, and keep narrows the plan', () => {
    const snapshot = { nodes: [master, worker], nodePorts: [nodePort()] };
    const a = plan(snapshot);
    const b = plan(snapshot);
    assert.deepEqual(
      a.map((t) => t.key),
      b.map((t) => t.key),
    );
    assert.equal(new Set(a.map((t) => t.key)).size, a.length);
    const kept = planTargets({
      vantage: 'central',
      catalog: CATALOG,
      snapshot,
      keep: (t) => t.node === 'worker-1',
    });
    assert.ok(kept.length > 0 && kept.every((t) => t.node === 'worker-1'));
  });
});
