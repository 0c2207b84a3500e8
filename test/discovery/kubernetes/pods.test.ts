import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveCatalog } from '../../../src/catalog/overrides.js';
import type { Role } from '../../../src/catalog/types.js';
import {
  DEFAULT_ROLE_PORTS,
  type PodObject,
  rolePortsOf,
  rolesFromPods,
} from '../../../src/discovery/kubernetes/pods.js';

function pod(
  node: string,
  ports: { containerPort?: number; hostPort?: number; protocol?: string }[],
  extra: { hostNetwork?: boolean; phase?: string; labels?: Record<string, string> } = {},
): PodObject {
  return {
    metadata: { name: 'p', namespace: 'n', ...(extra.labels && { labels: extra.labels }) },
    spec: {
      nodeName: node,
      ...(extra.hostNetwork && { hostNetwork: true }),
      containers: [{ ports }],
    },
    status: { phase: extra.phase ?? 'Running' },
  };
}

const roles = (pods: PodObject[], rolePorts = DEFAULT_ROLE_PORTS) =>
  Object.fromEntries(
    [...rolesFromPods(pods, rolePorts)].map(([node, set]) => [node, [...set].sort()]),
  );

describe('rolesFromPods', () => {
  it('a hostPort on a role port gives the role', () => {
    assert.deepEqual(roles([pod('w2', [{ containerPort: 8080, hostPort: 9183 }])]), {
      w2: ['license-center'],
    });
  });

  it('a host-network pod listens on its container ports', () => {
    assert.deepEqual(roles([pod('w1', [{ containerPort: 5473 }], { hostNetwork: true })]), {
      w1: ['calico-typha'],
    });
    assert.deepEqual(
      roles([pod('w1', [{ containerPort: 2049 }, { containerPort: 111 }], { hostNetwork: true })]),
      {
        w1: ['nfs-server'],
      },
    );
  });

  it('a container port without hostPort is reached through a Service, not the node', () => {
    assert.deepEqual(roles([pod('w3', [{ containerPort: 9183 }, { containerPort: 5000 }])]), {});
  });

  it('only running pods count, and only TCP ports', () => {
    assert.deepEqual(
      roles([pod('w3', [{ hostPort: 5000, containerPort: 5000 }], { phase: 'Pending' })]),
      {},
    );
    assert.deepEqual(
      roles([pod('w3', [{ hostPort: 3307, containerPort: 3307, protocol: 'UDP' }])]),
      {},
    );
    assert.deepEqual(
      roles([
        { spec: { containers: [{ ports: [{ hostPort: 9183 }] }] }, status: { phase: 'Running' } },
      ]),
      {},
    );
  });

  it("Typha's label marks it whatever its ports", () => {
    assert.deepEqual(roles([pod('w4', [], { labels: { 'k8s-app': 'calico-typha' } })]), {
      w4: ['calico-typha'],
    });
  });

  it('garbage is skipped, never a crash', () => {
    const bad = [
      {},
      { spec: { nodeName: 'x', containers: 'no' } },
      { spec: { nodeName: 'x', containers: [{ ports: 7 }] } },
    ];
    assert.deepEqual(roles(bad as PodObject[]), {});
  });
});

describe('rolePortsOf', () => {
  it('takes the ports of single-role entries for the roles pods can give', () => {
    const byRole = (ports: { port: number; role: Role }[]) =>
      ports.map((p) => `${p.port} ${p.role}`).sort();
    assert.deepEqual(byRole([...DEFAULT_ROLE_PORTS]), [
      '111 nfs-server',
      '2049 nfs-server',
      '3307 license-center',
      '5000 registry',
      '5473 calico-typha',
      '9183 license-center',
    ]);
    // The registry moved by config moves here too.
    const moved = rolePortsOf(
      effectiveCatalog({ overrides: { 'image-registry': { port: 5443 } }, custom: [] }),
    );
    assert.ok(moved.some((p) => p.port === 5443 && p.role === 'registry'));
    assert.ok(!moved.some((p) => p.port === 5000));
  });
});
