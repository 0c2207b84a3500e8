import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  calicoFromDaemonSet,
  calicoFromInstallation,
  type DaemonSetObject,
  type EnvVarObject,
} from '../../../src/discovery/kubernetes/network.js';
import * as im from '../../fixtures/kube/imanager.js';

function calicoNode(env: EnvVarObject[]): DaemonSetObject {
  return {
    metadata: { name: 'calico-node', namespace: 'kube-system' },
    spec: {
      template: { spec: { containers: [{ name: 'install-cni' }, { name: 'calico-node', env }] } },
    },
  };
}

const literal = (name: string, value: string): EnvVarObject => ({ name, value });
const BACKEND_REF: EnvVarObject = {
  name: 'CALICO_NETWORKING_BACKEND',
  valueFrom: { configMapKeyRef: { name: 'calico-config', key: 'calico_backend' } },
};

describe('calicoFromDaemonSet', () => {
  const table: [string, EnvVarObject[], object][] = [
    [
      'no backend variable: bird, default pool IP-in-IP Always',
      [],
      { calicoBackend: 'bird', calicoEncapsulation: 'ipip' },
    ],
    [
      'vxlan backend',
      [literal('CALICO_NETWORKING_BACKEND', 'vxlan')],
      { calicoBackend: 'vxlan', calicoEncapsulation: 'vxlan' },
    ],
    [
      'policy only',
      [literal('CALICO_NETWORKING_BACKEND', 'none')],
      { calicoBackend: 'none', calicoEncapsulation: 'none' },
    ],
    [
      'bird with a VXLAN pool (CrossSubnet counts)',
      [literal('CALICO_IPV4POOL_IPIP', 'Never'), literal('CALICO_IPV4POOL_VXLAN', 'CrossSubnet')],
      { calicoBackend: 'bird', calicoEncapsulation: 'vxlan' },
    ],
    [
      'bird, plain routing',
      [literal('CALICO_IPV4POOL_IPIP', 'Never'), literal('CALICO_IPV4POOL_VXLAN', 'Never')],
      { calicoBackend: 'bird', calicoEncapsulation: 'none' },
    ],
    [
      "the operator's: no default pools, so the pools are not in the env",
      [literal('CALICO_NETWORKING_BACKEND', 'bird'), literal('NO_DEFAULT_POOLS', 'true')],
      { calicoBackend: 'bird' },
    ],
    ['an unknown backend is unknown', [literal('CALICO_NETWORKING_BACKEND', 'gobgp')], {}],
  ];
  for (const [what, env, facts] of table) {
    it(what, () => assert.deepEqual(calicoFromDaemonSet(calicoNode(env)).facts, facts));
  }

  it('a backend from a ConfigMap is unknown until the ConfigMap is read, and names it', () => {
    const ds = calicoNode([BACKEND_REF]);
    assert.deepEqual(calicoFromDaemonSet(ds), {
      facts: {},
      configMapRefs: [{ name: 'calico-config', key: 'calico_backend' }],
    });
    const read = calicoFromDaemonSet(ds, (ref) =>
      ref.key === 'calico_backend' ? 'vxlan' : undefined,
    );
    assert.deepEqual(read, {
      facts: { calicoBackend: 'vxlan', calicoEncapsulation: 'vxlan' },
      configMapRefs: [],
    });
  });

  it("reads the fixture's calico.yaml-shaped DaemonSet", () => {
    const ds = im.calicoNode({ ipip: 'Always', vxlan: 'Never' }) as DaemonSetObject;
    const reading = calicoFromDaemonSet(
      ds,
      (ref) => (im.calicoConfig('bird').data as Record<string, string>)[ref.key],
    );
    assert.deepEqual(reading.facts, { calicoBackend: 'bird', calicoEncapsulation: 'ipip' });
  });

  it('garbage is no facts, never a crash', () => {
    assert.deepEqual(calicoFromDaemonSet({} as DaemonSetObject).facts, {
      calicoBackend: 'bird',
      calicoEncapsulation: 'ipip',
    });
    assert.deepEqual(
      calicoFromDaemonSet({ spec: { template: { spec: { containers: 'x' as never } } } })
        .configMapRefs,
      [],
    );
  });
});

describe('calicoFromInstallation', () => {
  const table: [string, object, object][] = [
    [
      'BGP with IP-in-IP',
      im.installation({ bgp: 'Enabled', encapsulation: 'IPIP' }),
      { calicoBackend: 'bird', calicoEncapsulation: 'ipip' },
    ],
    [
      'VXLAN without BGP',
      im.installation({ bgp: 'Disabled', encapsulation: 'VXLAN' }),
      { calicoBackend: 'vxlan', calicoEncapsulation: 'vxlan' },
    ],
    [
      'BGP, no encapsulation',
      im.installation({ bgp: 'Enabled', encapsulation: 'None' }),
      { calicoBackend: 'bird', calicoEncapsulation: 'none' },
    ],
    [
      'spec only, operator defaults',
      { spec: {} },
      { calicoBackend: 'bird', calicoEncapsulation: 'ipip' },
    ],
    [
      'spec only, BGP off',
      { spec: { calicoNetwork: { bgp: 'Disabled' } } },
      { calicoBackend: 'vxlan', calicoEncapsulation: 'vxlan' },
    ],
    [
      'another CNI: policy only',
      { spec: { cni: { type: 'AmazonVPC' } } },
      { calicoBackend: 'none', calicoEncapsulation: 'none' },
    ],
  ];
  for (const [what, installation, facts] of table) {
    it(what, () => assert.deepEqual(calicoFromInstallation(installation), facts));
  }
});
