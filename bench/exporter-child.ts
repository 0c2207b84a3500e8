/**
 * The real exporter (src/exporter.ts: planner, scheduler, prober, store, collector,
 * HTTP server) over the benchmark's synthetic cluster (bench/cluster.ts), in a process
 * of its own so that its memory, CPU and event loop are its own.
 *
 *   node --import tsx bench/exporter-child.ts --nodes N [--node-ports 195]
 *     [--churn K] [--churn-interval-ms 1000] [--open-every 5] [--delay-resolution-ms 0]
 *     -- [exporter flags, e.g. --probe.interval=15s]
 *
 * Only the source differs from production: a synthetic one hands the exporter whole
 * snapshots, as the Kubernetes source does after its debounce, and with `--churn K`
 * replaces K NodePorts every churn interval. The exporter listens on 127.0.0.1:0.
 *
 * Prints `{"event":"ready",...}` on stdout once listening, then answers one JSON line
 * per command read from stdin (`{"id":1,"cmd":"stats"}`; see `handle`). To count
 * probes and cycles and to time renders, it wraps three methods of the exporter's
 * Metrics object (countProbe, setCycleDuration, renderLent): the server calls the same
 * object, so a scrape over HTTP is what gets timed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Gauge, Registry } from 'prom-client';
import { loadConfig } from '../src/config/index.js';
import type { DiscoverySnapshot, Source, SourceStatus } from '../src/discovery/types.js';
import { Exporter } from '../src/exporter.js';
import { METRICS } from '../src/metrics/names.js';
import { PROBE_STATES } from '../src/probe/types.js';
import type { ResultStore } from '../src/results/store.js';
import { createLogger } from '../src/util/log.js';
import { type ClusterOptions, clusterNodes, NODE_PORT_RANGE, snapshotAt } from './cluster.js';
import { median } from './stats.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    nodes: { type: 'string' },
    'node-ports': { type: 'string', default: '195' },
    churn: { type: 'string', default: '0' },
    'churn-interval-ms': { type: 'string', default: '1000' },
    'open-every': { type: 'string', default: '5' },
    // 0: no monitor. Its timer wakes the loop every resolution ms, which costs CPU.
    'delay-resolution-ms': { type: 'string', default: '0' },
  },
});
if (values.nodes === undefined) throw new Error('exporter-child: --nodes N is required');
const cluster: ClusterOptions = {
  nodes: Number(values.nodes),
  nodePorts: Number(values['node-ports']),
  churn: Number(values.churn),
  openEvery: Number(values['open-every']),
};
const churnIntervalMs = Number(values['churn-interval-ms']);
const delayResolutionMs = Number(values['delay-resolution-ms']);

/** How long each replan (planner + store + scheduler, synchronous) held the loop. */
const replanMs: number[] = [];

/** A source that knows the synthetic cluster; with churn, a new snapshot every interval. */
class SyntheticSource implements Source {
  readonly name = 'synthetic';
  #timer: NodeJS.Timeout | undefined;
  #lastSuccessSeconds: number | undefined;
  readonly #nodes = clusterNodes(cluster);

  async start(onChange: (snapshot: DiscoverySnapshot) => void): Promise<void> {
    let step = 0;
    const deliver = () => {
      const snapshot = snapshotAt(cluster, step, this.#nodes);
      const started = performance.now();
      onChange(snapshot);
      replanMs.push(performance.now() - started);
      this.#lastSuccessSeconds = Date.now() / 1000;
    };
    deliver();
    if (cluster.churn > 0) {
      this.#timer = setInterval(() => {
        step++;
        deliver();
      }, churnIntervalMs);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
  }

  status(): SourceStatus {
    return this.#lastSuccessSeconds === undefined
      ? { source: this.name, up: true }
      : { source: this.name, up: true, lastSuccessSeconds: this.#lastSuccessSeconds };
  }
}

interface RenderRecord {
  readonly ms: number;
  readonly bytes: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ipe-exporter-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, `nodePortRange: ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}\n`);
  const config = await loadConfig([
    `--config.file=${configFile}`,
    '--web.listen-address=127.0.0.1:0',
    '--log.level=warn',
    ...positionals,
  ]);
  const logger = createLogger({ level: config.logLevel });
  const exporter = new Exporter({
    config,
    createSource: () => new SyntheticSource(),
    logger,
    version: 'bench',
  });

  // Counters the benchmarks read; see the module comment.
  const metrics = exporter.metrics as {
    -readonly [K in keyof typeof exporter.metrics]: (typeof exporter.metrics)[K];
  };
  let tcpProbes = 0;
  let cycles = 0;
  /** Every cycle's duration, for "every cycle within the interval". */
  const cycleSeconds: number[] = [];
  let renders: RenderRecord[] = [];
  const countProbe = metrics.countProbe;
  metrics.countProbe = (prober, state) => {
    if (prober === 'tcp') tcpProbes++;
    countProbe(prober, state);
  };
  const setCycleDuration = metrics.setCycleDuration;
  metrics.setCycleDuration = (seconds) => {
    cycles++;
    cycleSeconds.push(seconds);
    setCycleDuration(seconds);
  };
  const renderLent = metrics.renderLent;
  metrics.renderLent = async () => {
    const started = performance.now();
    const lent = await renderLent();
    renders.push({ ms: performance.now() - started, bytes: lent.body.length });
    return lent;
  };

  const delay =
    delayResolutionMs > 0 ? monitorEventLoopDelay({ resolution: delayResolutionMs }) : undefined;
  delay?.enable();

  await exporter.start();
  write({ event: 'ready', url: exporter.url, targets: exporter.store.size, pid: process.pid });

  const profiler = new Session();
  profiler.connect();
  const handle = async (cmd: string, args: Record<string, unknown>): Promise<object> => {
    switch (cmd) {
      case 'stats': {
        const m = process.memoryUsage();
        const cpu = process.cpuUsage();
        return {
          rssBytes: m.rss,
          heapUsedBytes: m.heapUsed,
          heapTotalBytes: m.heapTotal,
          externalBytes: m.external,
          arrayBuffersBytes: m.arrayBuffers,
          maxRssBytes: process.resourceUsage().maxRSS * 1024,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
          targets: exporter.store.size,
          tcpProbes,
          cycles,
          cycleSeconds,
          intervalSeconds: config.probe.intervalMs / 1000,
          replans: replanMs.length,
        };
      }
      case 'delay-reset':
        delay?.reset();
        return {};
      case 'delay':
        if (!delay) throw new Error('no delay monitor: start with --delay-resolution-ms');
        return {
          maxMs: delay.max / 1e6,
          p99Ms: delay.percentile(99) / 1e6,
          meanMs: delay.mean / 1e6,
          samples: delay.count,
        };
      case 'renders': {
        const taken = renders;
        renders = [];
        return { renders: taken };
      }
      case 'replans': {
        const taken = replanMs.splice(0);
        return { count: taken.length, medianMs: median(taken), maxMs: Math.max(0, ...taken) };
      }
      case 'naive':
        return naiveBaseline(exporter.store, Number(args.reps ?? 10));
      case 'profile-start':
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
        return {};
      case 'profile-stop': {
        // A CPU profile of the main thread since profile-start, for finding hot spots.
        const { profile } = (await profiler.post('Profiler.stop')) as { profile: object };
        writeFileSync(String(args.path), JSON.stringify(profile));
        return { path: args.path };
      }
      case 'heap-snapshot': {
        // The main thread's heap, for finding what grows (with --expose-gc, after a gc).
        const chunks: string[] = [];
        profiler.on('HeapProfiler.addHeapSnapshotChunk', (m) => chunks.push(m.params.chunk));
        await profiler.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
        profiler.removeAllListeners('HeapProfiler.addHeapSnapshotChunk');
        writeFileSync(String(args.path), chunks.join(''));
        return { path: args.path };
      }
      case 'gc':
        // Only with --expose-gc; lets a memory reading leave out garbage not yet collected.
        (globalThis as { gc?: () => void }).gc?.();
        return {};
      case 'stop':
        await exporter.stop();
        setImmediate(() => process.exit(0));
        return {};
      default:
        throw new Error(`unknown command ${JSON.stringify(cmd)}`);
    }
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const { id, cmd, ...args } = JSON.parse(line) as { id: number; cmd: string };
    handle(cmd, args).then(
      (reply) => write({ id, ok: true, ...reply }),
      (error: unknown) => write({ id, ok: false, error: String(error) }),
    );
  });
  // The parent went away: do not linger.
  lines.on('close', () => process.exit(0));
}

function write(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * The naive collector the issue compares against: one prom-client Gauge per
 * per-target family, `set(labels, value)` per target, then `registry.metrics()`.
 * Times both halves, each rep; the values are the store's, so the text is the same
 * as the exporter's per-target families.
 */
async function naiveBaseline(store: ResultStore, reps: number) {
  const registry = new Registry();
  const gauge = (name: keyof typeof METRICS) =>
    new Gauge({
      name,
      help: METRICS[name].help,
      labelNames: METRICS[name].labels,
      registers: [registry],
    });
  const up = gauge('imanager_port_up');
  const state = gauge('imanager_port_state');
  const duration = gauge('imanager_port_connect_duration_seconds');
  const change = gauge('imanager_port_last_change_timestamp_seconds');
  const setMs: number[] = [];
  const renderMs: number[] = [];
  let bytes = 0;
  for (let rep = 0; rep < reps; rep++) {
    let started = performance.now();
    for (const t of store.targets()) {
      const r = store.result(t.key);
      if (r === undefined) continue;
      const id = {
        vantage: t.vantage,
        node: t.node,
        address: t.address,
        ip: t.ip,
        port: t.port,
        protocol: t.protocol,
      };
      const all = {
        ...id,
        category: t.category,
        component: t.component,
        port_name: t.portName,
        scope: t.scope,
        required: String(t.required),
        expected: t.expected,
        ...(t.nodePort && {
          k8s_namespace: t.nodePort.namespace,
          k8s_service: t.nodePort.service,
          group: t.nodePort.group,
        }),
      };
      const code = PROBE_STATES.indexOf(r.state);
      up.set(all, code === 0 ? 1 : 0);
      state.set(all, code);
      duration.set(id, r.durationSeconds);
      change.set(id, r.lastChangeMs / 1000);
    }
    setMs.push(performance.now() - started);
    started = performance.now();
    const text = await registry.metrics();
    renderMs.push(performance.now() - started);
    bytes = Buffer.byteLength(text);
  }
  return { setMs, renderMs, bytes };
}

main().catch((error: unknown) => {
  process.stderr.write(`exporter-child: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
