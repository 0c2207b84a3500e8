import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Role } from '../../../src/catalog/types.js';
import {
  DEFAULT_GROUP_RULES,
  type GroupRule,
  groupOf,
  groupRuleProblems,
  type RoleRule,
  roleRuleProblems,
  rolesOf,
} from '../../../src/discovery/kubernetes/rules.js';
import type { NodePortGroup } from '../../../src/discovery/types.js';

describe('rolesOf', () => {
  const rules: RoleRule[] = [
    { selector: 'supermap.com/license=true', roles: ['license-center'] },
    { selector: 'storage in (nfs,ceph-nfs)', roles: ['nfs-server'] },
  ];
  const cases: [what: string, labels: Record<string, string> | undefined, roles: Role[]][] = [
    [
      'kubeadm control plane',
      { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/os': 'linux' },
      ['control-plane'],
    ],
    ['pre-1.24 kubeadm master label', { 'node-role.kubernetes.io/master': '' }, ['control-plane']],
    ['kubeadm worker: no role label', { 'kubernetes.io/hostname': 'w1' }, ['worker']],
    ['no labels at all', undefined, ['worker']],
    ['explicit worker label', { 'node-role.kubernetes.io/worker': 'true' }, ['worker']],
    ['etcd-only node (RKE)', { 'node-role.kubernetes.io/etcd': 'true' }, ['etcd']],
    [
      'iManager roles from node-role labels, plus worker',
      {
        'node-role.kubernetes.io/license-center': '',
        'node-role.kubernetes.io/registry': '',
      },
      ['worker', 'license-center', 'registry'],
    ],
    [
      'control plane that is also the NFS server',
      { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/nfs-server': '' },
      ['control-plane', 'nfs-server'],
    ],
    ['unknown node-role label is ignored', { 'node-role.kubernetes.io/ingress': '' }, ['worker']],
    ['role from a rule', { 'supermap.com/license': 'true' }, ['worker', 'license-center']],
    ['rule not matching', { 'supermap.com/license': 'false' }, ['worker']],
    [
      'set-based rule and a control plane',
      { storage: 'ceph-nfs', 'node-role.kubernetes.io/control-plane': '' },
      ['control-plane', 'nfs-server'],
    ],
  ];
  for (const [what, labels, roles] of cases) {
    it(what, () => assert.deepEqual(rolesOf(labels, rules), roles));
  }

  it('rejects a rule with a bad selector or role when used', () => {
    assert.throws(() => rolesOf({}, [{ selector: 'a in b', roles: ['worker'] }]), {
      code: 'INVALID_OPTION',
    });
    assert.throws(() => rolesOf({}, [{ selector: 'a', roles: ['gpu' as Role] }]), {
      code: 'INVALID_OPTION',
    });
  });
});

describe('groupOf', () => {
  const custom: GroupRule[] = [
    { group: 'gis-environment', selector: 'supermap.com/environment' },
    { group: 'basic-service', namespaces: ['imgr'], selector: 'app!=scratch' },
    { group: 'other', namespaces: ['imgr'] },
    { group: 'gis-environment', namespacePattern: '^env-[0-9a-f]+$' },
  ];
  const cases: [
    what: string,
    namespace: string,
    labels: Record<string, string>,
    rules: readonly GroupRule[],
    group: NodePortGroup,
  ][] = [
    ['default: iManager namespace', 'supermap', {}, DEFAULT_GROUP_RULES, 'basic-service'],
    ['default: imanager namespace', 'imanager', {}, DEFAULT_GROUP_RULES, 'basic-service'],
    [
      'default: GIS environment namespace',
      'supermap-gis-7f3a',
      {},
      DEFAULT_GROUP_RULES,
      'gis-environment',
    ],
    ['default: the dashboard is other', 'kubernetes-dashboard', {}, DEFAULT_GROUP_RULES, 'other'],
    ['default: kube-system is other', 'kube-system', {}, DEFAULT_GROUP_RULES, 'other'],
    ['default: a look-alike prefix is other', 'supermapx', {}, DEFAULT_GROUP_RULES, 'other'],
    [
      'label rule wins first',
      'imgr',
      { 'supermap.com/environment': 'e1' },
      custom,
      'gis-environment',
    ],
    ['namespace and selector both hold', 'imgr', { app: 'gateway' }, custom, 'basic-service'],
    ['selector fails, next rule', 'imgr', { app: 'scratch' }, custom, 'other'],
    ['namespace pattern', 'env-00ff', {}, custom, 'gis-environment'],
    ['pattern does not match', 'env-xyz', {}, custom, 'other'],
    ['no rules at all', 'supermap', {}, [], 'other'],
  ];
  for (const [what, namespace, labels, rules, group] of cases) {
    it(what, () => assert.equal(groupOf(namespace, labels, rules), group));
  }
});

describe('rule validation', () => {
  it('names every problem of a group rule', () => {
    assert.deepEqual(groupRuleProblems({ group: 'gis' as NodePortGroup }), [
      'group: expected one of basic-service, gis-environment, other, got "gis"',
      'expected at least one of namespaces, namespacePattern, selector',
    ]);
    assert.deepEqual(
      groupRuleProblems({ group: 'other', namespacePattern: '(', selector: 'a in b' }),
      [
        'namespacePattern: Invalid regular expression: /(/: Unterminated group',
        'selector: label selector "a in b": cannot parse "a in b" (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))',
      ],
    );
    assert.deepEqual(groupRuleProblems({ group: 'basic-service', namespaces: ['x'] }), []);
  });

  it('names every problem of a role rule', () => {
    assert.deepEqual(roleRuleProblems({ selector: 'a', roles: [] }), [
      'roles: expected at least one role',
    ]);
    assert.deepEqual(roleRuleProblems({ selector: '!', roles: ['master' as Role] }), [
      'selector: label selector "!": cannot parse "!" (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))',
      'roles: expected one of control-plane, etcd, worker, license-center, nfs-server, registry, calico-typha, got "master"',
    ]);
  });

  it('accepts the defaults', () => {
    for (const rule of DEFAULT_GROUP_RULES) assert.deepEqual(groupRuleProblems(rule), []);
  });
});
