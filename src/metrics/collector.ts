import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { DEFAULT_NODEPORT_RANGE } from '../catalog/ports.js';
import type { Category, PortRange } from '../catalog/types.js';
import type { DiscoverySnapshot, SourceStatus } from '../discovery/types.js';
import { PROBE_STATES } from '../probe/types.js';
import {
  type ColumnsLease,
  type ResultStore,
  type TargetTable,
  UNPROBED,
} from '../results/store.js';
import { type Logger, silentLogger } from '../util/log.js';
import { METRICS, type MetricName } from './names.js';

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
  /** The event loop turns at least this often during a render. Default DEFAULT_RENDER_SLICE_MS. */
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

export function createMetrics(options: MetricsOptions): Metrics {
  const { store } = options;
  const logger = options.logger ?? silentLogger;
  const sourceStatus = options.sourceStatus ?? (() => []);
  const snapshot = options.snapshot ?? (() => undefined);
  const nodePortRange = options.nodePortRange ?? (() => DEFAULT_NODEPORT_RANGE);
  const sliceMs = options.renderSliceMs ?? DEFAULT_RENDER_SLICE_MS;
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
    const names = registry.getMetricsAsArray().map((m) => m.name);
    const rendered = await Promise.allSettled(
      names.map((name) => registry.getSingleMetricAsString(name)),
    );
    const small: string[] = [];
    rendered.forEach((r, i) => {
      if (r.status === 'fulfilled') small.push(r.value);
      else
        logger.error('metric family failed, left out of this scrape', {
          metric: names[i],
          err: r.reason,
        });
    });
    return small.length > 0 ? `${small.join('\n\n')}\n` : '';
  }

  /**
   * The per-target families, then prom-client's. The per-target values are copied
   * first, so one scrape shows one instant even though it is written in slices with
   * the loop turning (and results arriving) between them.
   */
  async function renderInto(arena: RenderArena): Promise<Buffer> {
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
      const out = arena.reserve(bound + 1 + smallBytes);
      let pos = 0;
      if (lease && values) {
        try {
          pos = await writeTargetFamiliesSliced(out, lease.table, values, sliceMs);
        } catch (err) {
          pos = 0;
          logger.error('per-target metrics failed, left out of this scrape', { err });
        }
      }
      if (smallBytes > 0) {
        if (pos > 0) out[pos++] = 0x0a;
        pos += out.write(small, pos, 'utf8');
      }
      return out.subarray(0, pos);
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
    render: () => renderInto(new RenderArena()),
    async renderLent() {
      const arena = spareArenas.pop() ?? new RenderArena();
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        if (spareArenas.length === 0) spareArenas.push(arena);
      };
      try {
        return { body: await renderInto(arena), release };
      } catch (err) {
        release();
        throw err;
      }
    },
    contentType: METRICS_CONTENT_TYPE,
  };
}

function gauge(
  registry: Registry,
  name: MetricName,
  collect?: (this: Gauge<string>) => void,
): Gauge<string> {
  const spec = METRICS[name];
  return new Gauge({
    name,
    help: spec.help,
    labelNames: spec.labels,
    registers: [registry],
    ...(collect ? { collect } : {}),
  });
}

function counter(
  registry: Registry,
  name: MetricName,
  collect?: (this: Counter<string>) => void,
): Counter<string> {
  const spec = METRICS[name];
  return new Counter({
    name,
    help: spec.help,
    labelNames: spec.labels,
    registers: [registry],
    ...(collect ? { collect } : {}),
  });
}

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

/** The per-target values one scrape renders: the store's columns at one instant. */
interface TargetValues {
  readonly state: Uint8Array;
  readonly durationSeconds: Float64Array;
  readonly lastChangeMs: Float64Array;
}

/**
 * The memory one scrape renders into: the output buffer and the copy of the values.
 * Kept from scrape to scrape, so a scrape writes into pages already mapped: fresh
 * pages cost a fault each (and the kernel zeroes them), about 1 KB per target.
 */
class RenderArena {
  #out: Buffer = Buffer.alloc(0);
  #state = new Uint8Array(0);
  #durationSeconds = new Float64Array(0);
  #lastChangeMs = new Float64Array(0);

  snapshot(t: TargetTable): TargetValues {
    const n = t.size;
    if (this.#state.length < n || this.#state.length > 2 * n + 1024) {
      const capacity = Math.ceil(n * 1.25);
      this.#state = new Uint8Array(capacity);
      this.#durationSeconds = new Float64Array(capacity);
      this.#lastChangeMs = new Float64Array(capacity);
    }
    this.#state.set(t.state.subarray(0, n));
    this.#durationSeconds.set(t.durationSeconds.subarray(0, n));
    this.#lastChangeMs.set(t.lastChangeMs.subarray(0, n));
    return {
      state: this.#state.subarray(0, n),
      durationSeconds: this.#durationSeconds.subarray(0, n),
      lastChangeMs: this.#lastChangeMs.subarray(0, n),
    };
  }

  /**
   * A buffer of at least `bytes`, with 5% to spare so that a few more targets need no
   * new one (the bound is already a few percent above what a render writes).
   */
  reserve(bytes: number): Buffer {
    if (this.#out.length < bytes || this.#out.length > 1.5 * bytes + 65536) {
      this.#out = Buffer.allocUnsafeSlow(Math.ceil(bytes * 1.05));
    }
    return this.#out;
  }
}

function header(name: MetricName): string {
  const spec = METRICS[name];
  return `# HELP ${name} ${spec.help}\n# TYPE ${name} ${spec.type}\n`;
}

/** The per-target families, in output order. */
const FAMILIES = ['up', 'state', 'duration', 'change'] as const;
type Family = (typeof FAMILIES)[number];

const HEADERS: Readonly<Record<Family, Buffer>> = {
  up: Buffer.from(header('imanager_port_up')),
  state: Buffer.from(`\n${header('imanager_port_state')}`),
  duration: Buffer.from(`\n${header('imanager_port_connect_duration_seconds')}`),
  change: Buffer.from(`\n${header('imanager_port_last_change_timestamp_seconds')}`),
};
const OPEN: Readonly<Record<Family, Buffer>> = {
  up: Buffer.from('imanager_port_up{'),
  state: Buffer.from('imanager_port_state{'),
  duration: Buffer.from('imanager_port_connect_duration_seconds{'),
  change: Buffer.from('imanager_port_last_change_timestamp_seconds{'),
};
/** `} <state>\n` per state code; imanager_port_up is 1 for code 0 (open) only. */
const STATE_LINE_END = PROBE_STATES.map((_, code) => Buffer.from(`} ${code}\n`));
const UP_LINE_END = PROBE_STATES.map((_, code) => Buffer.from(`} ${code === 0 ? 1 : 0}\n`));
/** `-1.7976931348623157e+308`: the longest a JavaScript number prints. */
const MAX_NUMBER_LENGTH = 24;
/** Bytes of one target's four lines beside its label bytes. */
const LINE_OVERHEAD =
  OPEN.up.length +
  OPEN.state.length +
  OPEN.duration.length +
  OPEN.change.length +
  2 * 4 +
  2 * (3 + MAX_NUMBER_LENGTH);
const HEADER_BYTES =
  HEADERS.up.length + HEADERS.state.length + HEADERS.duration.length + HEADERS.change.length;

/** The most bytes the four families can take for these values. */
function targetFamiliesBound(t: TargetTable, v: TargetValues): number {
  const { labelStart, identifyingEnd } = t;
  let bound = HEADER_BYTES;
  for (let i = 0; i < t.size; i++) {
    if (v.state[i] === UNPROBED) continue;
    const start = labelStart[i] as number;
    bound +=
      LINE_OVERHEAD +
      2 * ((labelStart[i + 1] as number) - start) +
      2 * ((identifyingEnd[i] as number) - start);
  }
  return bound;
}

/** Writes the lines of rows [from, to) of one family at `pos`; returns the new end. */
type RowWriter = (
  out: Buffer,
  pos: number,
  t: TargetTable,
  v: TargetValues,
  from: number,
  to: number,
) => number;

const WRITERS: Readonly<Record<Family, RowWriter>> = {
  up(out, pos, t, v, from, to) {
    for (let i = from; i < to; i++) {
      const code = v.state[i] as number;
      if (code === UNPROBED) continue;
      pos = put(out, pos, OPEN.up);
      pos = copy(out, pos, t.labelBytes, t.labelStart[i] as number, t.labelStart[i + 1] as number);
      pos = put(out, pos, UP_LINE_END[code] as Buffer);
    }
    return pos;
  },
  state(out, pos, t, v, from, to) {
    for (let i = from; i < to; i++) {
      const code = v.state[i] as number;
      if (code === UNPROBED) continue;
      pos = put(out, pos, OPEN.state);
      pos = copy(out, pos, t.labelBytes, t.labelStart[i] as number, t.labelStart[i + 1] as number);
      pos = put(out, pos, STATE_LINE_END[code] as Buffer);
    }
    return pos;
  },
  duration(out, pos, t, v, from, to) {
    for (let i = from; i < to; i++) {
      if (v.state[i] === UNPROBED) continue;
      pos = put(out, pos, OPEN.duration);
      pos = copy(out, pos, t.labelBytes, t.labelStart[i] as number, t.identifyingEnd[i] as number);
      pos = putValue(out, pos, v.durationSeconds[i] as number);
    }
    return pos;
  },
  change(out, pos, t, v, from, to) {
    for (let i = from; i < to; i++) {
      if (v.state[i] === UNPROBED) continue;
      pos = put(out, pos, OPEN.change);
      pos = copy(out, pos, t.labelBytes, t.labelStart[i] as number, t.identifyingEnd[i] as number);
      pos = putValue(out, pos, (v.lastChangeMs[i] as number) / 1000);
    }
    return pos;
  },
};

/** Rows written between two looks at the clock. */
const ROWS_PER_CHECK = 512;

/**
 * The four per-target families as UTF-8 into `out`, copied from the label bytes the store
 * built when each target was set: a scrape escapes and encodes nothing. Targets without
 * a result yet have no series, so a restart does not page with a false imanager_port_up
 * 0. Lets the loop turn every `sliceMs`; returns the bytes written.
 */
async function writeTargetFamiliesSliced(
  out: Buffer,
  t: TargetTable,
  v: TargetValues,
  sliceMs: number,
): Promise<number> {
  let pos = 0;
  let sliceStarted = performance.now();
  for (const family of FAMILIES) {
    pos = put(out, pos, HEADERS[family]);
    const write = WRITERS[family];
    for (let row = 0; row < t.size; ) {
      const end = Math.min(t.size, row + ROWS_PER_CHECK);
      pos = write(out, pos, t, v, row, end);
      row = end;
      if (performance.now() - sliceStarted >= sliceMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStarted = performance.now();
      }
    }
  }
  return pos;
}

function put(out: Buffer, pos: number, bytes: Buffer): number {
  out.set(bytes, pos);
  return pos + bytes.length;
}

function copy(out: Buffer, pos: number, from: Buffer, start: number, end: number): number {
  out.set(from.subarray(start, end), pos);
  return pos + end - start;
}

/** `} <value>\n`, the value as the text format spells it (ASCII only). */
function putValue(out: Buffer, pos: number, v: number): number {
  const text = Number.isFinite(v) ? `${v}` : Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  out[pos++] = 0x7d; // }
  out[pos++] = 0x20;
  for (let j = 0; j < text.length; j++) out[pos++] = text.charCodeAt(j);
  out[pos++] = 0x0a;
  return pos;
}
