/**
 * An in-process Kubernetes API server for tests: the part of the real wire protocol
 * that @kubernetes/client-node 1.4 uses for list+watch informers, on 127.0.0.1.
 *
 * - GET /version (and /version/, which client-node requests).
 * - GET /api/v1/nodes, /api/v1/namespaces, /api/v1/services, /api/v1/pods (and the
 *   namespaced /api/v1/namespaces/NS/services and .../pods),
 *   /apis/discovery.k8s.io/v1/endpointslices and .../namespaces/NS/endpointslices:
 *   a list (`kind: XList`, `metadata.resourceVersion`, items without kind/apiVersion, as
 *   the real server sends them).
 * - GET of one object by name: /apis/apps/v1/namespaces/NS/daemonsets/NAME,
 *   /api/v1/namespaces/NS/configmaps/NAME, /apis/operator.tigera.io/v1/installations/NAME
 *   (and any listed resource): the object with kind and apiVersion, or 404 NotFound with
 *   the real server's Status (`daemonsets.apps "x" not found`).
 * - The same paths with `?watch=true&resourceVersion=N`: newline-delimited JSON events
 *   `{type, object}` for every change after N, then live ones. An empty or "0"
 *   resourceVersion starts with synthetic ADDED events for every object. BOOKMARK only
 *   to watches that asked with `allowWatchBookmarks=true` (client-node 1.4 does not).
 * - A resourceVersion older than the last compaction is 410 Gone: by default, as the
 *   real server does it, HTTP 200 with an ERROR event carrying a Status of code 410,
 *   then the end of the stream; with `goneMode: 'http'`, an HTTP 410 Status response.
 * - Faults: injected HTTP errors (500, 403 with the real RBAC message for the verb,
 *   resource, group, name and scope asked, 401), latency,
 *   watches cut (socket destroyed), ended cleanly, or expired with an ERROR 410 event,
 *   and the whole server down and up again on the same port.
 *
 * Tests reach it through a real kubeconfig file (`writeKubeconfig`), so the exporter
 * runs its production path: KubeConfig.loadFromFile, makeApiClient, makeInformer.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KubeResource =
  | 'nodes'
  | 'namespaces'
  | 'services'
  | 'endpointslices'
  | 'pods'
  | 'daemonsets'
  | 'configmaps'
  | 'installations';
export type KubeVerb = 'get' | 'list' | 'watch';
/** What a request asked for: a resource, or the non-resource URL /version. */
export type RequestTarget = KubeResource | 'version';

interface ResourceInfo {
  readonly kind: string;
  readonly listKind: string;
  readonly apiVersion: string;
  readonly group: string;
  readonly namespaced: boolean;
  /** The collection path: `/api/v1`, `/apis/apps/v1`... */
  readonly base: string;
}

function core(kind: string, namespaced: boolean): ResourceInfo {
  return {
    kind,
    listKind: `${kind}List`,
    apiVersion: 'v1',
    group: '',
    namespaced,
    base: '/api/v1',
  };
}

function grouped(kind: string, group: string, version: string, namespaced: boolean): ResourceInfo {
  return {
    kind,
    listKind: `${kind}List`,
    apiVersion: `${group}/${version}`,
    group,
    namespaced,
    base: `/apis/${group}/${version}`,
  };
}

const RESOURCES: Readonly<Record<KubeResource, ResourceInfo>> = {
  nodes: core('Node', false),
  namespaces: core('Namespace', false),
  services: core('Service', true),
  pods: core('Pod', true),
  configmaps: core('ConfigMap', true),
  endpointslices: grouped('EndpointSlice', 'discovery.k8s.io', 'v1', true),
  daemonsets: grouped('DaemonSet', 'apps', 'v1', true),
  installations: grouped('Installation', 'operator.tigera.io', 'v1', false),
};

const RESOURCE_NAMES = Object.keys(RESOURCES) as KubeResource[];

/** An object as the store holds it: JSON-shaped, with metadata. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly target?: RequestTarget;
  readonly namespace?: string;
  /** The object's name, for a get of one object. */
  readonly name?: string;
  readonly verb: KubeVerb;
  /** The status line sent; 200 for watches, whatever happens in the stream. */
  status: number;
}

export interface Fault {
  readonly status: number;
  readonly target?: RequestTarget;
  readonly verb?: KubeVerb;
  /** How many requests fail; default every one until the fault is lifted. */
  readonly times?: number;
  /** The Status message; a sensible one for the code by default. */
  readonly message?: string;
}

export interface KubeApiServerOptions {
  /** What GET /version answers. Default Kubernetes v1.25.6. */
  readonly version?: {
    readonly major: string;
    readonly minor: string;
    readonly gitVersion: string;
  };
  /** How a too-old resourceVersion on a watch is refused. Default 'event'. */
  readonly goneMode?: 'event' | 'http';
  /** The bearer token the kubeconfig carries and the server requires. */
  readonly token?: string;
}

export interface MutationOptions {
  /**
   * Change the store without recording or sending an event, as if the event had been
   * lost: only a relist shows the change.
   */
  readonly silent?: boolean;
}

interface Watcher {
  readonly resource: KubeResource;
  readonly namespace?: string;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
  readonly socket: Socket;
}

interface HistoryEvent {
  readonly rv: number;
  readonly resource: KubeResource;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
}

interface Waiter {
  readonly predicate: (request: RecordedRequest) => boolean;
  readonly count: number;
  readonly resolve: () => void;
}

const SERVICE_ACCOUNT = 'system:serviceaccount:monitoring:imanager-port-exporter';

function statusBody(code: number, reason: string, message: string, details?: object) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details && { details }),
    code,
  };
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

export class KubeApiServer {
  readonly #options: Required<Omit<KubeApiServerOptions, 'version'>> &
    Pick<KubeApiServerOptions, 'version'>;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #store = new Map<KubeResource, Map<string, KubeObject>>(
    RESOURCE_NAMES.map((resource) => [resource, new Map()]),
  );
  readonly #history: HistoryEvent[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #faults: { fault: Fault; left: number }[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #noWatchWaiters = new Set<() => void>();
  #latency: { ms: number; target?: RequestTarget; verb?: KubeVerb } | undefined;
  #rv = 100;
  #compactedRv = 0;
  #port = 0;
  #acceptedToken: string;
  #tempDir: string | undefined;
  /** Every request so far, in arrival order. */
  readonly requests: RecordedRequest[] = [];

  private constructor(options: KubeApiServerOptions) {
    this.#options = { goneMode: 'event', token: 'test-token', ...options };
    this.#acceptedToken = this.#options.token;
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts a server on 127.0.0.1 at a free port. */
  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const server = new KubeApiServer(options);
    await server.up();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The resourceVersion of the latest change. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Listens again on the same port (a free one the first time). */
  up(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stops listening and drops every connection: clients now get ECONNREFUSED. */
  down(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#watchers.clear();
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  /** Shuts down for good and removes the kubeconfig directory. */
  async close(): Promise<void> {
    await this.down();
    for (const waiter of this.#waiters) this.#waiters.delete(waiter);
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
  }

  /**
   * Writes a kubeconfig pointing at this server (plain HTTP, which client-node allows
   * with `insecure-skip-tls-verify: true`) into a temporary directory; returns its path.
   */
  async writeKubeconfig(): Promise<string> {
    this.#tempDir ??= await mkdtemp(join(tmpdir(), 'kube-api-server-'));
    const path = join(this.#tempDir, 'kubeconfig');
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test-double',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: exporter',
      '  user:',
      `    token: ${this.#options.token}`,
      'contexts:',
      '- name: test-double',
      '  context:',
      '    cluster: test-double',
      '    user: exporter',
      'current-context: test-double',
      '',
    ].join('\n');
    await writeFile(path, text);
    return path;
  }

  // ---- the object store ----

  /** Adds an object (ADDED event); it gets a uid, creationTimestamp and resourceVersion. */
  create(resource: KubeResource, object: KubeObject, options: MutationOptions = {}): KubeObject {
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    const objects = this.#objects(resource);
    if (objects.has(key)) throw new Error(`${resource} ${key} already exists`);
    const stored = clone(object);
    stored.metadata.uid ??= randomUUID();
    stored.metadata.creationTimestamp ??= '2025-01-01T00:00:00Z';
    return this.#commit(resource, 'ADDED', stored, options);
  }

  /** Replaces an existing object (MODIFIED event). */
  modify(resource: KubeResource, object: KubeObject, options: MutationOptions = {}): KubeObject {
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    const previous = this.#objects(resource).get(key);
    if (!previous) throw new Error(`${resource} ${key} does not exist`);
    const stored = clone(object);
    stored.metadata.uid = previous.metadata.uid;
    stored.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    return this.#commit(resource, 'MODIFIED', stored, options);
  }

  /** Deletes an object (DELETED event carrying its last state at a new resourceVersion). */
  remove(
    resource: KubeResource,
    namespace: string | undefined,
    name: string,
    options: MutationOptions = {},
  ): void {
    const key = keyOf(namespace, name);
    const previous = this.#objects(resource).get(key);
    if (!previous) throw new Error(`${resource} ${key} does not exist`);
    this.#commit(resource, 'DELETED', clone(previous), options);
  }

  get(resource: KubeResource, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.#objects(resource).get(keyOf(namespace, name));
    return found && clone(found);
  }

  #objects(resource: KubeResource): Map<string, KubeObject> {
    const objects = this.#store.get(resource);
    if (!objects) throw new Error(`unknown resource ${resource}`);
    return objects;
  }

  #commit(
    resource: KubeResource,
    type: HistoryEvent['type'],
    object: KubeObject,
    options: MutationOptions,
  ): KubeObject {
    this.#rv += 1;
    object.metadata.resourceVersion = String(this.#rv);
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    if (type === 'DELETED') this.#objects(resource).delete(key);
    else this.#objects(resource).set(key, object);
    if (!options.silent) {
      const event: HistoryEvent = { rv: this.#rv, resource, type, object: clone(object) };
      this.#history.push(event);
      for (const watcher of this.#watchers) {
        if (this.#sees(watcher, event)) this.#send(watcher, event.type, event.object);
      }
    }
    return clone(object);
  }

  // ---- faults ----

  /** Fails matching requests with this status until the returned function is called. */
  fail(fault: Fault): () => void {
    const entry = { fault, left: fault.times ?? Number.POSITIVE_INFINITY };
    this.#faults.push(entry);
    return () => {
      const i = this.#faults.indexOf(entry);
      if (i >= 0) this.#faults.splice(i, 1);
    };
  }

  /** Refuses a verb on a resource with 403 and the RBAC message the real server sends. */
  forbid(resource: KubeResource, verb?: KubeVerb): () => void {
    return this.fail({ status: 403, target: resource, ...(verb && { verb }) });
  }

  /** From now on every request gets 401, as with an expired token; returns the undo. */
  rejectCredentials(): () => void {
    this.#acceptedToken = `not-${this.#options.token}`;
    return () => {
      this.#acceptedToken = this.#options.token;
    };
  }

  /** Delays the answer to matching requests (all, by default) by `ms`; returns the undo. */
  delay(ms: number, match: { target?: RequestTarget; verb?: KubeVerb } = {}): () => void {
    const latency = { ms, ...match };
    this.#latency = latency;
    return () => {
      if (this.#latency === latency) this.#latency = undefined;
    };
  }

  /** Forgets all history: a watch from any earlier resourceVersion is now 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history.length = 0;
  }

  /** Destroys the sockets of open watches, as a broken connection would. */
  cutWatches(resource?: KubeResource): number {
    return this.#closeWatches(resource, (w) => w.socket.destroy());
  }

  /** Ends open watches cleanly, as the real server does after its timeout. */
  endWatches(resource?: KubeResource): number {
    return this.#closeWatches(resource, (w) => w.res.end());
  }

  /** Sends ERROR 410 (Expired) on open watches, then ends them, as the real server does. */
  expireWatches(resource?: KubeResource): number {
    return this.#closeWatches(resource, (w) => {
      const status = statusBody(
        410,
        'Expired',
        `too old resource version: ${this.#compactedRv} (${this.#rv})`,
      );
      w.res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    });
  }

  /** Sends a BOOKMARK at the current resourceVersion to watches that allow bookmarks. */
  bookmark(resource?: KubeResource): number {
    let sent = 0;
    for (const watcher of this.#watchers) {
      if (!watcher.bookmarks || (resource && watcher.resource !== resource)) continue;
      const info = RESOURCES[watcher.resource];
      this.#send(watcher, 'BOOKMARK', {
        kind: info.kind,
        apiVersion: info.apiVersion,
        metadata: { resourceVersion: String(this.#rv) } as KubeObject['metadata'],
      });
      sent++;
    }
    return sent;
  }

  /** Resolves once no watch is open (the client closed them all); rejects after `timeoutMs`. */
  whenNoWatches(timeoutMs = 5_000): Promise<void> {
    if (this.#watchers.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#noWatchWaiters.delete(done);
        reject(new Error(`${this.#watchers.size} watches still open after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#noWatchWaiters.add(done);
    });
  }

  /** How many watches are open now. */
  openWatches(resource?: KubeResource): number {
    return [...this.#watchers].filter((w) => !resource || w.resource === resource).length;
  }

  #forget(watcher: Watcher): void {
    this.#watchers.delete(watcher);
    if (this.#watchers.size > 0) return;
    for (const done of this.#noWatchWaiters) done();
    this.#noWatchWaiters.clear();
  }

  #closeWatches(resource: KubeResource | undefined, close: (watcher: Watcher) => void): number {
    let closed = 0;
    for (const watcher of [...this.#watchers]) {
      if (resource && watcher.resource !== resource) continue;
      this.#forget(watcher);
      close(watcher);
      closed++;
    }
    return closed;
  }

  // ---- waiting for the client ----

  /**
   * Resolves when `count` requests matching `predicate` have arrived, counting those
   * already seen; rejects after `timeoutMs`, naming what it waited for.
   */
  waitForRequests(
    predicate: (request: RecordedRequest) => boolean,
    count = 1,
    timeoutMs = 5_000,
  ): Promise<void> {
    if (this.requests.filter(predicate).length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const seen = this.requests.filter(predicate).length;
        reject(new Error(`waited ${timeoutMs} ms for ${count} matching requests, saw ${seen}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Requests so far for this target and verb. */
  count(target: RequestTarget, verb?: KubeVerb): number {
    return this.requests.filter((r) => r.target === target && (!verb || r.verb === verb)).length;
  }

  #record(request: RecordedRequest): void {
    this.requests.push(request);
    for (const waiter of [...this.#waiters]) {
      if (this.requests.filter(waiter.predicate).length >= waiter.count) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  // ---- HTTP ----

  #route(pathname: string): { target?: RequestTarget; namespace?: string; name?: string } {
    if (pathname === '/version' || pathname === '/version/') return { target: 'version' };
    for (const resource of RESOURCE_NAMES) {
      const info = RESOURCES[resource];
      const base = info.base.replace(/[./]/g, (c) => `\\${c}`);
      // Cluster-wide collection (also for namespaced resources: every namespace), or one object.
      const cluster = new RegExp(`^${base}/${resource}(?:/([^/]+))?$`).exec(pathname);
      if (cluster && (!info.namespaced || cluster[1] === undefined)) {
        return { target: resource, ...(cluster[1] && { name: decodeURIComponent(cluster[1]) }) };
      }
      if (!info.namespaced) continue;
      const scoped = new RegExp(`^${base}/namespaces/([^/]+)/${resource}(?:/([^/]+))?$`).exec(
        pathname,
      );
      if (scoped?.[1]) {
        return {
          target: resource,
          namespace: decodeURIComponent(scoped[1]),
          ...(scoped[2] && { name: decodeURIComponent(scoped[2]) }),
        };
      }
    }
    return {};
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams);
    const { target, namespace, name } = this.#route(url.pathname);
    const watch = query.watch === 'true' || query.watch === '1';
    const verb: KubeVerb =
      target === 'version' || name !== undefined ? 'get' : watch ? 'watch' : 'list';
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      ...(target && { target }),
      ...(namespace && { namespace }),
      ...(name !== undefined && { name }),
      verb,
      status: 0,
    };
    const latency = this.#latency;
    const delayed =
      latency &&
      (!latency.target || latency.target === target) &&
      (!latency.verb || latency.verb === verb);
    const respond = () => this.#respond(req, res, request, watch);
    this.#record(request);
    if (delayed) {
      const timer = setTimeout(respond, latency.ms);
      res.on('close', () => clearTimeout(timer));
    } else {
      respond();
    }
  }

  #respond(req: IncomingMessage, res: ServerResponse, request: RecordedRequest, watch: boolean) {
    if (res.destroyed) return;
    const sendStatus = (code: number, message: string, details?: object) => {
      request.status = code;
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(statusBody(code, REASONS[code] ?? 'Unknown', message, details)));
    };
    if (req.method !== 'GET') return sendStatus(405, `method ${req.method} not allowed`);
    if (req.headers.authorization !== `Bearer ${this.#acceptedToken}`) {
      return sendStatus(401, 'Unauthorized');
    }
    const { target, namespace, name, verb } = request;
    if (!target) return sendStatus(404, 'the server could not find the requested resource');
    const fault = this.#faults.find(
      (f) =>
        f.left > 0 &&
        (!f.fault.target || f.fault.target === target) &&
        (!f.fault.verb || f.fault.verb === verb),
    );
    if (fault) {
      fault.left -= 1;
      const { status } = fault.fault;
      let message = fault.fault.message;
      let details: object | undefined;
      if (status === 403 && !message) {
        if (target === 'version') {
          message = `forbidden: User "${SERVICE_ACCOUNT}" cannot get path "${request.path}"`;
        } else {
          // As the API server words it: `daemonsets.apps "calico-node" is forbidden: ...`.
          const group = RESOURCES[target].group;
          const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
          const what = `${target}${group ? `.${group}` : ''}${name === undefined ? '' : ` "${name}"`}`;
          message = `${what} is forbidden: User "${SERVICE_ACCOUNT}" cannot ${verb} resource "${target}" in API group "${group}" ${scope}`;
          details = { ...(name !== undefined && { name }), kind: target, ...(group && { group }) };
        }
      }
      return sendStatus(status, message ?? `injected ${status}`, details);
    }
    if (target === 'version') return this.#sendJson(res, request, this.#version());
    if (name !== undefined) {
      const info = RESOURCES[target];
      const found = this.#objects(target).get(keyOf(info.namespaced ? namespace : undefined, name));
      if (!found) {
        const what = `${target}${info.group ? `.${info.group}` : ''}`;
        return sendStatus(404, `${what} "${name}" not found`, {
          name,
          ...(info.group && { group: info.group }),
          kind: target,
        });
      }
      return this.#sendJson(res, request, {
        kind: info.kind,
        apiVersion: info.apiVersion,
        ...clone(found),
      });
    }
    if (watch) return this.#watch(res, request, target, namespace, request.query);
    return this.#sendJson(res, request, this.#list(target, namespace));
  }

  #sendJson(res: ServerResponse, request: RecordedRequest, body: unknown): void {
    request.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #version() {
    const version = this.#options.version ?? {
      major: '1',
      minor: '25',
      gitVersion: 'v1.25.6',
    };
    return {
      ...version,
      gitCommit: 'ff2c119726cc1f8926fb0585c74b25921e866a28',
      gitTreeState: 'clean',
      buildDate: '2023-01-18T19:15:26Z',
      goVersion: 'go1.19.5',
      compiler: 'gc',
      platform: 'linux/amd64',
    };
  }

  #inScope(object: KubeObject, namespace: string | undefined): boolean {
    return namespace === undefined || object.metadata.namespace === namespace;
  }

  #list(resource: KubeResource, namespace: string | undefined) {
    const info = RESOURCES[resource];
    const items = [...this.#objects(resource).values()]
      .filter((o) => this.#inScope(o, namespace))
      .map((o) => {
        const { kind: _kind, apiVersion: _apiVersion, ...rest } = clone(o);
        return rest;
      });
    return {
      kind: info.listKind,
      apiVersion: info.apiVersion,
      metadata: { resourceVersion: String(this.#rv) },
      items,
    };
  }

  #sees(watcher: Watcher, event: HistoryEvent): boolean {
    return event.resource === watcher.resource && this.#inScope(event.object, watcher.namespace);
  }

  #send(watcher: Watcher, type: WatchEventType, object: KubeObject | object): void {
    const info = RESOURCES[watcher.resource];
    const full =
      type === 'ERROR' ? object : { kind: info.kind, apiVersion: info.apiVersion, ...object };
    watcher.res.write(`${JSON.stringify({ type, object: full })}\n`);
  }

  #watch(
    res: ServerResponse,
    request: RecordedRequest,
    resource: KubeResource,
    namespace: string | undefined,
    query: Readonly<Record<string, string>>,
  ): void {
    const from = query.resourceVersion ?? '';
    const fromRv = from === '' || from === '0' ? undefined : Number(from);
    if (fromRv !== undefined && !Number.isInteger(fromRv)) {
      request.status = 400;
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(statusBody(400, 'BadRequest', `invalid resourceVersion "${from}"`)));
      return;
    }
    const tooOld = fromRv !== undefined && fromRv < this.#compactedRv;
    const tooOldMessage = `too old resource version: ${fromRv} (${this.#compactedRv})`;
    if (tooOld && this.#options.goneMode === 'http') {
      request.status = 410;
      res.writeHead(410, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(statusBody(410, 'Expired', tooOldMessage)));
      return;
    }
    request.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const socket = res.socket;
    if (!socket) return;
    const watcher: Watcher = {
      resource,
      ...(namespace && { namespace }),
      bookmarks: query.allowWatchBookmarks === 'true',
      res,
      socket,
    };
    if (tooOld) {
      this.#send(watcher, 'ERROR', statusBody(410, 'Expired', tooOldMessage));
      res.end();
      return;
    }
    if (fromRv === undefined) {
      for (const object of this.#objects(resource).values()) {
        if (this.#inScope(object, namespace)) this.#send(watcher, 'ADDED', clone(object));
      }
    } else {
      for (const event of this.#history) {
        if (event.rv > fromRv && this.#sees(watcher, event)) {
          this.#send(watcher, event.type, clone(event.object));
        }
      }
    }
    this.#watchers.add(watcher);
    res.on('close', () => this.#forget(watcher));
  }
}
