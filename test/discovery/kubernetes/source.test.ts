/**
 * The Kubernetes source against the API server double, through a real kubeconfig file
 * and client-node's own informers. Waits are on events (snapshots, status changes, log
 * lines, requests the double saw), each bounded; delays are shrunk by options.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadKubeConfig } from '../../../src/discovery/kubernetes/kubeconfig.js';
import type { KubernetesDiscoveryOptionsInput } from '../../../src/discovery/kubernetes/options.js';
import { KubernetesSource } from '../../../src/discovery/kubernetes/source.js';
import { selectSource } from '../../../src/discovery/select.js';
import type { DiscoverySnapshot, SourceStatus } from '../../../src/discovery/types.js';
import type { Clock } from '../../../src/util/clock.js';
import { createLogger, silentLogger } from '../../../src/util/log.js';
import * as fx from '../../fixtures/kube/cluster.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import {
  KubeApiServer,
  type KubeApiServerOptions,
  type KubeApiServer as KubeApiServerType,
  type KubeObject,
} from '../../helpers/kube-api-server.js';

const TEST_TIMEOUT = 15_000;

/** Things that happen over time, and a bounded wait for one that satisfies a predicate. */
class Recorder<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<{ test: (item: T) => boolean; resolve: (item: T) => void }>();

  readonly push = (item: T): void => {
    this.items.push(item);
    for (const waiter of [...this.#waiters]) {
      if (waiter.test(item)) {
        this.#waiters.delete(waiter);
        waiter.resolve(item);
      }
    }
  };

  get latest(): T | undefined {
    return this.items.at(-1);
  }

  /** The latest item once it satisfies `test`: now, or at a later push. */
  latestUntil(test: (item: T) => boolean, what: string, timeoutMs = 8_000): Promise<T> {
    const latest = this.latest;
    if (latest !== undefined && test(latest)) return Promise.resolve(latest);
    return this.#wait(test, what, timeoutMs);
  }

  /** Any item, past or future, that satisfies `test`. */
  some(test: (item: T) => boolean, what: string, timeoutMs = 8_000): Promise<T> {
    const found = this.items.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return this.#wait(test, what, timeoutMs);
  }

  #wait(test: (item: T) => boolean, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}

type LogRecord = { level: string; msg: string } & Record<string, unknown>;

interface Harness {
  readonly api: KubeApiServerType;
  readonly source: KubernetesSource;
  readonly snapshots: Recorder<DiscoverySnapshot>;
  readonly statuses: Recorder<SourceStatus>;
  readonly logs: Recorder<LogRecord>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function seedCluster(api: KubeApiServerType): void {
  for (const node of fx.allNodes) api.create('nodes', node);
  for (const svc of fx.allServices) api.create('services', svc);
  for (const slice of fx.allEndpointSlices) api.create('endpointslices', slice);
}

async function harness(
  options: {
    readonly source?: KubernetesDiscoveryOptionsInput;
    readonly server?: KubeApiServerOptions;
    /** Runs against the server before the source starts (seed, faults, down). */
    readonly prepare?: (api: KubeApiServerType) => void | Promise<void>;
    /** Default the system clock. */
    readonly clock?: Clock;
  } = {},
): Promise<Harness> {
  const api = await KubeApiServer.start(options.server);
  const path = await api.writeKubeconfig();
  if (options.prepare) await options.prepare(api);
  else seedCluster(api);
  const snapshots = new Recorder<DiscoverySnapshot>();
  const statuses = new Recorder<SourceStatus>();
  const logs = new Recorder<LogRecord>();
  const logger = createLogger({
    level: 'debug',
    write: (line) => logs.push(JSON.parse(line) as LogRecord),
  });
  const source = new KubernetesSource(
    {
      debounceMs: 20,
      backoffInitialMs: 10,
      backoffMaxMs: 50,
      relistIntervalMs: 0,
      requestTimeoutMs: 5_000,
      ...options.source,
    },
    {
      kubeConfig: loadKubeConfig({ kind: 'file', paths: [path], from: 'flag' }),
      logger,
      onStatus: statuses.push,
      ...(options.clock && { clock: options.clock }),
    },
  );
  return {
    api,
    source,
    snapshots,
    statuses,
    logs,
    start: () => source.start(snapshots.push),
    close: async () => {
      await source.stop();
      await api.close();
    },
  };
}

const servicesOf = (s: DiscoverySnapshot) => [...new Set(s.nodePorts.map((p) => p.service))];
const hasService = (name: string) => (s: DiscoverySnapshot) =>
  s.nodePorts.some((p) => p.service === name);

function newService(name: string, namespace = 'supermap', nodePort = 30900): KubeObject {
  const svc = structuredClone(fx.imanagerDashboardUi);
  svc.metadata.name = name;
  svc.metadata.namespace = namespace;
  (svc.spec as { ports: { nodePort: number }[] }).ports[0] = {
    ...(svc.spec as { ports: object[] }).ports[0],
    nodePort,
  } as { nodePort: number };
  return svc;
}

describe('KubernetesSource against the API server double', { timeout: TEST_TIMEOUT * 4 }, () => {
  it('hands out the whole cluster in its first snapshot', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness();
    try {
      await h.start();
      const first = await h.snapshots.latestUntil(() => true, 'the first snapshot');
      assert.equal(h.snapshots.items.length, 1);
      assert.deepEqual(
        first.nodes.map((n) => [
          n.name,
          n.addresses.join(),
          n.roles.join('+'),
          n.ready,
          n.kubeletVersion,
        ]),
        [
          ['k8s-master-1', '127.0.10.1', 'control-plane', true, 'v1.25.6'],
          ['k8s-worker-1', '127.0.10.2', 'worker+license-center', true, 'v1.25.6'],
          ['k8s-worker-2', '127.0.10.3', 'worker', false, 'v1.25.6'],
        ],
      );
      assert.deepEqual(
        first.nodePorts.map((p) => `${p.group} ${p.namespace}/${p.service}:${p.nodePort}`),
        [
          'other ingress-nginx/ingress-nginx-controller:30443',
          'other ingress-nginx/ingress-nginx-controller:30880',
          // iManager deploys the Kubernetes dashboard on 31234: a basic service wherever it is.
          'basic-service kubernetes-dashboard/kubernetes-dashboard:31234',
          'basic-service supermap/imanager-dashboard-ui:31100',
          'basic-service supermap/imanager-gateway:30417',
          'basic-service supermap/imanager-gateway:31872',
          'gis-environment supermap-gis-7f3a/iserver:32145',
          'gis-environment supermap-gis-7f3a/phpmyadmin:30080',
          'gis-environment supermap-gis-7f3a/syslog:30514',
        ],
      );
      assert.deepEqual(first.nodePorts.find((p) => p.service === 'phpmyadmin')?.readyNodes, [
        'k8s-master-1',
        'k8s-worker-1',
      ]);
      assert.equal(first.kubernetesVersion, '1.25');
      assert.equal(h.source.status().up, true);
      assert.equal(typeof h.source.status().lastSuccessSeconds, 'number');
      // What client-node 1.4 sends on the wire: a list, then a watch from its resourceVersion.
      const nodeWatch = h.api.requests.find((r) => r.target === 'nodes' && r.verb === 'watch');
      assert.equal(nodeWatch?.query.watch, 'true');
      assert.equal(nodeWatch?.query.resourceVersion, String(100 + 3 + 8 + 3));
      assert.equal(nodeWatch?.query.allowWatchBookmarks, undefined);
    } finally {
      await h.close();
    }
  });

  it('publishes its status: a read changes nothing, the last success is the last sync', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const startMs = Date.UTC(2025, 0, 1, 12);
    const clock = new FakeClock(0, startMs);
    const h = await harness({ clock });
    try {
      await h.start();
      await h.snapshots.latestUntil(() => true, 'the first snapshot');
      const synced = h.source.status();
      assert.deepEqual(synced, {
        source: 'kubernetes',
        up: true,
        lastSuccessSeconds: startMs / 1000,
      });
      await clock.advance(60_000);
      // A minute later, with nothing new from the API server: the same value, twice.
      assert.equal(h.source.status(), synced);
      assert.equal(h.source.status(), synced);
      // A watch event is a sync: the source waits out its debounce right after noting it.
      const debouncing = clock.nextSleep();
      h.api.create('services', newService('late-arrival'));
      await debouncing;
      assert.deepEqual(h.source.status(), { ...synced, lastSuccessSeconds: startMs / 1000 + 60 });
      await clock.advance(20);
      await h.snapshots.latestUntil(
        hasService('late-arrival'),
        'the snapshot with the new service',
      );
    } finally {
      await h.close();
    }
  });

  it('follows services, slices and nodes as they change', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness();
    try {
      await h.start();
      await h.snapshots.latestUntil(hasService('iserver'), 'the first snapshot');

      h.api.create('services', newService('gis-new-portal', 'supermap-gis-7f3a', 30999));
      const created = await h.snapshots.latestUntil(
        hasService('gis-new-portal'),
        'a created service',
      );
      assert.deepEqual(
        created.nodePorts
          .filter((p) => p.service === 'gis-new-portal')
          .map((p) => [p.group, p.nodePort]),
        [['gis-environment', 30999]],
      );

      h.api.remove('services', 'supermap', 'imanager-gateway');
      await h.snapshots.latestUntil((s) => !hasService('imanager-gateway')(s), 'a deleted service');

      // Hiding a service address: NodePort back to ClusterIP.
      const hidden = structuredClone(fx.gisServer);
      (hidden.spec as Record<string, unknown>).type = 'ClusterIP';
      h.api.modify('services', hidden);
      await h.snapshots.latestUntil((s) => !hasService('iserver')(s), 'a hidden service');

      // phpMyAdmin's pod on worker-1 goes away: only the control plane answers.
      const slice = structuredClone(fx.gisPhpMyAdminSlice);
      (slice.endpoints as unknown[]).splice(0, 1);
      h.api.modify('endpointslices', slice);
      await h.snapshots.latestUntil(
        (s) =>
          s.nodePorts.find((p) => p.service === 'phpmyadmin')?.readyNodes?.join() ===
          'k8s-master-1',
        'readyNodes to follow the EndpointSlice',
      );

      h.api.remove('nodes', undefined, 'k8s-worker-2');
      const last = await h.snapshots.latestUntil(
        (s) => s.nodes.length === 2,
        'a deleted node to vanish',
      );
      assert.deepEqual(
        last.nodes.map((n) => n.name),
        ['k8s-master-1', 'k8s-worker-1'],
      );
      assert.equal(h.api.count('nodes', 'list'), 1, 'changes come from the watch, not relists');
    } finally {
      await h.close();
    }
  });

  it('turns a burst of changes into fewer snapshots', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness({ source: { debounceMs: 200 } });
    try {
      await h.start();
      await h.snapshots.latestUntil(() => true, 'the first snapshot');
      const before = h.snapshots.items.length;
      for (let i = 0; i < 10; i++) {
        h.api.create('services', newService(`burst-${i}`, 'supermap', 31000 + i));
      }
      // Events arrive in order, so the last one in means all ten are.
      const landed = await h.snapshots.latestUntil(hasService('burst-9'), 'the burst to land');
      assert.equal(landed.nodePorts.filter((p) => p.service.startsWith('burst-')).length, 10);
      assert.ok(h.snapshots.items.length - before < 10, 'ten changes, fewer snapshots');
    } finally {
      await h.close();
    }
  });

  it('starts while the API server is down and syncs when it comes up', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const h = await harness({
      prepare: async (api) => {
        seedCluster(api);
        await api.down();
      },
    });
    try {
      await h.start();
      assert.equal(h.source.status().up, false);
      assert.equal(h.source.status().lastSuccessSeconds, undefined);
      assert.equal(h.source.snapshot(), undefined);
      await h.logs.some(
        (l) =>
          l.level === 'warn' &&
          l.msg === 'Kubernetes discovery: cannot list nodes; retrying with backoff',
        'a warning that nodes cannot be listed',
      );
      const failure = h.logs.items.find((l) => l.resource === 'nodes' && l.level === 'warn');
      assert.equal(failure?.errorCode, 'ECONNREFUSED');

      await h.api.up();
      // The lists and /version retry on their own; the version may land a snapshot later.
      await h.snapshots.latestUntil(
        (s) => s.nodes.length === 3 && s.nodePorts.length === 9 && s.kubernetesVersion === '1.25',
        'the whole snapshot once the API server is up',
      );
      await h.statuses.latestUntil((s) => s.up, 'status up');
    } finally {
      await h.close();
    }
  });

  it('relists after a 410 ERROR event on the watch', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness();
    try {
      await h.start();
      await h.snapshots.latestUntil(() => true, 'the first snapshot');
      // A change the watch never delivers, then history compacted and the watch expired.
      h.api.create('services', newService('lost-event'), { silent: true });
      h.api.compact();
      assert.equal(h.api.expireWatches('services'), 1);
      await h.snapshots.latestUntil(hasService('lost-event'), 'the relist to find the change');
      assert.equal(h.api.count('services', 'list'), 2);
      assert.equal(h.source.status().up, true);
    } finally {
      await h.close();
    }
  });

  it('relists after an HTTP 410 on a reconnecting watch', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness({ server: { goneMode: 'http' } });
    try {
      await h.start();
      await h.snapshots.latestUntil(() => true, 'the first snapshot');
      h.api.remove('services', 'supermap', 'imanager-gateway', { silent: true });
      h.api.compact();
      h.api.cutWatches('services');
      await h.snapshots.latestUntil(
        (s) => !hasService('imanager-gateway')(s),
        'the relist to drop the deleted service',
      );
      assert.ok(h.api.requests.some((r) => r.target === 'services' && r.status === 410));
      assert.equal(h.api.count('services', 'list'), 2);
    } finally {
      await h.close();
    }
  });

  it('reconnects a cut watch from its resourceVersion, staying up', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const h = await harness();
    try {
      await h.start();
      await h.snapshots.latestUntil(() => true, 'the first snapshot');
      const watchesBefore = h.api.count('nodes', 'watch');
      const rv = h.api.resourceVersion;
      assert.equal(h.api.cutWatches('nodes'), 1);
      h.api.modify('nodes', fx.workerNode2); // replayed from history on reconnect
      const ready = structuredClone(fx.workerNode2);
      const conditions = (ready.status as { conditions: { type: string; status: string }[] })
        .conditions;
      for (const condition of conditions) if (condition.type === 'Ready') condition.status = 'True';
      h.api.modify('nodes', ready);
      await h.snapshots.latestUntil(
        (s) => s.nodes.find((n) => n.name === 'k8s-worker-2')?.ready === true,
        'the change made while the watch was down',
      );
      await h.api.waitForRequests(
        (r) => r.target === 'nodes' && r.verb === 'watch',
        watchesBefore + 1,
      );
      const resumed = h.api.requests.filter((r) => r.target === 'nodes' && r.verb === 'watch')[
        watchesBefore
      ];
      assert.equal(resumed?.query.resourceVersion, rv);
      assert.equal(h.api.count('nodes', 'list'), 1, 'a reconnect, not a relist');
      assert.deepEqual(
        h.statuses.items.filter((s) => !s.up),
        [],
        'one dropped connection does not count as down',
      );
      assert.ok(h.logs.items.some((l) => l.msg.includes('watch connection lost; reconnecting')));
    } finally {
      await h.close();
    }
  });

  it('keeps the last snapshot while the API server answers 500', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const h = await harness();
    try {
      await h.start();
      const good = await h.snapshots.latestUntil(() => true, 'the first snapshot');
      const count = h.snapshots.items.length;
      const lift = h.api.fail({ status: 500 });
      h.api.cutWatches();
      const down = await h.statuses.latestUntil((s) => !s.up, 'status down');
      assert.equal(typeof down.lastSuccessSeconds, 'number');
      await h.api.waitForRequests((r) => r.status === 500, 6);
      assert.equal(h.source.status().up, false);
      assert.equal(h.snapshots.items.length, count, 'no snapshot while failing');
      assert.equal(h.source.snapshot(), good, 'the last snapshot is kept');
      await h.logs.some(
        (l) => l.msg === 'Kubernetes discovery is failing; keeping the last snapshot (stale)',
        'the stale warning',
      );
      h.api.create('services', newService('made-during-outage'));
      lift();
      await h.statuses.latestUntil((s) => s.up, 'status up again');
      await h.snapshots.latestUntil(hasService('made-during-outage'), 'the change made meanwhile');
    } finally {
      await h.close();
    }
  });

  it('logs a missing permission once, naming verb and resource', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const h = await harness({
      prepare: (api) => {
        seedCluster(api);
        api.forbid('endpointslices', 'list');
      },
    });
    try {
      await h.start();
      await h.api.waitForRequests((r) => r.target === 'endpointslices' && r.status === 403, 5);
      const lines = h.logs.items.filter((l) => l.level === 'error' || l.level === 'warn');
      assert.deepEqual(
        lines.map((l) => [l.level, l.verb, l.resource, l.apiGroup]),
        [['error', 'list', 'endpointslices', 'discovery.k8s.io']],
      );
      assert.match(
        lines[0]?.msg ?? '',
        /may not list endpointslices \(API group "discovery\.k8s\.io"\)/,
      );
      assert.equal(h.source.status().up, false);
      // Nodes and services are listed: the snapshot goes out, Local services answered nowhere.
      const snapshot = await h.snapshots.latestUntil(() => true, 'a snapshot without slices');
      assert.deepEqual(snapshot.nodePorts.find((p) => p.service === 'phpmyadmin')?.readyNodes, []);
    } finally {
      await h.close();
    }
  });

  it('goes on without the version when /version is forbidden', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const h = await harness({
      prepare: (api) => {
        seedCluster(api);
        api.fail({ status: 403, target: 'version' });
      },
    });
    try {
      await h.start();
      const snapshot = await h.snapshots.latestUntil(() => true, 'the first snapshot');
      assert.equal(snapshot.kubernetesVersion, undefined);
      assert.equal(snapshot.nodes.length, 3);
      assert.equal(h.source.status().up, true, 'the version is not part of being up');
      await h.api.waitForRequests((r) => r.target === 'version', 3);
      const lines = h.logs.items.filter((l) => l.level === 'error' || l.level === 'warn');
      assert.deepEqual(
        lines.map((l) => [l.level, l.verb, l.nonResourceURL]),
        [['error', 'get', '/version']],
      );
    } finally {
      await h.close();
    }
  });

  it('logs rejected credentials once and recovers when they work again', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    let restore = () => {};
    const h = await harness({
      prepare: (api) => {
        seedCluster(api);
        restore = api.rejectCredentials();
      },
    });
    try {
      await h.start();
      await h.api.waitForRequests((r) => r.target === 'nodes' && r.status === 401, 4);
      const errors = h.logs.items.filter((l) => l.level === 'error' && l.resource === 'nodes');
      assert.equal(errors.length, 1);
      assert.match(errors[0]?.msg ?? '', /could not list nodes .* rejected the credentials \(401/);
      restore();
      await h.snapshots.latestUntil((s) => s.nodes.length === 3, 'the snapshot after recovery');
      assert.equal((await h.statuses.latestUntil((s) => s.up, 'up')).up, true);
    } finally {
      await h.close();
    }
  });

  it('a periodic relist catches a change the watch never delivered', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const h = await harness({ source: { relistIntervalMs: 150 } });
    try {
      await h.start();
      await h.snapshots.latestUntil(() => true, 'the first snapshot');
      h.api.remove('nodes', undefined, 'k8s-worker-1', { silent: true });
      await h.snapshots.latestUntil((s) => s.nodes.length === 2, 'the relist to drop the node');
      assert.ok(h.api.count('nodes', 'list') >= 2);
      assert.equal(h.source.status().up, true);
    } finally {
      await h.close();
    }
  });

  it('times out a slow list and retries', { timeout: TEST_TIMEOUT }, async () => {
    let lift = () => {};
    const h = await harness({
      source: { requestTimeoutMs: 100 },
      prepare: (api) => {
        seedCluster(api);
        lift = api.delay(2_000, { target: 'nodes', verb: 'list' });
      },
    });
    try {
      await h.start();
      const warning = await h.logs.some(
        (l) => l.resource === 'nodes' && l.level === 'warn',
        'a timeout warning',
      );
      assert.equal(warning.failure, 'timeout');
      assert.equal(h.source.status().up, false);
      lift();
      await h.snapshots.latestUntil((s) => s.nodes.length === 3, 'the snapshot after the delay');
    } finally {
      await h.close();
    }
  });

  it('skips malformed objects with a debug line', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness({
      prepare: (api) => {
        seedCluster(api);
        api.create('nodes', fx.nodeWithoutAddresses);
        api.create('services', fx.serviceWithPortWithoutNodePort);
      },
    });
    try {
      await h.start();
      const snapshot = await h.snapshots.latestUntil(() => true, 'the first snapshot');
      assert.ok(!snapshot.nodes.some((n) => n.name === 'k8s-broken'));
      assert.deepEqual(
        snapshot.nodePorts
          .filter((p) => p.service === 'imanager-half-exposed')
          .map((p) => p.portName),
        ['ok'],
      );
      const skipped = h.logs.items.filter((l) => l.msg.startsWith('Kubernetes discovery: skipped'));
      assert.deepEqual(
        skipped.map((l) => [l.level, l.msg]),
        [
          [
            'debug',
            'Kubernetes discovery: skipped node without an address of the configured types and IP families',
          ],
          ['debug', 'Kubernetes discovery: skipped service port without a nodePort'],
        ],
      );
    } finally {
      await h.close();
    }
  });

  it('watches only the configured namespaces', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness({ source: { namespaces: ['supermap-gis-7f3a'] } });
    try {
      await h.start();
      const snapshot = await h.snapshots.latestUntil(() => true, 'the first snapshot');
      assert.deepEqual(servicesOf(snapshot), ['iserver', 'phpmyadmin', 'syslog']);
      assert.ok(
        h.api.requests
          .filter((r) => r.target === 'services' || r.target === 'endpointslices')
          .every((r) => r.namespace === 'supermap-gis-7f3a'),
      );
      h.api.create('services', newService('elsewhere', 'supermap', 30998));
      h.api.create('services', newService('here', 'supermap-gis-7f3a', 30997));
      const next = await h.snapshots.latestUntil(hasService('here'), 'the namespaced change');
      assert.ok(!hasService('elsewhere')(next));
    } finally {
      await h.close();
    }
  });

  it('closes every watch on stop', { timeout: TEST_TIMEOUT }, async () => {
    const h = await harness();
    try {
      await h.start();
      await h.snapshots.latestUntil(() => true, 'the first snapshot');
      // nodes, services, endpointslices, and the optional namespaces and pods.
      assert.equal(h.api.openWatches(), 5);
      await h.source.stop();
      await h.api.whenNoWatches();
      assert.equal(h.api.openWatches(), 0);
    } finally {
      await h.close();
    }
  });

  it('selectSource finds the cluster through KUBECONFIG, and says when there is none', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    const api = await KubeApiServer.start();
    seedCluster(api);
    const path = await api.writeKubeconfig();
    const settings = (mode: 'kubernetes') => ({
      discovery: { mode, kubernetes: { debounceMs: 10, relistIntervalMs: 0 } },
      nodes: [],
      embeddedDefault: true,
    });
    const source = selectSource(settings('kubernetes'), {
      logger: silentLogger,
      environment: { env: { KUBECONFIG: path }, fileExists: (p) => p === path },
    });
    const snapshots = new Recorder<DiscoverySnapshot>();
    try {
      await source.start(snapshots.push);
      const snapshot = await snapshots.latestUntil(() => true, 'the first snapshot');
      assert.equal(snapshot.nodes.length, 3);
    } finally {
      await source.stop();
      await api.close();
    }
    assert.throws(
      () =>
        selectSource(settings('kubernetes'), {
          logger: silentLogger,
          environment: { env: {}, fileExists: () => false },
        }),
      { code: 'KUBECONFIG_NOT_FOUND' },
    );
  });
});
