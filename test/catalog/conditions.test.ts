import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unprobedRequirements } from '../../src/catalog/applies.js';
import {
  applicability,
  type ClusterFacts,
  conditionState,
  describeCondition,
  withConfiguredFacts,
} from '../../src/catalog/conditions.js';
import { CATALOG, UNPROBED_CATALOG } from '../../src/catalog/ports.js';
import type { EntryCondition, UnprobedEntry } from '../../src/catalog/types.js';
import type { DiscoverySnapshot } from '../../src/discovery/types.js';
import { planTargets } from '../../src/targets/planner.js';

const BGP: EntryCondition = { kind: 'calico-bgp' };
const VXLAN: EntryCondition = { kind: 'calico-encapsulation', encapsulation: 'vxlan' };
const IPIP: EntryCondition = { kind: 'calico-encapsulation', encapsulation: 'ipip' };
const PROXY: EntryCondition = { kind: 'kube-proxy' };
const NFS3: EntryCondition = { kind: 'nfs-version', version: 3 };

describe('conditionState', () => {
  const table: [string, ClusterFacts, EntryCondition, ReturnType<typeof conditionState>][] = [
    ['BGP with bird', { calicoBackend: 'bird' }, BGP, 'holds'],
    ['no BGP in VXLAN-only mode', { calicoBackend: 'vxlan' }, BGP, 'fails'],
    ['no BGP when Calico only enforces policy', { calicoBackend: 'none' }, BGP, 'fails'],
    ['BGP unknown', {}, BGP, 'unknown'],
    ['the VXLAN backend is VXLAN', { calicoBackend: 'vxlan' }, VXLAN, 'holds'],
    [
      'the VXLAN backend has no IP-in-IP',
      { calicoBackend: 'vxlan', calicoEncapsulation: 'ipip' },
      IPIP,
      'fails',
    ],
    [
      'bird with IP-in-IP pools',
      { calicoBackend: 'bird', calicoEncapsulation: 'ipip' },
      IPIP,
      'holds',
    ],
    [
      'bird with IP-in-IP pools has no VXLAN',
      { calicoBackend: 'bird', calicoEncapsulation: 'ipip' },
      VXLAN,
      'fails',
    ],
    ['bird, pools unknown', { calicoBackend: 'bird' }, IPIP, 'unknown'],
    [
      'policy only: no encapsulation',
      { calicoBackend: 'none', calicoEncapsulation: 'vxlan' },
      VXLAN,
      'fails',
    ],
    ['kube-proxy found', { kubeProxy: true }, PROXY, 'holds'],
    ['kube-proxy unknown', {}, PROXY, 'unknown'],
    ['NFSv3', { nfsVersion: 3 }, NFS3, 'holds'],
    ['NFSv4 needs no rpcbind', { nfsVersion: 4 }, NFS3, 'fails'],
  ];
  for (const [what, facts, condition, want] of table) {
    test(what, () => assert.equal(conditionState(condition, facts), want));
  }
});

describe('applicability', () => {
  const entry = (id: string) => {
    const found = CATALOG.find((e) => e.id === id);
    if (!found) throw new Error(id);
    return found;
  };

  test('179: required with BGP, neutral without, as documented while unknown', () => {
    assert.deepEqual(applicability(entry('calico-bgp'), { calicoBackend: 'bird' }), {
      state: 'holds',
      required: true,
      neutral: false,
    });
    assert.deepEqual(applicability(entry('calico-bgp'), { calicoBackend: 'vxlan' }), {
      state: 'fails',
      required: false,
      neutral: true,
    });
    assert.deepEqual(applicability(entry('calico-bgp'), {}), {
      state: 'unknown',
      required: true,
      neutral: false,
    });
  });

  test('10256 and 111 are optional while their condition is unknown', () => {
    assert.equal(applicability(entry('kube-proxy-health'), {}).required, false);
    assert.equal(applicability(entry('kube-proxy-health'), { kubeProxy: true }).required, true);
    assert.equal(applicability(entry('rpcbind'), {}).required, false);
    assert.equal(applicability(entry('rpcbind'), { nfsVersion: 3 }).required, true);
  });

  test('an entry without a condition is as the catalog says', () => {
    assert.deepEqual(applicability(entry('kubelet'), {}), {
      state: 'holds',
      required: true,
      neutral: false,
    });
  });

  test('each condition has words for the catalog table', () => {
    assert.deepEqual([BGP, VXLAN, IPIP, PROXY, NFS3].map(describeCondition), [
      'Calico runs BGP (backend bird)',
      "Calico's IP pools use VXLAN",
      "Calico's IP pools use IP-in-IP",
      'kube-proxy runs on the nodes',
      'the NFS server is mounted with NFSv3',
    ]);
  });
});

describe('withConfiguredFacts', () => {
  test('a configured fact replaces the detected one and is sourced to the config', () => {
    const detected: ClusterFacts = {
      calicoBackend: 'vxlan',
      kubeProxy: true,
      sources: {
        calicoBackend: 'DaemonSet kube-system/calico-node',
        kubeProxy: 'DaemonSet kube-system/kube-proxy',
      },
    };
    assert.deepEqual(withConfiguredFacts(detected, { calicoBackend: 'bird', nfsVersion: 3 }), {
      calicoBackend: 'bird',
      kubeProxy: true,
      nfsVersion: 3,
      sources: {
        calicoBackend: 'config',
        kubeProxy: 'DaemonSet kube-system/kube-proxy',
        nfsVersion: 'config',
      },
    });
    assert.equal(withConfiguredFacts(detected, {}), detected);
  });
});

/** What `firewall` takes beside the TCP ports: the unprobed entries whose condition holds. */
function firewallTakes(roles: Parameters<typeof unprobedRequirements>[1], facts: ClusterFacts) {
  return unprobedRequirements(UNPROBED_CATALOG, roles, facts)
    .filter((r) => r.applicability.state === 'holds')
    .map(({ entry }: { entry: UnprobedEntry }) =>
      entry.protocol === 'udp'
        ? `${entry.port}/udp`
        : `ip protocol ${entry.ipProtocol} (${entry.ipProtocolName})`,
    );
}

describe('the firewall takes the unprobed entries by mode', () => {
  test('VXLAN mode: 4789/udp, no IP-in-IP', () => {
    assert.deepEqual(firewallTakes(['worker'], { calicoBackend: 'vxlan' }), ['4789/udp']);
  });
  test('IP-in-IP mode: IP protocol 4, no VXLAN', () => {
    assert.deepEqual(
      firewallTakes(['worker'], { calicoBackend: 'bird', calicoEncapsulation: 'ipip' }),
      ['ip protocol 4 (ipencap)'],
    );
  });
  test('plain BGP routing, or policy only: neither', () => {
    assert.deepEqual(
      firewallTakes(['worker'], { calicoBackend: 'bird', calicoEncapsulation: 'none' }),
      [],
    );
    assert.deepEqual(firewallTakes(['worker'], { calicoBackend: 'none' }), []);
  });
  test('an NFSv3 server adds rpcbind over UDP; other roles never get it', () => {
    assert.deepEqual(firewallTakes(['nfs-server'], { calicoBackend: 'vxlan', nfsVersion: 3 }), [
      '4789/udp',
      '111/udp',
    ]);
    assert.deepEqual(firewallTakes(['worker'], { nfsVersion: 3 }), []);
  });
});

describe('the planner under conditions', () => {
  const snapshot = (facts?: ClusterFacts): DiscoverySnapshot => ({
    nodes: [
      {
        name: 'n1',
        addresses: ['198.18.3.1'],
        roles: ['worker', 'nfs-server'],
        ready: true,
        kubeletVersion: 'v1.28.0',
      },
    ],
    nodePorts: [],
    ...(facts && { facts }),
  });
  const target = (facts: ClusterFacts | undefined, portName: string, vantage = 'central') =>
    planTargets({ vantage, catalog: CATALOG, snapshot: snapshot(facts) }).find(
      (t) => t.portName === portName,
    );

  test('179 in VXLAN mode is shown but expected any, never required', () => {
    assert.deepEqual(pick(target({ calicoBackend: 'vxlan' }, 'calico-bgp')), ['any', false]);
    assert.deepEqual(pick(target({ calicoBackend: 'bird' }, 'calico-bgp')), ['open', true]);
    assert.deepEqual(pick(target(undefined, 'calico-bgp')), ['open', true]);
  });

  test('the kubelet read-only port is expected closed from every vantage, and pages when open', () => {
    assert.deepEqual(pick(target(undefined, 'kubelet-readonly')), ['closed', true]);
    assert.deepEqual(pick(target(undefined, 'kubelet-readonly', 'n1')), ['closed', true]);
    assert.deepEqual(pick(target(undefined, 'kubelet-readonly', 'external')), ['closed', true]);
  });

  test('10256 and 111 are probed but optional until their condition is known', () => {
    assert.deepEqual(pick(target(undefined, 'kube-proxy-health')), ['open', false]);
    assert.deepEqual(pick(target({ kubeProxy: true }, 'kube-proxy-health')), ['open', true]);
    assert.deepEqual(pick(target(undefined, 'rpcbind')), ['open', false]);
    assert.deepEqual(pick(target({ nfsVersion: 4 }, 'rpcbind')), ['any', false]);
    assert.deepEqual(pick(target({ nfsVersion: 3 }, 'rpcbind')), ['open', true]);
  });

  test('no target is ever made of a UDP or IP-protocol entry', () => {
    const all = planTargets({
      vantage: 'central',
      catalog: CATALOG,
      snapshot: snapshot({ calicoBackend: 'vxlan' }),
    });
    assert.ok(all.every((t) => t.protocol === 'tcp'));
    assert.ok(!all.some((t) => UNPROBED_CATALOG.some((e) => e.id === t.portName)));
    // @ts-expect-error the planner's catalog holds probed entries only: an unprobed one does not compile
    planTargets({ vantage: 'central', catalog: UNPROBED_CATALOG, snapshot: snapshot() });
  });
});

function pick(
  t: { expected: string; required: boolean } | undefined,
): [string, boolean] | undefined {
  return t && [t.expected, t.required];
}
