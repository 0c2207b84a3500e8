/**
 * Issue 16's acceptance, through the Kubernetes wire-protocol double with objects shaped
 * like a real iManager cluster (test/fixtures/kube/imanager.ts), the production path
 * (kubeconfig file, client-node informers and gets) and the planner: groups that find
 * themselves, roles from pods, Calico's mode deciding 179, 4789/udp and IP-in-IP, and a
 * forbidden optional read that costs one warning and nothing else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unprobedRequirements } from '../../../src/catalog/applies.js';
import { CATALOG, UNPROBED_CATALOG } from '../../../src/catalog/ports.js';
import { loadKubeConfig } from '../../../src/discovery/kubernetes/kubeconfig.js';
import type { KubernetesDiscoveryOptionsInput } from '../../../src/discovery/kubernetes/options.js';
import { KubernetesSource } from '../../../src/discovery/kubernetes/source.js';
import type { DiscoverySnapshot } from '../../../src/discovery/types.js';
import { planTargets } from '../../../src/targets/planner.js';
import type { Target } from '../../../src/targets/types.js';
import { createLogger } from '../../../src/util/log.js';
import * as im from '../../fixtures/kube/imanager.js';
import { KubeApiServer } from '../../helpers/kube-api-server.js';

const TIMEOUT = 15_000;

type LogRecord = { level: string; msg: string } & Record<string, unknown>;

/** The first snapshot of a source against a double prepared by `prepare`, and the logs. */
async function firstSnapshot(
  prepare: (api: KubeApiServer) => void,
  options: KubernetesDiscoveryOptionsInput = {},
): Promise<{ snapshot: DiscoverySnapshot; logs: LogRecord[]; up: boolean; api: KubeApiServer }> {
  const api = await KubeApiServer.start();
  const path = await api.writeKubeconfig();
  prepare(api);
  const logs: LogRecord[] = [];
  const source = new KubernetesSource(
    { debounceMs: 10, relistIntervalMs: 0, backoffInitialMs: 10, backoffMaxMs: 50, ...options },
    {
      kubeConfig: loadKubeConfig({ kind: 'file', paths: [path], from: 'flag' }),
      logger: createLogger({
        level: 'debug',
        write: (line) => logs.push(JSON.parse(line) as LogRecord),
      }),
    },
  );
  try {
    const snapshot = await new Promise<DiscoverySnapshot>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no snapshot in 8 s')), 8_000);
      void source.start((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
    return { snapshot, logs, up: source.status().up, api };
  } finally {
    await source.stop();
    await api.close();
  }
}

const plan = (snapshot: DiscoverySnapshot) =>
  planTargets({ vantage: 'central', catalog: CATALOG, snapshot });

const on = (targets: readonly Target[], node: string) =>
  targets
    .filter((t) => t.node === node && t.category !== 'nodeport')
    .map((t) => t.port)
    .sort((a, b) => a - b);

const warnings = (logs: readonly LogRecord[]) =>
  logs.filter((l) => l.level === 'warn' || l.level === 'error');

describe('an iManager cluster through the API double', { timeout: TIMEOUT * 6 }, () => {
  it('groups the basic-service NodePorts without any rule; what nobody claims is other, with its namespace', {
    timeout: TIMEOUT,
  }, async () => {
    const { snapshot, logs } = await firstSnapshot((api) => im.seedImanagerCluster(api));
    assert.deepEqual(
      snapshot.nodePorts.map(
        (p) => `${p.nodePort} ${p.namespace}/${p.service} ${p.group} by ${p.groupedBy}`,
      ),
      [
        '30183 gis-platform/bslicense-ui basic-service by anchor',
        '31654 gis-platform/grafana basic-service by anchor',
        '31100 gis-platform/imanager-dashboard-ui basic-service by anchor',
        '32145 gis-site-7f3a/iserver gis-environment by marker',
        '30519 gis-site-b2c9/iportal gis-environment by marker',
        '30880 ingress-nginx/ingress-nginx-controller other by none',
        '31234 kubernetes-dashboard/kubernetes-dashboard basic-service by anchor',
      ],
    );
    assert.deepEqual(warnings(logs), [], 'a cluster that grants every read warns of nothing');
  });

  it('gives the license center node 3307 and 9183, and Typha node 5473, from their pods', {
    timeout: TIMEOUT,
  }, async () => {
    const { snapshot } = await firstSnapshot((api) => im.seedImanagerCluster(api));
    assert.deepEqual(
      snapshot.nodes.map((n) => [n.name, n.roles.join('+')]),
      [
        ['imgr-master-1', 'control-plane'],
        ['imgr-worker-1', 'worker+calico-typha'],
        ['imgr-worker-2', 'worker+license-center'],
        // The Pending registry pod runs nowhere yet; iServer's port is behind a Service.
        ['imgr-worker-3', 'worker'],
      ],
    );
    const targets = plan(snapshot);
    const worker2 = on(targets, 'imgr-worker-2');
    assert.ok(worker2.includes(3307) && worker2.includes(9183), `worker-2 has ${worker2}`);
    for (const node of ['imgr-master-1', 'imgr-worker-1', 'imgr-worker-3']) {
      assert.ok(!on(targets, node).includes(9183), `${node} has no license center`);
    }
    assert.ok(on(targets, 'imgr-worker-1').includes(5473));
    assert.ok(!on(targets, 'imgr-worker-2').includes(5473));
  });

  it('a label wins over a pod: the labelled node is the license center, the pod adds no other', {
    timeout: TIMEOUT,
  }, async () => {
    const { snapshot } = await firstSnapshot((api) => {
      im.seedImanagerCluster(api);
      const labelled = structuredClone(im.worker3);
      labelled.metadata.labels = {
        ...labelled.metadata.labels,
        'node-role.kubernetes.io/license-center': '',
      };
      api.modify('nodes', labelled);
    });
    assert.deepEqual(
      snapshot.nodes.filter((n) => n.roles.includes('license-center')).map((n) => n.name),
      ['imgr-worker-3'],
    );
  });

  it('reads VXLAN from calico-node and calico-config: 179 optional, 4789/udp for the firewall', {
    timeout: TIMEOUT,
  }, async () => {
    const { snapshot, api } = await firstSnapshot((a) =>
      im.seedImanagerCluster(a, { backend: 'vxlan' }),
    );
    assert.deepEqual(snapshot.facts, {
      calicoBackend: 'vxlan',
      calicoEncapsulation: 'vxlan',
      kubeProxy: true,
      sources: {
        calicoBackend: 'DaemonSet kube-system/calico-node',
        calicoEncapsulation: 'DaemonSet kube-system/calico-node',
        kubeProxy: 'DaemonSet kube-system/kube-proxy',
      },
    });
    // The backend came from the ConfigMap calico-node's env names: it was fetched.
    assert.ok(api.requests.some((r) => r.target === 'configmaps' && r.name === 'calico-config'));
    const bgp = plan(snapshot).filter((t) => t.portName === 'calico-bgp');
    assert.equal(bgp.length, 4);
    assert.ok(bgp.every((t) => !t.required && t.expected === 'any'));
    const proxy = plan(snapshot).filter((t) => t.portName === 'kube-proxy-health');
    assert.ok(proxy.length === 4 && proxy.every((t) => t.required && t.expected === 'open'));
    assert.deepEqual(firewallTakes(snapshot), ['calico-vxlan 4789/udp']);
  });

  it('reads BGP with IP-in-IP: 179 required, IP protocol 4 for the firewall', {
    timeout: TIMEOUT,
  }, async () => {
    const { snapshot } = await firstSnapshot((a) => im.seedImanagerCluster(a, { backend: 'bird' }));
    assert.equal(snapshot.facts?.calicoBackend, 'bird');
    assert.equal(snapshot.facts?.calicoEncapsulation, 'ipip');
    const bgp = plan(snapshot).filter((t) => t.portName === 'calico-bgp');
    assert.ok(bgp.length === 4 && bgp.every((t) => t.required && t.expected === 'open'));
    assert.deepEqual(firewallTakes(snapshot), ['calico-ipip ip protocol 4']);
  });

  it("takes what calico-node leaves open from the operator's Installation", {
    timeout: TIMEOUT,
  }, async () => {
    const { snapshot } = await firstSnapshot((api) => {
      im.seedImanagerCluster(api, { backend: 'bird' });
      api.remove('daemonsets', 'kube-system', 'calico-node');
      api.remove('configmaps', 'kube-system', 'calico-config');
      // The operator's calico-node: a literal backend, pools made by the operator.
      const operatorNode = im.calicoNode({ ipip: 'Never', vxlan: 'Never' });
      operatorNode.metadata.namespace = 'calico-system';
      const container = (
        operatorNode.spec as { template: { spec: { containers: { env: object[] }[] } } }
      ).template.spec.containers[0];
      if (!container) throw new Error('fixture has no container');
      container.env = [
        { name: 'CALICO_NETWORKING_BACKEND', value: 'bird' },
        { name: 'NO_DEFAULT_POOLS', value: 'true' },
      ];
      api.create('daemonsets', operatorNode);
      api.create(
        'installations',
        im.installation({ bgp: 'Enabled', encapsulation: 'VXLANCrossSubnet' }),
      );
    });
    assert.deepEqual(snapshot.facts?.sources, {
      calicoBackend: 'DaemonSet calico-system/calico-node',
      calicoEncapsulation: 'Installation default',
      kubeProxy: 'DaemonSet kube-system/kube-proxy',
    });
    assert.equal(snapshot.facts?.calicoEncapsulation, 'vxlan');
    assert.deepEqual(firewallTakes(snapshot), ['calico-vxlan 4789/udp']);
  });

  it('the config overrides detection', { timeout: TIMEOUT }, async () => {
    const { snapshot } = await firstSnapshot(
      (a) => im.seedImanagerCluster(a, { backend: 'vxlan' }),
      {
        facts: { calicoBackend: 'bird', calicoEncapsulation: 'ipip' },
      },
    );
    assert.equal(snapshot.facts?.calicoBackend, 'bird');
    assert.equal(snapshot.facts?.sources?.calicoBackend, 'config');
    assert.equal(snapshot.facts?.sources?.kubeProxy, 'DaemonSet kube-system/kube-proxy');
    assert.deepEqual(firewallTakes(snapshot), ['calico-ipip ip protocol 4']);
  });

  it('with pods forbidden: one warning, and everything else as without pods', {
    timeout: TIMEOUT,
  }, async () => {
    const forbidden = await firstSnapshot((api) => {
      im.seedImanagerCluster(api);
      api.forbid('pods');
    });
    const withoutPods = await firstSnapshot((api) => im.seedImanagerCluster(api, { pods: false }));
    assert.deepEqual(forbidden.snapshot, withoutPods.snapshot);
    assert.equal(forbidden.up, true, 'a forbidden optional read does not make discovery down');
    const lines = warnings(forbidden.logs);
    assert.deepEqual(
      lines.map((l) => [l.level, l.verb, l.resource, l.status]),
      [['warn', 'list', 'pods', 403]],
    );
    assert.match(
      lines[0]?.msg ?? '',
      /^Kubernetes discovery may not list pods \(API group ""\) at cluster scope: roles from pods .* are not detected \(degraded; everything else goes on\)\. Grant .* list and watch there/,
    );
    // The double refused with the real RBAC Status, and the source kept asking (backoff).
    assert.ok(forbidden.api.requests.some((r) => r.target === 'pods' && r.status === 403));
  });

  it('with the network reads forbidden: one warning naming each refused object, facts unknown', {
    timeout: TIMEOUT,
  }, async () => {
    const forbidden = await firstSnapshot((api) => {
      im.seedImanagerCluster(api);
      api.forbid('daemonsets');
      api.forbid('installations');
    });
    assert.equal(forbidden.snapshot.facts, undefined);
    const lines = warnings(forbidden.logs);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]?.msg ?? '',
      /may not get daemonsets "calico-node" \(API group "apps"\) in namespace "kube-system", daemonsets "calico-node" \(API group "apps"\) in namespace "calico-system", installations "default" \(API group "operator\.tigera\.io"\) at cluster scope, daemonsets "kube-proxy"/,
    );
    // Unknown: 179 as documented (required), VXLAN and IP-in-IP both optional for the firewall.
    const bgp = plan(forbidden.snapshot).filter((t) => t.portName === 'calico-bgp');
    assert.ok(bgp.every((t) => t.required));
    const unknown = unprobedRequirements(
      UNPROBED_CATALOG,
      ['worker'],
      forbidden.snapshot.facts ?? {},
    );
    assert.deepEqual(
      unknown.map((u) => [u.entry.id, u.applicability.state, u.applicability.required]),
      [
        ['calico-vxlan', 'unknown', false],
        ['calico-ipip', 'unknown', false],
      ],
    );
    const nodes = forbidden.snapshot.nodes.map((n) => n.name);
    assert.equal(nodes.length, 4, 'nodes, Services and pods as before');
  });
});

/** The unprobed entries whose condition holds on a worker: what `firewall` opens beside TCP. */
function firewallTakes(snapshot: DiscoverySnapshot): string[] {
  return unprobedRequirements(UNPROBED_CATALOG, ['worker'], snapshot.facts ?? {})
    .filter((r) => r.applicability.state === 'holds')
    .map(({ entry }) =>
      entry.protocol === 'udp'
        ? `${entry.id} ${entry.port}/udp`
        : `${entry.id} ip protocol ${entry.ipProtocol}`,
    );
}
