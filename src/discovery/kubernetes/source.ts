/**
 * Kubernetes discovery: every node and every NodePort of the cluster, kept current
 * with list+watch, handed on as whole snapshots.
 *
 * Permissions. The exporter only reads, and needs exactly this (a ClusterRole bound to
 * its service account; with `namespaces` set, services and endpointslices may instead
 * be granted by a Role in each of those namespaces, but nodes are cluster-scoped):
 *
 * ```yaml
 * rules:
 *   - apiGroups: [""]
 *     resources: ["nodes", "services"]
 *     verbs: ["get", "list", "watch"]
 *   - apiGroups: ["discovery.k8s.io"]
 *     resources: ["endpointslices"]
 *     verbs: ["get", "list", "watch"]
 *   - nonResourceURLs: ["/version", "/version/"]
 *     verbs: ["get"]
 * ```
 *
 * and, for the optional reads (`detect`), each a warning when refused and nothing worse:
 * list and watch on `pods` (roles from pods) and `namespaces` (iManager's marks on
 * namespaces); get on daemonsets `calico-node` and `kube-proxy` (API group apps) in
 * kube-system and calico-system, configmap `calico-config` in kube-system, and
 * installations `default` (operator.tigera.io) for Calico's mode and kube-proxy.
 *
 * client-node requests `/version/` with the slash, and RBAC matches non-resource URLs
 * exactly, so both are listed; the default `system:public-info-viewer` role already
 * grants both to everyone. A missing grant is logged once, naming the verb and
 * resource, and retried with backoff, so fixing RBAC needs no restart.
 */
import { type ClusterFacts, withConfiguredFacts } from '../../catalog/conditions.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { type Logger, silentLogger } from '../../util/log.js';
import {
  type ConfigurationOptions,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  Observable,
  type RequestContext,
  type ResponseContext,
  VersionApi,
} from '../../vendor/kubernetes-client.js';
import type { DiscoverySnapshot, Source, SourceStatus } from '../types.js';
import { describeApiError, permissionMessage } from './errors.js';
import { FactsReader } from './facts-reader.js';
import { clusterFromObjects, parseVersion, type SkipReporter } from './objects.js';
import {
  backoffDelay,
  type Detection,
  type KubernetesDiscoveryOptions,
  type KubernetesDiscoveryOptionsInput,
  resolveKubernetesDiscoveryOptions,
} from './options.js';
import { Reflector, type ReflectorSpec } from './reflector.js';

export interface KubernetesSourceDeps {
  /** The cluster to talk to, already loaded (see findKubeConfig and loadKubeConfig). */
  readonly kubeConfig: KubeConfig;
  readonly logger?: Logger;
  /** Drives debounce, backoff, relist and request timeouts. Default the system clock. */
  readonly clock?: Clock;
  /** Called each time the source goes up or down, with the new status (tests wait on it). */
  readonly onStatus?: (status: SourceStatus) => void;
}

/** Per-request options that make a generated-client call abortable. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

type Lister = (signal: AbortSignal) => Promise<KubernetesListObject<KubernetesObject>>;

/**
 * The list+watch specs: nodes, and services and endpointslices in all namespaces or in
 * each configured one; then the optional reads: namespaces (cluster-scoped) and pods
 * (where the services are watched).
 */
function reflectorSpecs(
  kc: KubeConfig,
  namespaces: readonly string[],
  detect: readonly Detection[],
): ReflectorSpec[] {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const specs: ReflectorSpec[] = [
    {
      ref: { resource: 'nodes', group: '' },
      path: '/api/v1/nodes',
      list: ((signal) => core.listNode({}, withSignal(signal))) as Lister,
    },
  ];
  if (namespaces.length === 0) {
    specs.push(
      {
        ref: { resource: 'services', group: '' },
        path: '/api/v1/services',
        list: ((signal) => core.listServiceForAllNamespaces({}, withSignal(signal))) as Lister,
      },
      {
        ref: { resource: 'endpointslices', group: 'discovery.k8s.io' },
        path: '/apis/discovery.k8s.io/v1/endpointslices',
        list: ((signal) =>
          discovery.listEndpointSliceForAllNamespaces({}, withSignal(signal))) as Lister,
      },
    );
  }
  for (const namespace of namespaces) {
    const ns = encodeURIComponent(namespace);
    specs.push(
      {
        ref: { resource: 'services', group: '', namespace },
        path: `/api/v1/namespaces/${ns}/services`,
        list: ((signal) => core.listNamespacedService({ namespace }, withSignal(signal))) as Lister,
      },
      {
        ref: { resource: 'endpointslices', group: 'discovery.k8s.io', namespace },
        path: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        list: ((signal) =>
          discovery.listNamespacedEndpointSlice({ namespace }, withSignal(signal))) as Lister,
      },
    );
  }
  if (detect.includes('namespaces')) {
    specs.push({
      ref: { resource: 'namespaces', group: '' },
      path: '/api/v1/namespaces',
      list: ((signal) => core.listNamespace({}, withSignal(signal))) as Lister,
      degraded: "iManager's marks on namespaces are not seen, only those on Services",
    });
  }
  if (detect.includes('pods')) {
    const degraded =
      'roles from pods (license center, image registry, Calico Typha, NFS server) are not detected';
    if (namespaces.length === 0) {
      specs.push({
        ref: { resource: 'pods', group: '' },
        path: '/api/v1/pods',
        list: ((signal) => core.listPodForAllNamespaces({}, withSignal(signal))) as Lister,
        degraded,
      });
    }
    for (const namespace of namespaces) {
      specs.push({
        ref: { resource: 'pods', group: '', namespace },
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
        list: ((signal) => core.listNamespacedPod({ namespace }, withSignal(signal))) as Lister,
        degraded,
      });
    }
  }
  return specs;
}

/**
 * Watches nodes, Services and EndpointSlices and calls `onChange` with a whole snapshot
 * after each change (debounced after the first, and only when it differs from the last: node
 * heartbeats change nothing here). The first snapshot waits until nodes are listed and
 * every other list has succeeded or failed once. A failure keeps the last snapshot;
 * `status().up` says whether every list+watch is healthy.
 */
export class KubernetesSource implements Source {
  readonly name = 'kubernetes';
  readonly #options: KubernetesDiscoveryOptions;
  readonly #kubeConfig: KubeConfig;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #onStatus: ((status: SourceStatus) => void) | undefined;
  readonly #abort = new AbortController();
  readonly #skipsLogged = new Set<string>();
  #reflectors: Reflector[] = [];
  #onChange: ((snapshot: DiscoverySnapshot) => void) | undefined;
  #snapshot: DiscoverySnapshot | undefined;
  #snapshotKey = '';
  #version: string | undefined;
  #versionSettled = false;
  #versionFetching = false;
  /** Cuts the /version retry wait short, when the lists show the API server is back. */
  #versionWake: AbortController | undefined;
  #facts: ClusterFacts = {};
  #factsSettled = false;
  #factsReading = false;
  #factsStale = false;
  #factsReader: FactsReader | undefined;
  #debouncing = false;
  /** What status() returns: changed only when the source syncs or fails, never by reading it. */
  #status: SourceStatus = { source: this.name, up: false };
  #started = false;

  constructor(options: KubernetesDiscoveryOptionsInput, deps: KubernetesSourceDeps) {
    this.#options = resolveKubernetesDiscoveryOptions(options);
    this.#kubeConfig = deps.kubeConfig;
    this.#logger = (deps.logger ?? silentLogger).child({ source: 'kubernetes' });
    this.#clock = deps.clock ?? systemClock;
    this.#onStatus = deps.onStatus;
  }

  /** The options in force, defaults filled in. */
  get options(): KubernetesDiscoveryOptions {
    return this.#options;
  }

  /**
   * Starts list+watch in the background and resolves at once: an unreachable API server
   * must not hold up the exporter. The first snapshot arrives through `onChange`.
   */
  async start(onChange: (snapshot: DiscoverySnapshot) => void): Promise<void> {
    if (this.#started) throw new Error('KubernetesSource started twice');
    this.#started = true;
    this.#onChange = onChange;
    const deps = {
      kubeConfig: this.#kubeConfig,
      clock: this.#clock,
      logger: this.#logger,
      options: this.#options,
      signal: this.#abort.signal,
      onObjects: () => {
        this.#noteSync();
        this.#changed();
      },
      onHealth: () => this.#healthChanged(),
    };
    this.#reflectors = reflectorSpecs(
      this.#kubeConfig,
      this.#options.namespaces,
      this.#options.detect,
    ).map((spec) => new Reflector(spec, deps));
    if (this.#options.detect.includes('network')) {
      this.#factsReader = new FactsReader({
        kubeConfig: this.#kubeConfig,
        clock: this.#clock,
        logger: this.#logger,
        requestTimeoutMs: this.#options.requestTimeoutMs,
        signal: this.#abort.signal,
        withSignal,
      });
    } else {
      this.#factsSettled = true;
    }
    this.#logger.info('Kubernetes discovery starting', {
      server: this.#kubeConfig.getCurrentCluster()?.server,
      namespaces: this.#options.namespaces.length > 0 ? this.#options.namespaces : 'all',
    });
    for (const reflector of this.#reflectors) reflector.start();
    void this.#fetchVersion();
    void this.#readFacts();
    void this.#relistPeriodically();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    for (const reflector of this.#reflectors) reflector.stop();
    this.#onChange = undefined;
  }

  /** The status as last published; reading it changes nothing. */
  status(): SourceStatus {
    return this.#status;
  }

  /**
   * While every list+watch is healthy, each list, watch event and health report is a
   * moment the source is in sync: the last success is the latest of them.
   */
  #noteSync(): void {
    if (this.#status.up) this.#publish(true);
  }

  #publish(up: boolean): void {
    this.#status = {
      source: this.name,
      up,
      lastSuccessSeconds: Math.floor(this.#clock.now() / 1000),
    };
  }

  /** The last snapshot handed out, or undefined before the first. */
  snapshot(): DiscoverySnapshot | undefined {
    return this.#snapshot;
  }

  #healthChanged(): void {
    // The optional reads (pods, namespaces) are not part of being up: they degrade, no more.
    const up =
      this.#reflectors.length > 0 && this.#reflectors.every((r) => r.optional || r.healthy);
    const wasUp = this.#status.up;
    // Going down, the last success is now: it was in sync until this report.
    if (up || wasUp) this.#publish(up);
    if (up !== wasUp) {
      if (!up && this.#snapshot) {
        this.#logger.warn('Kubernetes discovery is failing; keeping the last snapshot (stale)', {
          nodes: this.#snapshot.nodes.length,
          nodePorts: this.#snapshot.nodePorts.length,
          failing: this.#reflectors.filter((r) => !r.healthy).map((r) => r.ref.resource),
        });
      } else if (up) {
        this.#logger.info('Kubernetes discovery is in sync');
        this.#versionWake?.abort();
        if (this.#factsStale) void this.#readFacts();
      }
      this.#onStatus?.(this.status());
    }
    this.#changed();
  }

  #changed(): void {
    if (this.#abort.signal.aborted) return;
    // The first snapshot is whole once every first list is in: nothing to coalesce, and
    // a one-shot (check) or a first probing cycle would only wait the debounce out.
    if (!this.#snapshot && this.#ready()) {
      this.#emit();
      return;
    }
    if (this.#debouncing) return;
    this.#debouncing = true;
    void this.#clock.sleep(this.#options.debounceMs, this.#abort.signal).then(() => {
      this.#debouncing = false;
      this.#emit();
    });
  }

  #ready(): boolean {
    const [nodes] = this.#reflectors;
    if (!nodes?.synced) return false;
    // The first snapshot waits for every first attempt, so it is whole, not nodes alone.
    if (this.#snapshot) return true;
    return this.#versionSettled && this.#factsSettled && this.#reflectors.every((r) => r.settled);
  }

  #emit(): void {
    if (this.#abort.signal.aborted || !this.#ready()) return;
    const [nodes, ...rest] = this.#reflectors;
    if (!nodes) return;
    const objectsOf = (resource: string) =>
      rest.filter((r) => r.ref.resource === resource).flatMap((r) => [...r.objects]);
    const cluster = clusterFromObjects(
      {
        nodes: nodes.objects,
        services: objectsOf('services'),
        endpointSlices: objectsOf('endpointslices'),
        namespaces: objectsOf('namespaces'),
        pods: objectsOf('pods'),
      },
      { ...this.#options, onSkip: this.#onSkip },
    );
    const facts = withConfiguredFacts(this.#facts, this.#options.facts);
    const snapshot: DiscoverySnapshot = {
      ...cluster,
      ...(this.#version !== undefined && { kubernetesVersion: this.#version }),
      ...(Object.keys(facts).length > 0 && { facts }),
    };
    const key = JSON.stringify(snapshot);
    if (key === this.#snapshotKey) return;
    this.#snapshotKey = key;
    this.#snapshot = snapshot;
    this.#logger.debug('Kubernetes discovery snapshot', {
      nodes: snapshot.nodes.length,
      nodePorts: snapshot.nodePorts.length,
      kubernetesVersion: snapshot.kubernetesVersion,
    });
    try {
      this.#onChange?.(snapshot);
    } catch (error) {
      this.#logger.error('Kubernetes discovery: the snapshot consumer threw', { error });
    }
  }

  // Malformed objects are skipped at every snapshot; say so once per object and reason.
  readonly #onSkip: SkipReporter = (reason, fields) => {
    const key = `${reason} ${JSON.stringify(fields)}`;
    if (this.#skipsLogged.has(key)) return;
    if (this.#skipsLogged.size >= 1000) this.#skipsLogged.clear();
    this.#skipsLogged.add(key);
    this.#logger.debug(`Kubernetes discovery: skipped ${reason}`, fields);
  };

  /** GET /version until it answers; the minor version decides the legacy ports. */
  async #fetchVersion(): Promise<void> {
    if (this.#versionFetching) return;
    this.#versionFetching = true;
    const api = this.#kubeConfig.makeApiClient(VersionApi);
    let permissionLogged = false;
    try {
      for (let failures = 1; !this.#abort.signal.aborted; failures++) {
        const done = new AbortController();
        const timeout = new AbortController();
        void this.#clock.sleep(this.#options.requestTimeoutMs, done.signal).then(() => {
          if (!done.signal.aborted) timeout.abort();
        });
        try {
          const info = await api.getCode(
            {},
            withSignal(AbortSignal.any([this.#abort.signal, timeout.signal])),
          );
          const version = parseVersion(info);
          if (version === undefined) {
            this.#logger.warn('Kubernetes discovery: /version has no version number', {
              body: info,
            });
          }
          this.#versionSettled = true;
          if (version !== this.#version) {
            this.#version = version;
            this.#logger.info('Kubernetes version', { kubernetesVersion: version });
          }
          this.#changed();
          return;
        } catch (error) {
          if (this.#abort.signal.aborted) return;
          const failure = describeApiError(error);
          const delayMs = backoffDelay(failures, this.#options);
          const ref = { resource: '/version', group: '' };
          const permission = permissionMessage('get', ref, failure);
          const fields = { verb: 'get', nonResourceURL: '/version', error: failure.message };
          if (permission && !permissionLogged) {
            permissionLogged = true;
            this.#logger.error(permission, fields);
          } else if (failures === 1) {
            this.#logger.warn('Kubernetes discovery: cannot get /version; retrying', fields);
          }
          // Legacy ports stay unjudged ('any') until the version is known.
          this.#versionSettled = true;
          this.#changed();
          this.#versionWake = new AbortController();
          await this.#clock.sleep(
            delayMs,
            AbortSignal.any([this.#abort.signal, this.#versionWake.signal]),
          );
          this.#versionWake = undefined;
        } finally {
          done.abort();
        }
      }
    } finally {
      this.#versionFetching = false;
    }
  }

  /** One round of the facts reader; a round spoilt by a failure keeps the last facts. */
  async #readFacts(): Promise<void> {
    const reader = this.#factsReader;
    if (!reader || this.#factsReading) return;
    this.#factsReading = true;
    try {
      const facts = await reader.read();
      if (this.#abort.signal.aborted) return;
      this.#factsStale = facts === undefined;
      if (facts) this.#facts = facts;
      this.#factsSettled = true;
      this.#changed();
    } finally {
      this.#factsReading = false;
    }
  }

  /** A watch can stall without an error; a full relist now and then catches up. */
  async #relistPeriodically(): Promise<void> {
    const interval = this.#options.relistIntervalMs;
    if (interval <= 0) return;
    while (!this.#abort.signal.aborted) {
      await this.#clock.sleep(interval, this.#abort.signal);
      if (this.#abort.signal.aborted) return;
      this.#logger.debug('Kubernetes discovery: periodic relist');
      for (const reflector of this.#reflectors) reflector.relist();
      void this.#fetchVersion();
      void this.#readFacts();
    }
  }
}
