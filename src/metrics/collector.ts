import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Category } from '../catalog/types.js';
import type { SourceStatus } from '../discovery/types.js';
import { PROBE_STATES } from '../probe/types.js';
import { type ResultStore, type TargetTable, UNPROBED } from '../results/store.js';
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

export interface MetricsOptions {
  /** The exporter's version, for imanager_exporter_build_info. */
  readonly version: string;
  /** Where the per-target, node, NodePort and ICMP families are read from at each scrape. */
  readonly store: ResultStore;
  /**
   * Read at each scrape: the health of each discovery source, for imanager_discovery_up
   * and imanager_discovery_last_success_timestamp_seconds. Default: no sources.
   */
  readonly sourceStatus?: () => readonly SourceStatus[];
  /** Add prom-client's process_* and nodejs_* families. Default true. */
  readonly processMetrics?: boolean;
  /** Where a family that failed to render is reported. Default: silent. */
  readonly logger?: Logger;
}

/** The exporter's metrics: what main records, and the text a scrape returns. */
export interface Metrics {
  /** Count one probe (`prober` is `tcp` or `icmp`) and the state it found. */
  countProbe(prober: string, state: string): void;
  /** How long the last full pass over the targets took. */
  setCycleDuration(seconds: number): void;
  setIcmpEnabled(enabled: boolean): void;
  /** False after a rejected reload; true again after the next good one. Starts true. */
  setConfigReloadSuccessful(successful: boolean): void;
  /**
   * The whole /metrics text as UTF-8. A family that fails to render is left out
   * whole and logged; the others are still returned.
   */
  render(): Promise<Buffer>;
  readonly contentType: string;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const { store } = options;
  const logger = options.logger ?? silentLogger;
  const sourceStatus = options.sourceStatus ?? (() => []);
  const registry = new Registry();

  const probes = counter(registry, 'imanager_probes_total');
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
  gauge(registry, 'imanager_exporter_build_info').set(
    { version: options.version, nodejs_version: process.versions.node },
    1,
  );

  gauge(registry, 'imanager_node_info', function collect() {
    this.reset();
    for (const n of store.nodes()) {
      this.set(
        {
          node: n.name,
          address: n.address,
          roles: [...n.roles].sort().join(','),
          kubelet_version: n.kubeletVersion,
          ready: String(n.ready),
        },
        1,
      );
    }
  });

  gauge(registry, 'imanager_nodeport_info', function collect() {
    this.reset();
    for (const p of store.nodePorts().nodePorts) {
      this.set(
        {
          namespace: p.namespace,
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
    const { nodePorts, range } = store.nodePorts();
    for (const p of nodePorts) {
      const inRange = p.nodePort >= range.min && p.nodePort <= range.max;
      this.set(
        {
          namespace: p.namespace,
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
      this.set({ vantage: e.vantage, node: e.node, address: e.address }, e.up ? 1 : 0);
    }
  });
  gauge(registry, 'imanager_node_icmp_rtt_seconds', function collect() {
    this.reset();
    for (const e of store.icmpResults()) {
      if (e.rttSeconds === undefined) continue;
      this.set({ vantage: e.vantage, node: e.node, address: e.address }, e.rttSeconds);
    }
  });

  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  }

  async function render(): Promise<Buffer> {
    const parts: Buffer[] = [];
    try {
      parts.push(renderTargetFamilies(store.columns()));
    } catch (err) {
      logger.error('per-target metrics failed, left out of this scrape', { err });
    }
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
    if (small.length > 0)
      parts.push(Buffer.from(`${parts.length > 0 ? '\n' : ''}${small.join('\n\n')}\n`));
    return Buffer.concat(parts);
  }

  return {
    countProbe: (prober, state) => probes.inc({ prober, state }),
    setCycleDuration: (seconds) => cycleDuration.set(seconds),
    setIcmpEnabled: (enabled) => icmpEnabled.set(enabled ? 1 : 0),
    setConfigReloadSuccessful: (successful) => reloadSuccessful.set(successful ? 1 : 0),
    render,
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

function counter(registry: Registry, name: MetricName): Counter<string> {
  const spec = METRICS[name];
  return new Counter({ name, help: spec.help, labelNames: spec.labels, registers: [registry] });
}

function header(name: MetricName): string {
  const spec = METRICS[name];
  return `# HELP ${name} ${spec.help}\n# TYPE ${name} ${spec.type}\n`;
}

const HEADERS = {
  up: Buffer.from(header('imanager_port_up')),
  state: Buffer.from(`\n${header('imanager_port_state')}`),
  duration: Buffer.from(`\n${header('imanager_port_connect_duration_seconds')}`),
  change: Buffer.from(`\n${header('imanager_port_last_change_timestamp_seconds')}`),
};
const OPEN = {
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

/**
 * The four per-target families as UTF-8, copied from the label bytes the store built
 * when each target was set: a scrape escapes and encodes nothing, and allocates one
 * buffer. Targets without a result yet have no series, so a restart does not page
 * with a false imanager_port_up 0.
 */
export function renderTargetFamilies(t: TargetTable): Buffer {
  const { size, state, labelBytes, labelStart, identifyingEnd } = t;
  let bound = HEADER_BYTES;
  for (let i = 0; i < size; i++) {
    if (state[i] === UNPROBED) continue;
    const start = labelStart[i] as number;
    bound +=
      LINE_OVERHEAD +
      2 * ((labelStart[i + 1] as number) - start) +
      2 * ((identifyingEnd[i] as number) - start);
  }
  const out = Buffer.allocUnsafe(bound);
  let pos = 0;

  pos = put(out, pos, HEADERS.up);
  for (let i = 0; i < size; i++) {
    const code = state[i] as number;
    if (code === UNPROBED) continue;
    pos = put(out, pos, OPEN.up);
    pos = copy(out, pos, labelBytes, labelStart[i] as number, labelStart[i + 1] as number);
    pos = put(out, pos, UP_LINE_END[code] as Buffer);
  }
  pos = put(out, pos, HEADERS.state);
  for (let i = 0; i < size; i++) {
    const code = state[i] as number;
    if (code === UNPROBED) continue;
    pos = put(out, pos, OPEN.state);
    pos = copy(out, pos, labelBytes, labelStart[i] as number, labelStart[i + 1] as number);
    pos = put(out, pos, STATE_LINE_END[code] as Buffer);
  }
  pos = put(out, pos, HEADERS.duration);
  for (let i = 0; i < size; i++) {
    if (state[i] === UNPROBED) continue;
    pos = put(out, pos, OPEN.duration);
    pos = copy(out, pos, labelBytes, labelStart[i] as number, identifyingEnd[i] as number);
    pos = putValue(out, pos, t.durationSeconds[i] as number);
  }
  pos = put(out, pos, HEADERS.change);
  for (let i = 0; i < size; i++) {
    if (state[i] === UNPROBED) continue;
    pos = put(out, pos, OPEN.change);
    pos = copy(out, pos, labelBytes, labelStart[i] as number, identifyingEnd[i] as number);
    pos = putValue(out, pos, (t.lastChangeMs[i] as number) / 1000);
  }
  return out.subarray(0, pos);
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
