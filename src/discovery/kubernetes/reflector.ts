/**
 * One resource kept in sync with list+watch: client-node's informer (makeInformer) plus
 * what 1.4.0's informer leaves to its caller.
 *
 * How client-node 1.4.0's ListWatch behaves (dist/cache.js, dist/watch.js):
 * - start() lists (when it has no resourceVersion), then opens
 *   `GET path?watch=true&resourceVersion=N` (no allowWatchBookmarks), and resolves once
 *   the watch's response headers arrive or the attempt failed.
 * - A watch that ends cleanly is reopened at once from the last resourceVersion.
 * - 410 Gone, as an ERROR event or as an HTTP status, clears the resourceVersion so
 *   the next round relists: the informer handles it.
 * - Any other failure (list error, HTTP error on the watch, a cut stream) calls the
 *   'error' callbacks and the informer STOPS. Restarting it, with backoff, is ours.
 * - stop() aborts the watch, which fires 'error' with an AbortError; a list or watch
 *   request still in flight when stop() runs is not aborted by it.
 *
 * So each (re)start runs in a generation that owns its requests: list calls carry an
 * AbortSignal, and the watch's HTTP agents are tracked and destroyed when the
 * generation ends, so nothing from an old generation lingers or reports back.
 */
import type { Agent } from 'node:http';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import type { KubernetesListObject, KubernetesObject } from '../../vendor/kubernetes-client.js';
import { KubeConfig, makeInformer } from '../../vendor/kubernetes-client.js';
import {
  degradedMessage,
  describeApiError,
  permissionMessage,
  type ResourceRef,
} from './errors.js';
import { backoffDelay, type KubernetesDiscoveryOptions } from './options.js';

export interface ReflectorSpec {
  readonly ref: ResourceRef;
  /** The collection path the informer watches, e.g. `/api/v1/nodes`. */
  readonly path: string;
  /** Lists the collection; the signal aborts the request. */
  readonly list: (signal: AbortSignal) => Promise<KubernetesListObject<KubernetesObject>>;
  /**
   * Set for an optional read (pods, namespaces): what is not detected without it. Its
   * 403 is one warning saying so, not an error, and its health is not the source's.
   */
  readonly degraded?: string;
}

export interface ReflectorDeps {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options: Pick<
    KubernetesDiscoveryOptions,
    'backoffInitialMs' | 'backoffMaxMs' | 'requestTimeoutMs'
  >;
  /** Aborted when the whole source stops: ends every wait. */
  readonly signal: AbortSignal;
  /** The object set changed. */
  readonly onObjects: () => void;
  /** synced, healthy or settled changed. */
  readonly onHealth: () => void;
}

interface Generation {
  readonly id: number;
  readonly informer: ReturnType<typeof makeInformer<KubernetesObject>>;
  readonly abort: AbortController;
  readonly destroyAgents: () => void;
  errors: number;
  retrying: boolean;
}

const SUPERSEDED = 'superseded by a newer list+watch';

/** Errors thrown by our list function, so a failure names the verb `list`, not `watch`. */
const listErrors = new WeakSet<object>();

function objectKey(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/**
 * A KubeConfig whose watch requests use agents we can destroy: the Watch class gives no
 * other way to abort a request that is still connecting.
 */
function trackedKubeConfig(kc: KubeConfig): { config: KubeConfig; destroy: () => void } {
  const agents = new Set<Agent>();
  let destroyed = false;
  const config = Object.create(kc) as KubeConfig;
  config.applyToFetchOptions = async (opts) => {
    const init = await KubeConfig.prototype.applyToFetchOptions.call(kc, opts);
    const agent = (init as { agent?: unknown }).agent as Agent | undefined;
    if (agent && typeof agent.destroy === 'function') {
      // An informer runs one watch at a time: a new request means the last one is over.
      for (const previous of agents) previous.destroy();
      agents.clear();
      if (destroyed) agent.destroy();
      else agents.add(agent);
    }
    return init;
  };
  return {
    config,
    destroy: () => {
      destroyed = true;
      for (const agent of agents) agent.destroy();
      agents.clear();
    },
  };
}

export class Reflector {
  readonly #spec: ReflectorSpec;
  readonly #deps: ReflectorDeps;
  #objects = new Map<string, KubernetesObject>();
  #generation: Generation | undefined;
  #nextId = 0;
  #synced = false;
  #healthy = false;
  #settled = false;
  #failures = 0;
  #permissionLogged = false;
  #failureLogged = false;
  /** A dropped watch is being reconnected once before the resource counts as down. */
  #reconnecting = false;
  #stopped = false;

  constructor(spec: ReflectorSpec, deps: ReflectorDeps) {
    this.#spec = spec;
    this.#deps = deps;
  }

  get ref(): ResourceRef {
    return this.#spec.ref;
  }

  /** The objects as of the last successful list plus every event since. */
  get objects(): Iterable<KubernetesObject> {
    return this.#objects.values();
  }

  /** At least one list succeeded: `objects` means something. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The last list or watch succeeded and no error came since. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** An optional read: its failures do not make the source down. */
  get optional(): boolean {
    return this.#spec.degraded !== undefined;
  }

  /** The first attempt has finished, well or not. */
  get settled(): boolean {
    return this.#settled;
  }

  start(): void {
    this.#begin();
  }

  /** Lists from scratch with a fresh informer; the current objects stay until it lists. */
  relist(): void {
    if (this.#stopped) return;
    this.#begin();
  }

  stop(): void {
    this.#stopped = true;
    this.#end();
  }

  #end(): void {
    const generation = this.#generation;
    this.#generation = undefined;
    if (!generation) return;
    generation.abort.abort();
    void generation.informer.stop();
    generation.destroyAgents();
  }

  #begin(): void {
    this.#end();
    const id = ++this.#nextId;
    const abort = new AbortController();
    const tracked = trackedKubeConfig(this.#deps.kubeConfig);
    const informer = makeInformer<KubernetesObject>(tracked.config, this.#spec.path, () =>
      this.#list(id, abort.signal),
    );
    const generation: Generation = {
      id,
      informer,
      abort,
      destroyAgents: tracked.destroy,
      errors: 0,
      retrying: false,
    };
    const current = () => this.#generation?.id === id;
    const upsert = (obj: KubernetesObject) => {
      if (!current()) return;
      this.#objects.set(objectKey(obj), obj);
      this.#deps.onObjects();
    };
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', (obj: KubernetesObject) => {
      if (!current()) return;
      if (this.#objects.delete(objectKey(obj))) this.#deps.onObjects();
    });
    informer.on('error', (error: unknown) => {
      if (current()) this.#fail(generation, error);
    });
    this.#generation = generation;
    void this.#attempt(generation);
  }

  async #list(id: number, signal: AbortSignal): Promise<KubernetesListObject<KubernetesObject>> {
    const done = new AbortController();
    const timeout = new AbortController();
    void this.#deps.clock.sleep(this.#deps.options.requestTimeoutMs, done.signal).then(() => {
      if (!done.signal.aborted) timeout.abort();
    });
    let list: KubernetesListObject<KubernetesObject>;
    try {
      list = await this.#spec.list(AbortSignal.any([signal, timeout.signal]));
    } catch (error) {
      if (error && typeof error === 'object') listErrors.add(error);
      throw error;
    } finally {
      done.abort();
    }
    if (this.#generation?.id !== id) {
      // The informer would go on to open a watch nobody listens to.
      throw new Error(SUPERSEDED);
    }
    this.#objects = new Map((list.items ?? []).map((obj) => [objectKey(obj), obj]));
    this.#synced = true;
    this.#deps.onObjects();
    return list;
  }

  async #attempt(generation: Generation): Promise<void> {
    const errorsBefore = generation.errors;
    try {
      await generation.informer.start();
    } catch (error) {
      // 1.4.0 reports failures through 'error'; a throw (no current cluster) lands here.
      if (this.#generation === generation) this.#fail(generation, error);
      return;
    }
    if (this.#generation !== generation || generation.errors !== errorsBefore) return;
    this.#recovered();
  }

  #recovered(): void {
    const wasFailing = this.#failures > 0;
    this.#failures = 0;
    this.#reconnecting = false;
    this.#permissionLogged = false;
    this.#failureLogged = false;
    const changed = !this.#healthy || !this.#settled;
    this.#healthy = true;
    this.#settled = true;
    if (wasFailing) {
      this.#deps.logger.info('Kubernetes discovery: in sync again', this.#fields());
    }
    if (changed) this.#deps.onHealth();
  }

  #fields(): Record<string, unknown> {
    const { resource, group, namespace } = this.#spec.ref;
    return { resource, apiGroup: group, ...(namespace && { namespace }) };
  }

  #fail(generation: Generation, error: unknown): void {
    if (this.#stopped) return;
    generation.errors += 1;
    const failure = describeApiError(error);
    const verb = error && typeof error === 'object' && listErrors.has(error) ? 'list' : 'watch';
    if (
      this.#healthy &&
      !this.#reconnecting &&
      verb === 'watch' &&
      failure.kind === 'unreachable'
    ) {
      // A healthy watch whose connection dropped (a proxy's idle timeout, an API server
      // restart): reconnect from the last resourceVersion at once, still counted as up.
      // Only if that fails too is the resource down.
      this.#reconnecting = true;
      this.#deps.logger.info('Kubernetes discovery: watch connection lost; reconnecting', {
        ...this.#fields(),
        error: failure.message,
      });
      this.#retry(generation, 0);
      return;
    }
    this.#failures += 1;
    this.#healthy = false;
    this.#settled = true;
    const delayMs = backoffDelay(this.#failures, this.#deps.options);
    const fields = {
      ...this.#fields(),
      verb,
      failure: failure.kind,
      ...(failure.status !== undefined && { status: failure.status }),
      ...(failure.errorCode && { errorCode: failure.errorCode }),
      error: failure.message,
      attempt: this.#failures,
      retryInMs: delayMs,
    };
    const { degraded } = this.#spec;
    if (degraded !== undefined && failure.kind === 'forbidden') {
      if (!this.#permissionLogged) {
        this.#permissionLogged = true;
        this.#failureLogged = true;
        this.#deps.logger.warn(degradedMessage(verb, [this.#spec.ref], degraded), fields);
      } else {
        this.#deps.logger.debug('Kubernetes discovery: retry failed', fields);
      }
      this.#deps.onHealth();
      this.#retry(generation, delayMs);
      return;
    }
    const permission = permissionMessage(verb, this.#spec.ref, failure);
    if (permission && !this.#permissionLogged) {
      this.#permissionLogged = true;
      this.#failureLogged = true;
      this.#deps.logger.error(permission, fields);
    } else if (!this.#failureLogged) {
      this.#failureLogged = true;
      this.#deps.logger.warn(
        `Kubernetes discovery: cannot ${verb} ${this.#spec.ref.resource}; retrying with backoff`,
        fields,
      );
    } else {
      this.#deps.logger.debug('Kubernetes discovery: retry failed', fields);
    }
    this.#deps.onHealth();
    this.#retry(generation, delayMs);
  }

  #retry(generation: Generation, delayMs: number): void {
    if (generation.retrying) return;
    generation.retrying = true;
    void this.#deps.clock.sleep(delayMs, this.#deps.signal).then(() => {
      generation.retrying = false;
      if (this.#stopped || this.#generation !== generation) return;
      void this.#attempt(generation);
    });
  }
}
