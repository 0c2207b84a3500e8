import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backoffDelay,
  DEFAULT_KUBERNETES_DISCOVERY_OPTIONS,
  type KubernetesDiscoveryOptionsInput,
  kubernetesDiscoveryOptionProblems,
  resolveKubernetesDiscoveryOptions,
} from '../../../src/discovery/kubernetes/options.js';
import { DEFAULT_ROLE_PORTS } from '../../../src/discovery/kubernetes/pods.js';

describe('Kubernetes discovery options', () => {
  it('fills in documented defaults', () => {
    const options = resolveKubernetesDiscoveryOptions({});
    assert.deepEqual(options, {
      namespaces: [],
      addressTypes: ['InternalIP', 'ExternalIP', 'Hostname'],
      ipFamilies: ['ipv4', 'ipv6'],
      roleRules: [],
      // The guesses (DEFAULT_GROUP_RULES) always follow the configured rules.
      groupRules: [],
      uiNodePort: 31100,
      basicServiceNodePorts: [31234],
      rolePorts: DEFAULT_ROLE_PORTS,
      detect: ['pods', 'namespaces', 'network'],
      facts: {},
      debounceMs: 250,
      relistIntervalMs: 300_000,
      requestTimeoutMs: 30_000,
      backoffInitialMs: 1_000,
      backoffMaxMs: 60_000,
    });
    assert.deepEqual(options, DEFAULT_KUBERNETES_DISCOVERY_OPTIONS);
    assert.ok(Object.isFrozen(options));
  });

  it('keeps what is given and ignores undefined', () => {
    const options = resolveKubernetesDiscoveryOptions({
      namespaces: ['supermap'],
      debounceMs: undefined,
      kubeconfig: '/etc/kube/config',
    });
    assert.deepEqual(options.namespaces, ['supermap']);
    assert.equal(options.debounceMs, 250);
    assert.equal(options.kubeconfig, '/etc/kube/config');
  });

  // Each bad input with the exact problems it must produce.
  const bad: [input: KubernetesDiscoveryOptionsInput, problems: string[]][] = [
    [
      { namespaces: ['supermap', 'Bad_NS'] },
      ['namespaces.1: expected a namespace name (lower-case DNS label), got "Bad_NS"'],
    ],
    [{ namespaces: ['a', 'b', 'a'] }, ['namespaces.2: "a" is listed twice']],
    [{ addressTypes: [] }, ['addressTypes: expected at least one address type']],
    [
      { addressTypes: ['InternalDNS' as never] },
      ['addressTypes.0: expected one of InternalIP, ExternalIP, Hostname, got "InternalDNS"'],
    ],
    [
      { roleRules: [{ selector: 'x', roles: ['gpu' as never] }] },
      [
        'roleRules.0: roles: expected one of control-plane, etcd, worker, license-center, nfs-server, registry, calico-typha, got "gpu"',
      ],
    ],
    [
      { detect: ['secrets' as never] },
      ['detect.0: expected one of pods, namespaces, network, got "secrets"'],
    ],
    [
      { groupRules: [{ group: 'basic-service' }] },
      ['groupRules.0: expected at least one of namespaces, namespacePattern, selector'],
    ],
    [{ debounceMs: -1 }, ['debounceMs: expected milliseconds >= 0, got -1']],
    [{ relistIntervalMs: Number.NaN }, ['relistIntervalMs: expected milliseconds >= 0, got NaN']],
    [
      { backoffInitialMs: 5_000, backoffMaxMs: 1_000 },
      ['backoffMaxMs: expected at least backoffInitialMs (5000), got 1000'],
    ],
  ];
  for (const [input, expected] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      const problems = kubernetesDiscoveryOptionProblems(input).map(
        (p) => `${p.path.join('.')}: ${p.message}`,
      );
      assert.deepEqual(problems, expected);
    });
  }

  it('throws one error naming every bad field, with array indexes in brackets', () => {
    assert.throws(
      () =>
        resolveKubernetesDiscoveryOptions({
          namespaces: ['A'],
          groupRules: [{ group: 'other', namespacePattern: '[' }],
        }),
      {
        code: 'INVALID_OPTION',
        message:
          'invalid Kubernetes discovery options: namespaces[0]: expected a namespace name (lower-case DNS label), got "A"; groupRules[0]: namespacePattern: Invalid regular expression: /[/: Unterminated character class',
      },
    );
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap', () => {
    const options = { backoffInitialMs: 1_000, backoffMaxMs: 60_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => backoffDelay(n, options)),
      [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000],
    );
  });
});
