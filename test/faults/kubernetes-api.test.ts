/**
 * The Kubernetes API fails under a running exporter: down, slow (answers after the
 * request timeout), 500s, 410 Gone, a watch cut mid-stream, and back again. Read the
 * way Prometheus reads it: /metrics keeps answering with the last known targets,
 * imanager_discovery_up says whether discovery is in sync right now, and when the
 * API is back everything recovers without a restart. Also what the cluster itself
 * can get wrong: a node with no usable address, a node that vanishes.
 *
 * One exporter lives through every case, in order: each case ends recovered, which
 * is itself the check that nothing earlier left it wedged.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import { parseConfigText } from '../../src/config/load.js';
import { clusterFromObjects } from '../../src/discovery/kubernetes/objects.js';
import { DEFAULT_KUBERNETES_DISCOVERY_OPTIONS } from '../../src/discovery/kubernetes/options.js';
import { planTargets } from '../../src/targets/planner.js';
import * as fx from '../fixtures/kube/cluster.js';
import { KubeApiServer, type KubeObject } from '../helpers/kube-api-server.js';
import type { Sample } from '../metrics/exposition.js';
import { type RunningExporter, startExporter, targetKeys, value } from './exporter.js';

const INTERVAL_MS = 2000;
/** Lists time out after this (the config's discovery.requestTimeout). */
const REQUEST_TIMEOUT_MS = 1000;
/**
 * How long a change may take to show: the debounce, a retry's backoff (1 s, then 2 s,
 * 4 s while a fault lasts), the replan at the next cycle, and a busy machine.
 */
const SETTLE_MS = 20_000;

const discoveryUp = (samples: readonly Sample[]) =>
  value(samples, 'imanager_discovery_up', { source: 'kubernetes' });

/** What the double holds, mirrored here, so the expected targets are planned from it. */
class Model {
  readonly nodes = new Map<string, KubeObject>();
  readonly services = new Map<string, KubeObject>();
  readonly slices = new Map<string, KubeObject>();

  constructor(readonly api: KubeApiServer) {}

  create(kind: 'nodes' | 'services' | 'endpointslices', object: KubeObject, silent = false) {
    this.api.create(kind, structuredClone(object), { silent });
    this.#map(kind).set(keyOf(object), object);
  }

  remove(kind: 'nodes' | 'services' | 'endpointslices', object: KubeObject) {
    this.api.remove(kind, object.metadata.namespace, object.metadata.name);
    this.#map(kind).delete(keyOf(object));
  }

  #map(kind: 'nodes' | 'services' | 'endpointslices') {
    return kind === 'nodes' ? this.nodes : kind === 'services' ? this.services : this.slices;
  }

  /** `node:port` of every target the exporter should probe now. */
  expectedKeys(): string[] {
    const cluster = clusterFromObjects(
      {
        nodes: [...this.nodes.values()] as never,
        services: [...this.services.values()] as never,
        endpointSlices: [...this.slices.values()] as never,
      },
      DEFAULT_KUBERNETES_DISCOVERY_OPTIONS,
    );
    return planTargets({
      vantage: 'central',
      catalog: CATALOG,
      snapshot: { ...cluster, kubernetesVersion: '1.25' },
    })
      .map((t) => `${t.node}:${t.port}`)
      .sort();
  }
}

function keyOf(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

function newService(name: string, nodePort: number): KubeObject {
  const svc = structuredClone(fx.imanagerDashboardUi) as KubeObject;
  svc.metadata = { ...svc.metadata, name };
  delete svc.metadata.uid;
  (svc.spec as { ports: unknown[] }).ports = [
    { name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080, nodePort },
  ];
  return svc;
}

describe('the exporter while the Kubernetes API fails', { timeout: 300_000 }, () => {
  let api: KubeApiServer;
  let model: Model;
  let exporter: RunningExporter;
  let dir: string;

  /** The targets match the cluster as it is now, and discovery says it is in sync. */
  async function inSync(what: string): Promise<Sample[]> {
    const want = model.expectedKeys();
    const samples = await exporter.until(
      (s) => discoveryUp(s) === '1' && targetKeys(s).join() === want.join(),
      what,
      SETTLE_MS,
    );
    assert.deepEqual(targetKeys(samples), want);
    return samples;
  }

  /** Discovery reports itself down, while /metrics still holds every target it had. */
  async function downKeepingTargets(what: string, before: readonly string[]): Promise<void> {
    const samples = await exporter.until((s) => discoveryUp(s) === '0', what, SETTLE_MS);
    assert.deepEqual(targetKeys(samples), before, 'the last known targets are kept');
    // Still probing them: the probe counter moves while discovery is down.
    const probes = (s: readonly Sample[]) =>
      Number(value(s, 'imanager_probes_total', { prober: 'tcp', state: 'refused' }) ?? 0) +
      Number(value(s, 'imanager_probes_total', { prober: 'tcp', state: 'open' }) ?? 0);
    const first = probes(samples);
    const later = await exporter.until(
      (s) => probes(s) > first,
      'probes go on while discovery is down',
      3 * INTERVAL_MS,
    );
    assert.equal(discoveryUp(later), '0', 'still down: the fault is still there');
    assert.deepEqual(targetKeys(later), before);
  }

  before(async () => {
    api = await KubeApiServer.start();
    model = new Model(api);
    for (const node of fx.allNodes) model.create('nodes', node);
    for (const svc of fx.allServices) model.create('services', svc);
    for (const slice of fx.allEndpointSlices) model.create('endpointslices', slice);
    dir = await mkdtemp(join(tmpdir(), 'ipe-faults-kube-'));
    const config = join(dir, 'config.yml');
    await writeFile(config, `discovery:\n  requestTimeout: ${REQUEST_TIMEOUT_MS}ms\n`);
    exporter = await startExporter([
      `--config.file=${config}`,
      `--kubeconfig=${await api.writeKubeconfig()}`,
      '--discovery=kubernetes',
      `--probe.interval=${INTERVAL_MS}ms`,
      '--probe.timeout=500ms',
      '--probe.icmp=off',
    ]);
    await inSync('the first sync');
  });

  after(async () => {
    await exporter?.stop();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers 500: keeps its targets, reports discovery down, recovers', async () => {
    const before = targetKeys(await exporter.scrape());
    const lift = api.fail({ status: 500 });
    try {
      // Open watches are not requests: cut them, so the reconnect meets the 500s.
      api.cutWatches();
      await downKeepingTargets('discovery down on 500s', before);
    } finally {
      lift();
    }
    await inSync('recovery after the 500s');
  });

  it('goes down: keeps its targets, reports discovery down, recovers when it is back', async () => {
    const before = targetKeys(await exporter.scrape());
    await api.down();
    try {
      await downKeepingTargets('discovery down with the API server down', before);
    } finally {
      await api.up();
    }
    await inSync('recovery after the API server came back');
  });

  it('answers lists only after the request timeout: down, then in sync when it is fast again', async () => {
    const before = targetKeys(await exporter.scrape());
    const fast = api.delay(3 * REQUEST_TIMEOUT_MS, { verb: 'list' });
    try {
      // A watch that expires makes the client list again, and that list is slow.
      api.compact();
      api.expireWatches();
      await downKeepingTargets('discovery down on lists slower than the timeout', before);
      const timeouts = exporter
        .logLines()
        .filter((l) => /cannot list/.test(l.msg) && l.failure === 'timeout');
      assert.ok(timeouts.length > 0, 'the log says a list got no answer in time');
    } finally {
      fast();
    }
    await inSync('recovery once lists are fast again');
  });

  it('forbids services (RBAC lost): keeps its targets, names the missing grant, recovers', async () => {
    const before = targetKeys(await exporter.scrape());
    const logged = exporter.logLines().length;
    const grant = api.forbid('services');
    try {
      api.cutWatches('services');
      await downKeepingTargets('discovery down while services are forbidden', before);
      const permission = exporter
        .logLines()
        .slice(logged)
        .filter((l) => l.level === 'error' && /services/.test(l.msg));
      assert.equal(permission.length, 1, 'one line naming what to grant, not one per retry');
    } finally {
      grant();
    }
    await inSync('recovery once services may be listed again');
  });

  it('expires the watch with 410 Gone: relists and sees what the watch missed', async () => {
    // Changed without an event, as if the event had been compacted away.
    model.create('services', newService('missed-by-the-watch', 31411), true);
    api.compact();
    api.expireWatches();
    const samples = await inSync('the relist after 410 Gone');
    assert.ok(targetKeys(samples).some((k) => k.endsWith(':31411')));
  });

  it('cuts a watch mid-stream: reconnects from where it was, stays up, misses nothing', async () => {
    const logged = exporter.logLines().length;
    api.cutWatches();
    model.create('services', newService('after-the-cut', 31412));
    const samples = await inSync('the change made after the cut');
    assert.ok(targetKeys(samples).some((k) => k.endsWith(':31412')));
    // A cut that reconnects at once is not an outage.
    const downs = exporter
      .logLines()
      .slice(logged)
      .filter((l) => /cannot watch/.test(l.msg));
    assert.equal(downs.length, 0, JSON.stringify(downs));
  });

  it('lists a node with no usable address: skipped, every other node as it was', async () => {
    model.create('nodes', fx.nodeWithoutAddresses);
    // A good node after it on the same watch: once it shows, the broken one was seen.
    const next = structuredClone(fx.workerNode2) as KubeObject;
    next.metadata = { name: 'k8s-worker-3', labels: { 'kubernetes.io/hostname': 'k8s-worker-3' } };
    (next.status as { addresses: unknown[] }).addresses = [
      { type: 'InternalIP', address: '127.0.10.4' },
      { type: 'Hostname', address: 'k8s-worker-3' },
    ];
    model.create('nodes', next);
    const samples = await inSync('the node without addresses skipped, the next one added');
    const nodes = samples.filter((s) => s.name === 'imanager_node_info').map((s) => s.labels.node);
    assert.deepEqual(nodes.sort(), [
      'k8s-master-1',
      'k8s-worker-1',
      'k8s-worker-2',
      'k8s-worker-3',
    ]);
    assert.ok(!targetKeys(samples).some((k) => k.startsWith('k8s-broken:')));
  });

  it('loses a node: its targets go, the NodePorts stay on the other nodes', async () => {
    const gone = fx.workerNode2;
    const nodePort = 30417; // imanager-gateway, policy Cluster: every node answers
    const before = targetKeys(await exporter.scrape());
    assert.ok(before.includes(`${gone.metadata.name}:${nodePort}`));
    model.remove('nodes', gone);
    const samples = await inSync('the vanished node gone from /metrics');
    const keys = targetKeys(samples);
    assert.ok(!keys.some((k) => k.startsWith(`${gone.metadata.name}:`)));
    assert.ok(keys.includes(`k8s-master-1:${nodePort}`));
    assert.ok(keys.includes(`k8s-worker-1:${nodePort}`));
    const info = samples.filter((s) => s.name === 'imanager_node_info').map((s) => s.labels.node);
    assert.ok(!info.includes(gone.metadata.name));
  });

  it('logged nothing that is not a JSON line, and no stack trace', () => {
    const lines = exporter.logLines();
    assert.deepEqual(
      lines.filter((l) => l.level === 'unparsed'),
      [],
    );
    assert.ok(!exporter.daemon.log().includes('    at '), 'a stack trace in the log');
  });
});

describe('discovery durations in the config file', () => {
  it('refuses a relist interval or request timeout no Node timer can hold', () => {
    for (const [text, field] of [
      ['discovery:\n  relistInterval: 30d\n', 'discovery.relistInterval'],
      ['discovery:\n  requestTimeout: 0s\n', 'discovery.requestTimeout'],
      ['discovery:\n  requestTimeout: 25d\n', 'discovery.requestTimeout'],
    ] as const) {
      assert.throws(() => parseConfigText(text, 'c.yml'), {
        code: 'CONFIG_INVALID',
        message: new RegExp(`^c\\.yml: ${field.replace('.', '\\.')}: expected a duration`),
      });
    }
    const file = parseConfigText('discovery:\n  requestTimeout: 5s\n', 'c.yml');
    assert.equal(file.discovery.requestTimeoutMs, 5000);
  });
});
