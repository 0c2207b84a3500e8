import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { DEFAULT_NODEPORT_RANGE } from '../catalog/ports.js';
import type { Category, PortRange } from '../catalog/types.js';
import type { DiscoverySnapshot, SourceStatus } from '../discovery/types.js';
import { PROBE_STATES } from '../probe/types.js';
import type { ColumnsLease, ResultStore } from '../results/store.js';
import { type Logger, silentLogger } from '../util/log.js';
import { METRICS, type MetricName } from './names.js';
import { isShared, RenderArena } from './render-arena.js';
import {
  renderThread as processRenderThread,
  RenderThread,
  RenderThreadError,
} from './render-thread.js';
import {
  type TargetValues,
  targetFamiliesBound,
  writeTargetFamiliesSliced,
} from './target-families.js';

/** The Prometheus text exposition format, version 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const CATEGORIES = [
  'fixed',
  'default',
  'nodeport',
  'custom',
] as const satisfies readonly Category[];

/**
 * prom-client's gauges whose names end in `_total`, which `promtool check metrics`
 * rejects; nodejs_active_handles and friends carry the same counts by type.
 */
const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * How long the per-target render runs before it lets the event loop turn. Probe
 * callbacks wait for the loop, so a longer slice would add to the connect times
 * measured meanwhile; shorter ones only add turns.
 */
export const DEFAULT_RENDER_SLICE_MS = 4;

export interface MetricsOptions {
  /** The exporter's version, for imanager_exporter_build_info. */
  readonly version: string;
  /** Where the per-target, resolution and ICMP families are read from at each scrape. */
  readonly store: ResultStore;
  /**
   * Read at each scrape: discovery's latest snapshot, for imanager_node_info and the
   * NodePort families. Default: none yet.
   */
  readonly snapshot?: () => DiscoverySnapshot | undefined;
  /** Read at each scrape, for imanager_nodeport_in_range. Default DEFAULT_NODEPORT_RANGE. */
  readonly nodePortRange?: () => PortRange;
  /**
   * Read at each scrape: the health of each discovery source, for imanager_discovery_up
   * and imanager_discovery_last_success_timestamp_seconds. Default: no sources.
   */
  readonly sourceStatus?: () => readonly SourceStatus[];
  /** Add prom-client's process_* and nodejs_* families. Default true. */
  readonly processMetrics?: boolean;
  /** Where a family that failed to render is reported. Default: silent. */
  readonly logger?: Logger;
  /**
   * Write the per-target families on the render thread (render-thread.ts), off the
   * event loop that times the probes: the process's thread by default, or this one;
   * false renders in the loop, in slices.
   */
  readonly renderThread?: boolean | RenderThread;
  /** In the loop, it turns at least this often during a render. Default DEFAULT_RENDER_SLICE_MS. */
  readonly renderSliceMs?: number;
}

/**
 * A rendered /metrics body in a buffer the collector lends: after `release()` a later
 * scrape renders into the same memory instead of about 1 KB of fresh pages per target.
 */
export interface LentBody {
  readonly body: Buffer;
  /** Call once the body is consumed (gzipped, or written to the socket); idempotent. */
  release(): void;
}

/** The exporter's metrics: what the exporter records, and the text a scrape returns. */
export interface Metrics {
  /** Count one probe (`prober` is `tcp` or `icmp`) and the state it found. */
  countProbe(prober: string, state: string): void;
  /** How long the last full pass over the targets took. */
  setCycleDuration(seconds: number): void;
  setIcmpEnabled(enabled: boolean): void;
  /** False after a rejected reload; true again after the next good one. Starts true. */
  setConfigReloadSuccessful(successful: boolean): void;
  /** When every configuration file was last in force after a load (Unix seconds). */
  setConfigReloadSuccessTime(seconds: number): void;
  /** The served certificate's notAfter (Unix seconds); undefined removes the series (no TLS). */
  setWebCertificateExpiry(seconds: number | undefined): void;
  /**
   * The whole /metrics text as UTF-8, in a buffer the caller owns. A family that fails
   * to render is left out whole and logged; the others are still returned.
   */
  render(): Promise<Buffer>;
  /** The same text as render(), in a lent buffer: the server's path for every scrape. */
  renderLent(): Promise<LentBody>;
  readonly contentType: string;
}

/** A render's text, and the thread its memory goes back to, when it is the thread's. */
interface Rendered {
  readonly body: Buffer;
  readonly onThread?: RenderThread;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const { store } = options;
  const logger = options.logger ?? silentLogger;
  const sourceStatus = options.sourceStatus ?? (() => []);
  const snapshot = options.snapshot ?? (() => undefined);
  const nodePortRange = options.nodePortRange ?? (() => DEFAULT_NODEPORT_RANGE);
  const sliceMs = options.renderSliceMs ?? DEFAULT_RENDER_SLICE_MS;
  const thread =
    options.renderThread === false
      ? undefined
      : options.renderThread instanceof RenderThread
        ? options.renderThread
        : processRenderThread;
  thread?.useLogger(logger);
  const registry = new Registry();

  // Tens of thousands of probes per cycle: counted in an array, handed to prom-client
  // (which hashes a label object per call) only when a scrape reads the counter.
  const probeCounts = new ProbeCounts();
  const probes = counter(registry, 'imanager_probes_total', function collect() {
    probeCounts.flushInto(this);
  });
  for (const state of PROBE_STATES) probes.inc({ prober: 'tcp', state }, 0);

  const cycleDuration = gauge(registry, 'imanager_probe_cycle_duration_seconds');

  gauge(registry, 'imanager_targets', function collect() {
    const counts = store.targetsByCategory();
    for (const category of CATEGORIES) this.set({ category }, counts.get(category) ?? 0);
  });

  gauge(registry, 'imanager_discovery_up', function collect() {
    this.reset();
    for (const s of sourceStatus()) this.set({ source: s.source }, s.up ? 1 : 0);
  });
  gauge(registry, 'imanager_discovery_last_success_timestamp_seconds', function collect() {
    this.reset();
    for (const s of sourceStatus()) {
      if (s.lastSuccessSeconds !== undefined) this.set({ source: s.source }, s.lastSuccessSeconds);
    }
  });

  const icmpEnabled = gauge(registry, 'imanager_icmp_enabled');
  const reloadSuccessful = gauge(registry, 'imanager_config_last_reload_successful');
  reloadSuccessful.set(1);
  const reloadSuccessTime = gauge(
    registry,
    'imanager_config_last_reload_success_timestamp_seconds',
  );
  // Registered only while a certificate is served: a gauge without labels would show 0,
  // which reads as "expired in 1970" and would page.
  let certificateExpiry: Gauge<string> | undefined;
  gauge(registry, 'imanager_exporter_build_info').set(
    { version: options.version, nodejs_version: process.versions.node },
    1,
  );

  gauge(registry, 'imanager_node_resolution_up', function collect() {
    this.reset();
    for (const r of store.resolutions()) {
      this.set({ vantage: r.vantage, node: r.node, address: r.address }, r.up ? 1 : 0);
    }
  });

  gauge(registry, 'imanager_node_info', function collect() {
    this.reset();
    for (const n of snapshot()?.nodes ?? []) {
      const roles = [...n.roles].sort().join(',');
      // One series per address: the join from the node exporter's instance is by address.
      for (const address of n.addresses) {
        this.set(
          {
            node: n.name,
            address,
            roles,
            kubelet_version: n.kubeletVersion,
            ready: String(n.ready),
          },
          1,
        );
      }
    }
  });

  gauge(registry, 'imanager_nodeport_info', function collect() {
    this.reset();
    for (const p of snapshot()?.nodePorts ?? []) {
      this.set(
        {
          k8s_namespace: p.namespace,
          k8s_service: p.service,
          service_port: String(p.servicePort),
          node_port: String(p.nodePort),
          group: p.group,
          type: p.type,
          traffic_policy: p.trafficPolicy,
        },
        1,
      );
    }
  });
  gauge(registry, 'imanager_nodeport_in_range', function collect() {
    this.reset();
    const range = nodePortRange();
    for (const p of snapshot()?.nodePorts ?? []) {
      const inRange = p.nodePort >= range.min && p.nodePort <= range.max;
      this.set(
        {
          k8s_namespace: p.namespace,
          k8s_service: p.service,
          service_port: String(p.servicePort),
          node_port: String(p.nodePort),
        },
        inRange ? 1 : 0,
      );
    }
  });

  gauge(registry, 'imanager_node_icmp_up', function collect() {
    this.reset();
    for (const e of store.icmpResults()) {
      this.set({ vantage: e.vantage, node: e.node, address: e.address, ip: e.ip }, e.up ? 1 : 0);
    }
  });
  gauge(registry, 'imanager_node_icmp_rtt_seconds', function collect() {
    this.reset();
    for (const e of store.icmpResults()) {
      if (e.rttSeconds === undefined) continue;
      this.set({ vantage: e.vantage, node: e.node, address: e.address, ip: e.ip }, e.rttSeconds);
    }
  });

  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  }

  /** The families prom-client renders well: few series each. */
  async function renderSmallFamilies(): Promise<string> {
    const small: string[] = [];
    let sliceStarted = performance.now();
    // One family at a time, the loop turning between them past a slice: a family with
    // a series per node (1,000 of them at 20,000 targets) takes milliseconds.
    for (const { name } of registry.getMetricsAsArray()) {
      try {
        small.push(await registry.getSingleMetricAsString(name));
      } catch (err) {
        logger.error('metric family failed, left out of this scrape', { metric: name, err });
      }
      if (performance.now() - sliceStarted >= sliceMs) {
        await turnOfTheLoop();
        sliceStarted = performance.now();
      }
    }
    return small.length > 0 ? `${small.join('\n\n')}\n` : '';
  }

  /** The per-target families into `out`: on the render thread when it can read the table. */
  /**
   * The per-target families in an output of `capacity` bytes: the render thread's when
   * it can read the columns where they are (its output goes back to it with
   * `onThread`), else the arena's, written in slices of the loop.
   */
  async function writeTargets(
    capacity: number,
    table: ColumnsLease['table'],
    values: TargetValues,
    arena: RenderArena,
  ): Promise<{ out: Buffer; bytes: number; onThread?: RenderThread }> {
    if (thread?.usable && isShared(table)) {
      try {
        return { ...(await thread.render(capacity, table, values)), onThread: thread };
      } catch (err) {
        if (!(err instanceof RenderThreadError)) throw err;
      }
    }
    const out = arena.reserve(capacity);
    return { out, bytes: await writeTargetFamiliesSliced(out, table, values, sliceMs) };
  }

  /**
   * The per-target families, then prom-client's. The per-target values are copied
   * first, so one scrape shows one instant even though results keep arriving while it
   * is written, on the render thread or in slices of the loop.
   */
  async function renderInto(arena: RenderArena): Promise<Rendered> {
    // Leased: the store must not reuse the label bytes while the slices read them.
    let lease: ColumnsLease | undefined;
    let values: TargetValues | undefined;
    let bound = 0;
    try {
      lease = store.leaseColumns();
      values = arena.snapshot(lease.table);
      bound = targetFamiliesBound(lease.table, values);
    } catch (err) {
      lease?.release();
      lease = undefined;
      logger.error('per-target metrics failed, left out of this scrape', { err });
    }
    try {
      const small = await renderSmallFamilies();
      const smallBytes = Buffer.byteLength(small);
      const capacity = bound + 1 + smallBytes;
      let written: { out: Buffer; bytes: number; onThread?: RenderThread } | undefined;
      if (lease && values) {
        try {
          written = await writeTargets(capacity, lease.table, values, arena);
        } catch (err) {
          logger.error('per-target metrics failed, left out of this scrape', { err });
        }
      }
      const out = written?.out ?? arena.reserve(capacity);
      let pos = written?.bytes ?? 0;
      if (smallBytes > 0) {
        if (pos > 0) out[pos++] = 0x0a;
        pos += out.write(small, pos, 'utf8');
      }
      const body = out.subarray(0, pos);
      return written?.onThread ? { body, onThread: written.onThread } : { body };
    } finally {
      lease?.release();
    }
  }

  // One arena kept between scrapes; a scrape that overlaps another gets its own.
  const spareArenas: RenderArena[] = [];

  return {
    countProbe: (prober, state) => probeCounts.count(prober, state, probes),
    setCycleDuration: (seconds) => cycleDuration.set(seconds),
    setIcmpEnabled: (enabled) => icmpEnabled.set(enabled ? 1 : 0),
    setConfigReloadSuccessful: (successful) => reloadSuccessful.set(successful ? 1 : 0),
    setConfigReloadSuccessTime: (seconds) => reloadSuccessTime.set(seconds),
    setWebCertificateExpiry: (seconds) => {
      if (seconds === undefined) {
        if (certificateExpiry)
          registry.removeSingleMetric('imanager_web_certificate_expiry_timestamp_seconds');
        certificateExpiry = undefined;
        return;
      }
      certificateExpiry ??= gauge(registry, 'imanager_web_certificate_expiry_timestamp_seconds');
      certificateExpiry.set(seconds);
    },
    // The caller owns this body: a thread's output is its to keep, never given back.
    render: async () => (await renderInto(new RenderArena())).body,
    async renderLent() {
      const arena = spareArenas.pop() ?? new RenderArena();
      let released = false;
      let rendered: Rendered | undefined;
      const release = () => {
        if (released) return;
        released = true;
        // The thread's output goes back to it (its pages to the kernel) between scrapes.
        if (rendered?.onThread) rendered.onThread.giveBack(rendered.body);
        if (spareArenas.length === 0) spareArenas.push(arena);
      };
      try {
        rendered = await renderInto(arena);
        return { body: rendered.body, release };
      } catch (err) {
        release();
        throw err;
      }
    },
    contentType: METRICS_CONTENT_TYPE,
  };
}

/** A prom-client metric class, as this file builds its families. */
type FamilyClass<T> = new (settings: {
  name: string;
  help: string;
  labelNames: readonly string[];
  registers: Registry[];
  collect?: (this: T) => void;
}) => T;

/** A family of the contract (names.ts), with its help and labels, in `registry`. */
function registered<T>(
  Kind: FamilyClass<T>,
  registry: Registry,
  name: MetricName,
  collect?: (this: T) => void,
): T {
  const spec = METRICS[name];
  return new Kind({
    name,
    help: spec.help,
    labelNames: spec.labels,
    registers: [registry],
    ...(collect ? { collect } : {}),
  });
}

const gauge = (registry: Registry, name: MetricName, collect?: (this: Gauge<string>) => void) =>
  registered<Gauge<string>>(Gauge, registry, name, collect);

const counter = (registry: Registry, name: MetricName, collect?: (this: Counter<string>) => void) =>
  registered<Counter<string>>(Counter, registry, name, collect);

const STATE_INDEX: ReadonlyMap<string, number> = new Map(PROBE_STATES.map((s, i) => [s, i]));

/** Probes counted per prober and state since the counter was last read. */
class ProbeCounts {
  readonly #pending = new Map<string, Float64Array>();

  count(prober: string, state: string, fallback: Counter<string>): void {
    const index = STATE_INDEX.get(state);
    // A state outside the contract is rare and still counted, the slow way.
    if (index === undefined) {
      fallback.inc({ prober, state });
      return;
    }
    let counts = this.#pending.get(prober);
    if (counts === undefined) {
      counts = new Float64Array(PROBE_STATES.length);
      this.#pending.set(prober, counts);
    }
    counts[index] = (counts[index] as number) + 1;
  }

  flushInto(counter: Counter<string>): void {
    for (const [prober, counts] of this.#pending) {
      for (let i = 0; i < counts.length; i++) {
        const n = counts[i] as number;
        if (n === 0) continue;
        counter.inc({ prober, state: PROBE_STATES[i] as string }, n);
        counts[i] = 0;
      }
    }
  }
}

function turnOfTheLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
