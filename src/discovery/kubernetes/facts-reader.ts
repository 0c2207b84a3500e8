/**
 * Reads what decides the conditional catalog entries, with `get` on a few named objects
 * (no list, no watch: they change with an upgrade, not by the minute), at start and at
 * every relist:
 *
 * - DaemonSet calico-node in kube-system (manifest installs) or calico-system (the
 *   operator's), and the ConfigMap its CALICO_NETWORKING_BACKEND names (calico-config);
 * - the operator's Installation `default`, for what the DaemonSet leaves unknown;
 * - DaemonSet kube-proxy in kube-system.
 *
 * A 404 means not there (a cluster without the operator answers 404 for the whole
 * resource too); a 403 is one warning per spell of refusals, naming every refused
 * object; any other failure keeps the facts of the last good round. What is not found
 * stays unknown, never "off": a cluster may run Calico or kube-proxy some other way.
 */
import type { ClusterFactName, ClusterFacts } from '../../catalog/conditions.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import {
  AppsV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from '../../vendor/kubernetes-client.js';
import { type ApiFailure, degradedMessage, describeApiError, type ResourceRef } from './errors.js';
import {
  type ConfigMapObject,
  type ConfigMapRef,
  calicoFromDaemonSet,
  calicoFromInstallation,
  type DaemonSetObject,
  type InstallationObject,
} from './network.js';

/** Where Calico's manifests and its operator put calico-node. */
export const CALICO_NODE_NAMESPACES = ['kube-system', 'calico-system'] as const;

type Got<T> =
  | { readonly found: T }
  | { readonly missing: true }
  | { readonly forbidden: ResourceRef }
  | { readonly failed: ApiFailure; readonly ref: ResourceRef };

export interface FactsReaderDeps {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly requestTimeoutMs: number;
  /** Aborted when the source stops. */
  readonly signal: AbortSignal;
  /** Makes one call abortable (source.ts withSignal). */
  readonly withSignal: (signal: AbortSignal) => ConfigurationOptions;
}

const LOSS =
  "Calico's mode and kube-proxy are not detected, so 179, 4789/udp, IP-in-IP and 10256 " +
  "are judged as documented or optional; the config file's cluster: section can say them";

export class FactsReader {
  readonly #deps: FactsReaderDeps;
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  #forbiddenLogged = false;
  #failureLogged = false;
  #notFoundLogged = false;

  constructor(deps: FactsReaderDeps) {
    this.#deps = deps;
    this.#apps = deps.kubeConfig.makeApiClient(AppsV1Api);
    this.#core = deps.kubeConfig.makeApiClient(CoreV1Api);
    this.#custom = deps.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** One round: the facts found, or undefined when a failure (not 403/404) spoilt it. */
  async read(): Promise<ClusterFacts | undefined> {
    const [kubeSystem, calicoSystem, installation, kubeProxy] = await Promise.all([
      this.#daemonSet('kube-system', 'calico-node'),
      this.#daemonSet('calico-system', 'calico-node'),
      this.#get<InstallationObject>(
        { resource: 'installations', group: 'operator.tigera.io', name: 'default' },
        (options) =>
          this.#custom.getClusterCustomObject(
            {
              group: 'operator.tigera.io',
              version: 'v1',
              plural: 'installations',
              name: 'default',
            },
            options,
          ),
      ),
      this.#daemonSet('kube-system', 'kube-proxy'),
    ]);
    const results: Got<unknown>[] = [kubeSystem, calicoSystem, installation, kubeProxy];
    const facts: Mutable<ClusterFacts> = {};
    const sources: Partial<Record<ClusterFactName, string>> = {};
    const found = (
      name: ClusterFactName,
      value: ClusterFacts[ClusterFactName] | undefined,
      from: string,
    ) => {
      if (value === undefined || facts[name] !== undefined) return;
      (facts as Record<string, unknown>)[name] = value;
      sources[name] = from;
    };
    const calicoNode = 'found' in kubeSystem ? kubeSystem : calicoSystem;
    if ('found' in calicoNode) {
      const ds = calicoNode.found;
      const namespace = ds.metadata?.namespace ?? 'kube-system';
      const values = new Map<string, string>();
      const first = calicoFromDaemonSet(ds);
      for (const ref of first.configMapRefs) {
        const got = await this.#configMap(namespace, ref);
        results.push(got);
        const value = 'found' in got ? got.found.data?.[ref.key] : undefined;
        if (value !== undefined) values.set(`${ref.name}/${ref.key}`, value);
      }
      const reading = calicoFromDaemonSet(ds, (ref) => values.get(`${ref.name}/${ref.key}`));
      const from = `DaemonSet ${namespace}/calico-node`;
      found('calicoBackend', reading.facts.calicoBackend, from);
      found('calicoEncapsulation', reading.facts.calicoEncapsulation, from);
    }
    if ('found' in installation) {
      const reading = calicoFromInstallation(installation.found);
      found('calicoBackend', reading.calicoBackend, 'Installation default');
      found('calicoEncapsulation', reading.calicoEncapsulation, 'Installation default');
    }
    if ('found' in kubeProxy) found('kubeProxy', true, 'DaemonSet kube-system/kube-proxy');
    this.#report(results, facts);
    if (results.some((r) => 'failed' in r)) return undefined;
    return Object.keys(sources).length === 0 ? {} : { ...facts, sources };
  }

  #report(results: readonly Got<unknown>[], facts: ClusterFacts): void {
    const forbidden = results.flatMap((r) => ('forbidden' in r ? [r.forbidden] : []));
    if (forbidden.length > 0 && !this.#forbiddenLogged) {
      this.#forbiddenLogged = true;
      this.#deps.logger.warn(degradedMessage('get', forbidden, LOSS), {
        refused: forbidden.map((ref) => `${ref.resource}${ref.name ? `/${ref.name}` : ''}`),
      });
    } else if (forbidden.length === 0) {
      this.#forbiddenLogged = false;
    }
    const failed = results.flatMap((r) => ('failed' in r ? [r] : []));
    if (failed.length > 0 && !this.#failureLogged) {
      this.#failureLogged = true;
      this.#deps.logger.warn(
        'Kubernetes discovery: cannot read Calico and kube-proxy; keeping the last facts, retrying at the next relist',
        { error: failed[0]?.failed.message, resource: failed[0]?.ref.resource },
      );
    } else if (failed.length === 0) {
      this.#failureLogged = false;
    }
    if (forbidden.length === 0 && failed.length === 0 && facts.calicoBackend === undefined) {
      if (!this.#notFoundLogged) {
        this.#notFoundLogged = true;
        this.#deps.logger.info(
          "Kubernetes discovery: no calico-node DaemonSet (kube-system, calico-system) and no operator Installation: Calico's mode is unknown",
        );
      }
    }
  }

  #daemonSet(namespace: string, name: string): Promise<Got<DaemonSetObject>> {
    return this.#get({ resource: 'daemonsets', group: 'apps', namespace, name }, (options) =>
      this.#apps.readNamespacedDaemonSet({ name, namespace }, options),
    );
  }

  #configMap(namespace: string, ref: ConfigMapRef): Promise<Got<ConfigMapObject>> {
    return this.#get({ resource: 'configmaps', group: '', namespace, name: ref.name }, (options) =>
      this.#core.readNamespacedConfigMap({ name: ref.name, namespace }, options),
    );
  }

  /** One get, bounded by the request timeout and the source's stop. */
  async #get<T>(
    ref: ResourceRef,
    call: (options: ConfigurationOptions) => Promise<unknown>,
  ): Promise<Got<T>> {
    const done = new AbortController();
    const timeout = new AbortController();
    void this.#deps.clock.sleep(this.#deps.requestTimeoutMs, done.signal).then(() => {
      if (!done.signal.aborted) timeout.abort();
    });
    try {
      const found = (await call(
        this.#deps.withSignal(AbortSignal.any([this.#deps.signal, timeout.signal])),
      )) as T;
      return { found };
    } catch (error) {
      const failure = describeApiError(error);
      if (failure.status === 404) return { missing: true };
      if (failure.kind === 'forbidden') return { forbidden: ref };
      return { failed: failure, ref };
    } finally {
      done.abort();
    }
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
