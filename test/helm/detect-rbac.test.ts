/**
 * The chart's optional read rights (rbac.detect.*) against what discovery really asks:
 * the exporter runs against the API double seeded as an iManager cluster, every request
 * it makes is recorded, and the rendered ClusterRole must allow each one, with the value
 * on, and refuse the optional ones with it off. So a right is never granted that the
 * code does not use, and the code never needs one the chart cannot grant.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadKubeConfig } from '../../src/discovery/kubernetes/kubeconfig.js';
import { KubernetesSource } from '../../src/discovery/kubernetes/source.js';
import { seedImanagerCluster } from '../fixtures/kube/imanager.js';
import { KubeApiServer, type RecordedRequest } from '../helpers/kube-api-server.js';
import { oneOfKind, RenderError, render } from './chart.js';

interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
}

const GROUPS: Readonly<Record<string, string>> = {
  endpointslices: 'discovery.k8s.io',
  daemonsets: 'apps',
  installations: 'operator.tigera.io',
};

/** Whether RBAC's rules allow a request, as the API server's authorizer decides it. */
function allows(rules: readonly PolicyRule[], request: RecordedRequest): boolean {
  if (request.target === 'version') {
    return rules.some((r) => r.nonResourceURLs?.includes(request.path) && r.verbs.includes('get'));
  }
  const group = GROUPS[request.target ?? ''] ?? '';
  return rules.some(
    (r) =>
      r.verbs.includes(request.verb) &&
      (r.apiGroups ?? []).includes(group) &&
      (r.resources ?? []).includes(request.target ?? '') &&
      (r.resourceNames === undefined ||
        (request.name !== undefined && r.resourceNames.includes(request.name))),
  );
}

/** Every distinct request an exporter makes until its first snapshot of an iManager cluster. */
async function requestsOfDiscovery(): Promise<RecordedRequest[]> {
  const api = await KubeApiServer.start();
  const path = await api.writeKubeconfig();
  seedImanagerCluster(api);
  const source = new KubernetesSource(
    { debounceMs: 10, relistIntervalMs: 0 },
    { kubeConfig: loadKubeConfig({ kind: 'file', paths: [path], from: 'flag' }) },
  );
  try {
    await new Promise<void>((resolve) => void source.start(() => resolve()));
    return [...api.requests];
  } finally {
    await source.stop();
    await api.close();
  }
}

async function rulesOf(set: string[]): Promise<PolicyRule[]> {
  return oneOfKind(await render({ set }), 'ClusterRole').rules as PolicyRule[];
}

describe('rbac.detect: the rights discovery asks for, and no others', () => {
  let requests: RecordedRequest[];
  before(async () => {
    requests = await requestsOfDiscovery();
  });

  const optional = (r: RecordedRequest) =>
    ['pods', 'namespaces', 'daemonsets', 'configmaps', 'installations'].includes(r.target ?? '');

  it('with every detect value on, the ClusterRole allows every request discovery made', async () => {
    const rules = await rulesOf([
      'rbac.detect.pods=true',
      'rbac.detect.namespaces=true',
      'rbac.detect.network=true',
    ]);
    const refused = requests.filter((r) => !allows(rules, r)).map((r) => `${r.verb} ${r.path}`);
    assert.deepEqual(refused, []);
    // The network rights are by name: nothing else in kube-system can be read.
    const kubeadmConfig: RecordedRequest = {
      method: 'GET',
      path: '/api/v1/namespaces/kube-system/configmaps/kubeadm-config',
      query: {},
      target: 'configmaps',
      namespace: 'kube-system',
      name: 'kubeadm-config',
      verb: 'get',
      status: 0,
    };
    assert.equal(allows(rules, kubeadmConfig), false);
    assert.ok(rules.every((r) => r.verbs.every((v) => ['get', 'list', 'watch'].includes(v))));
  });

  it('by default the optional reads are refused, and the base ones allowed', async () => {
    const rules = await rulesOf([]);
    assert.ok(requests.some(optional), 'discovery does make the optional requests');
    for (const request of requests) {
      assert.equal(allows(rules, request), !optional(request), `${request.verb} ${request.path}`);
    }
  });

  it('each value grants its own read only', async () => {
    const expected: Record<string, string[]> = {
      pods: ['pods'],
      namespaces: ['namespaces'],
      network: ['daemonsets', 'configmaps', 'installations'],
    };
    for (const [value, resources] of Object.entries(expected)) {
      const rules = await rulesOf([`rbac.detect.${value}=true`]);
      const allowed = new Set(
        requests.filter((r) => optional(r) && allows(rules, r)).map((r) => r.target),
      );
      assert.deepEqual([...allowed].sort(), [...resources].sort(), value);
    }
  });

  it('the values schema refuses a misspelt detect value', async () => {
    await assert.rejects(render({ set: ['rbac.detect.pod=true'] }), RenderError);
    await assert.rejects(render({ set: ['rbac.detect.pods=yes'] }), RenderError);
  });
});
