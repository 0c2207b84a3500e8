/**
 * The acceptance checks of Kubernetes discovery: the real program (src/main.ts),
 * pointed by a kubeconfig at the test API server, which speaks the real list+watch
 * protocol with objects shaped like a kubeadm cluster running iManager.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import { clusterFromObjects } from '../../src/discovery/kubernetes/objects.js';
import { DEFAULT_KUBERNETES_DISCOVERY_OPTIONS } from '../../src/discovery/kubernetes/options.js';
import { planTargets } from '../../src/targets/planner.js';
import * as cluster from '../fixtures/kube/cluster.js';
import { KubeApiServer, type KubeObject } from '../helpers/kube-api-server.js';
import { nodeArgv } from '../helpers/node-child.js';
import { readUntil } from '../helpers/wait.js';
import { parseExposition, type Sample } from '../metrics/exposition.js';
import { type Daemon, startDaemon } from './daemon.js';

const INTERVAL_MS = 2000;
/** "Within 2 cycles", with room for the discovery debounce and the scrape itself. */
const TWO_CYCLES_MS = 2 * INTERVAL_MS + 1500;

function seed(api: KubeApiServer): void {
  for (const node of cluster.allNodes) api.create('nodes', structuredClone(node));
  for (const service of cluster.allServices) api.create('services', structuredClone(service));
  for (const slice of cluster.allEndpointSlices) {
    api.create('endpointslices', structuredClone(slice));
  }
}

async function startExporter(kubeconfig: string): Promise<{ daemon: Daemon; url: string }> {
  const daemon = await startDaemon(
    nodeArgv('src/main.ts', [
      `--kubeconfig=${kubeconfig}`,
      '--discovery=kubernetes',
      '--web.listen-address=127.0.0.1:0',
      `--probe.interval=${INTERVAL_MS}ms`,
      '--probe.timeout=500ms',
      '--probe.icmp=off',
    ]),
    { ready: /"msg":"listening","url":"[^"]+"/ },
  );
  const url = /"msg":"listening","url":"([^"]+)"/.exec(daemon.log())?.[1];
  assert.ok(url, 'no listening line');
  return { daemon, url };
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  return [...parseExposition(await response.text()).samples];
}

/** Scrapes until `done` holds or the deadline passes; returns the last scrape. */
function scrapeUntil(
  url: string,
  done: (samples: Sample[]) => boolean,
  deadlineMs: number,
): Promise<Sample[]> {
  return readUntil(() => scrape(url), done, {
    timeoutMs: deadlineMs,
    intervalMs: 200,
    attempts: 200,
  });
}

const portUps = (samples: Sample[]) => samples.filter((s) => s.name === 'imanager_port_up');
const keyOf = (s: Sample) => `${s.labels.node}:${s.labels.port}`;
const discoveryUp = (samples: Sample[]) =>
  samples.find((s) => s.name === 'imanager_discovery_up' && s.labels.source === 'kubernetes')
    ?.value;

/** What the fixture cluster should produce, planned from the same objects. */
function expectedKeys(): string[] {
  const objects = clusterFromObjects(
    {
      nodes: cluster.allNodes as never,
      services: cluster.allServices as never,
      endpointSlices: cluster.allEndpointSlices as never,
    },
    DEFAULT_KUBERNETES_DISCOVERY_OPTIONS,
  );
  return planTargets({
    vantage: 'central',
    catalog: CATALOG,
    snapshot: { ...objects, kubernetesVersion: '1.25' },
  }).map((t) => `${t.node}:${t.port}`);
}

describe('Kubernetes discovery, end to end', () => {
  let api: KubeApiServer;
  let exporter: { daemon: Daemon; url: string };

  before(async () => {
    api = await KubeApiServer.start();
    seed(api);
    exporter = await startExporter(await api.writeKubeconfig());
  });
  after(async () => {
    await exporter?.daemon.stop();
    await api?.close();
  });

  test('one imanager_port_up per applicable catalog entry and per NodePort per node', async () => {
    const want = expectedKeys();
    const samples = await scrapeUntil(
      exporter.url,
      (s) => portUps(s).length >= want.length,
      TWO_CYCLES_MS,
    );
    assert.deepEqual(portUps(samples).map(keyOf).sort(), [...want].sort());
    assert.equal(discoveryUp(samples), '1');

    const find = (node: string, port: number) =>
      portUps(samples).find((s) => s.labels.node === node && s.labels.port === String(port));
    // Roles: the license center role comes from a node-role label.
    assert.ok(find('k8s-worker-1', 9183), 'license center port on the labelled worker');
    assert.equal(find('k8s-worker-2', 9183), undefined);
    assert.ok(find('k8s-master-1', 6443));
    assert.equal(find('k8s-worker-1', 6443), undefined);
    // Groups, from the namespace rules.
    assert.equal(find('k8s-worker-2', 30417)?.labels.group, 'basic-service');
    assert.equal(find('k8s-worker-2', 30417)?.labels.k8s_namespace, 'supermap');
    assert.equal(find('k8s-worker-2', 30417)?.labels.k8s_service, 'imanager-gateway');
    assert.equal(find('k8s-worker-2', 32145)?.labels.group, 'gis-environment');
    // A UDP NodePort is known but not TCP-probed.
    assert.equal(find('k8s-worker-2', 30514), undefined);
    const info = samples.filter((s) => s.name === 'imanager_nodeport_info');
    assert.ok(info.some((s) => s.labels.node_port === '30514'));
    const nodes = samples.filter((s) => s.name === 'imanager_node_info').map((s) => s.labels.node);
    assert.deepEqual(nodes.sort(), ['k8s-master-1', 'k8s-worker-1', 'k8s-worker-2']);
  });

  test('a service created appears within 2 cycles, and is gone within 2 cycles of its deletion', async () => {
    const created: KubeObject = structuredClone(cluster.gisPhpMyAdmin);
    created.metadata.name = 'geoserver';
    delete (created.metadata as { uid?: string }).uid;
    (created.spec as { ports: { nodePort: number; name: string }[] }).ports = [
      { name: 'http', port: 8080, nodePort: 31999, protocol: 'TCP', targetPort: 8080 } as never,
    ];
    (created.spec as { externalTrafficPolicy: string }).externalTrafficPolicy = 'Cluster';
    api.create('services', created);
    const has31999 = (s: Sample[]) => portUps(s).filter((x) => x.labels.port === '31999').length;
    let samples = await scrapeUntil(exporter.url, (s) => has31999(s) === 3, TWO_CYCLES_MS);
    assert.equal(has31999(samples), 3, 'the new NodePort on each of the 3 nodes');

    api.remove('services', created.metadata.namespace, created.metadata.name);
    samples = await scrapeUntil(exporter.url, (s) => has31999(s) === 0, TWO_CYCLES_MS);
    assert.equal(has31999(samples), 0, 'the deleted NodePort left /metrics');
  });

  test('on Kubernetes 1.24 and later no series says 10251 or 10252 is required', async () => {
    const samples = await scrape(exporter.url);
    const legacy = portUps(samples).filter(
      (s) => s.labels.port === '10251' || s.labels.port === '10252',
    );
    assert.ok(legacy.length > 0, 'the legacy ports are still shown');
    for (const sample of legacy) {
      assert.equal(sample.labels.required, 'false');
      assert.equal(sample.labels.expected, 'any');
    }
  });
});

describe('Kubernetes API down at start', () => {
  test('the exporter serves with discovery down, then finds everything without a restart', async () => {
    const api = await KubeApiServer.start();
    seed(api);
    const kubeconfig = await api.writeKubeconfig();
    await api.down();
    const exporter = await startExporter(kubeconfig);
    try {
      const down = await scrape(exporter.url);
      assert.equal(discoveryUp(down), '0');
      assert.equal(portUps(down).length, 0);

      await api.up();
      const want = expectedKeys();
      // The source retries with capped exponential backoff from 1 s.
      const samples = await scrapeUntil(
        exporter.url,
        (s) => discoveryUp(s) === '1' && portUps(s).length >= want.length,
        20_000,
      );
      assert.equal(discoveryUp(samples), '1');
      assert.deepEqual(portUps(samples).map(keyOf).sort(), [...want].sort());
    } finally {
      await exporter.daemon.stop();
      await api.close();
    }
  });
});
