/**
 * What the status page costs at 20,000 and 100,000 targets, in-process: the snapshot
 * taken at each cycle's end (total time, and its longest synchronous slice, which is
 * what the probes on the same loop wait for), then a request's synchronous work and
 * page size for the pages an operator opens: every node, page 2 of what fails, a group,
 * one node. The baseline, measured in the same run, is one plain pass over the store
 * reading each target's key and state: the least any per-target page can cost.
 *
 *   node --import tsx bench/status-page.ts [--targets 20000,100000] [--reps 5] [--json FILE]
 *
 * bench/serving.ts may call measureStatusPage() for its status-page row.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { effectiveCatalog } from '../src/catalog/overrides.js';
import type { ClusterNode, DiscoverySnapshot, NodePort } from '../src/discovery/types.js';
import { EXPOSITION_LABELS } from '../src/metrics/labels.js';
import type { ProbeResult } from '../src/probe/types.js';
import { ResultStore } from '../src/results/store.js';
import { StatusData } from '../src/server/status/latest.js';
import { createStatusPage } from '../src/server/status-page.js';
import { planTargets } from '../src/targets/planner.js';
import type { Target } from '../src/targets/types.js';

/** NodePorts per node in the bench cluster; nodes = targets / (catalog ports + this). */
const NODEPORTS = 200;

/** One page: medians over reps. */
export interface PageFigures {
  readonly bytes: number;
  /** The first request of a snapshot for this page: it builds the view. */
  readonly renderMs: number;
  readonly renderCpuMs: number;
  /** The same page again for another client: the view is reused. */
  readonly againMs: number;
}

export interface StatusPageFigures {
  readonly targets: number;
  readonly nodes: number;
  /** One plain pass over the store: the baseline. */
  readonly baselineMs: number;
  /** The snapshot and its tallies, all slices. */
  readonly captureMs: number;
  /** The longest slice of the capture: the longest the loop is held at a cycle's end. */
  readonly captureLongestSliceMs: number;
  /** The same in CPU time (every thread's: GC included). */
  readonly captureLongestSliceCpuMs: number;
  /** The median slice: what the loop is held for at most turns of a capture. */
  readonly captureMedianSliceMs: number;
  /** Per page: bytes, the request's time and CPU time (medians of reps). */
  readonly pages: Readonly<
    Record<
      string,
      { readonly bytes: number; readonly renderMs: number; readonly renderCpuMs: number }
    >
  >;
  /** The largest page's time over the baseline. */
  readonly worstRenderRatio: number;
  readonly captureRatio: number;
}

const QUERIES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'every node': {},
  'what fails, page 2': { page: '2' },
  'one group': { group: 'gis-environment' },
  'one node': { node: 'worker-0007' },
};

/** A cluster of workers with NODEPORTS NodePorts, planned into a store, results mixed. */
export function benchStore(targets: number): {
  store: ResultStore;
  nodes: number;
  snapshot: DiscoverySnapshot;
} {
  const perNode = 5 + NODEPORTS; // the page tests' catalog on a worker, plus the NodePorts
  const count = Math.max(1, Math.round(targets / perNode));
  const nodes: ClusterNode[] = Array.from({ length: count }, (_, i) => ({
    name: `worker-${String(i).padStart(4, '0')}`,
    addresses: [`198.18.${i >> 8}.${i & 255}`],
    roles: ['worker'],
    ready: true,
    kubeletVersion: 'v1.28.3',
  }));
  const nodePorts: NodePort[] = Array.from({ length: NODEPORTS }, (_, i) => ({
    namespace: i % 2 ? 'imanager-gis-environments' : 'imanager',
    service: `gisapp-${i}-with-a-long-service-name`,
    portName: 'http',
    servicePort: 8080,
    nodePort: 30000 + i,
    protocol: 'TCP',
    group: i % 2 ? 'gis-environment' : 'basic-service',
    type: 'NodePort',
    trafficPolicy: 'Cluster',
  }));
  const snapshot: DiscoverySnapshot = { nodes, nodePorts, kubernetesVersion: '1.28' };
  const planned = planTargets({
    vantage: 'central',
    catalog: effectiveCatalog({
      overrides: Object.fromEntries(
        ['kube-proxy-health', 'calico-typha', 'kubelet-readonly', 'rpcbind'].map((id) => [
          id,
          { enabled: false },
        ]),
      ),
      custom: [],
    }),
    snapshot,
  });
  const store = new ResultStore({ labels: EXPOSITION_LABELS });
  store.setTargets(planned);
  const open: ProbeResult = { state: 'open', durationSeconds: 0.0004 };
  const refused: ProbeResult = { state: 'refused', durationSeconds: 0.0002, error: 'ECONNREFUSED' };
  const timeout: ProbeResult = { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' };
  // One node in 10 cut off, one NodePort in 4 without endpoints, node exporter down on some.
  const resultOf = (t: Target): ProbeResult => {
    if (t.node.endsWith('7')) return timeout;
    if (t.category === 'nodeport' && t.port % 4 === 0) return refused;
    if (t.port === 9101 && t.node.endsWith('3')) return refused;
    return open;
  };
  const now = Date.now();
  for (const t of planned) store.record(t, resultOf(t), now);
  return { store, nodes: count, snapshot };
}

/** CPU time (user and system, all threads) since `from`, in ms. */
function cpuMs(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Builds a store of `targets` targets and measures the page over it. */
export async function measureStatusPage(options: {
  readonly targets: number;
  readonly reps?: number;
}): Promise<StatusPageFigures> {
  const reps = options.reps ?? 5;
  const { store, nodes, snapshot } = benchStore(options.targets);
  const discovered = () => snapshot;
  const table = store.leaseColumns();
  const baselines: number[] = [];
  let sink = 0;
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    for (let i = 0; i < table.table.size; i++) {
      sink += (table.table.targets[i] as Target).key.length + (table.table.state[i] as number);
    }
    baselines.push(performance.now() - start);
  }
  table.release();
  if (sink < 0) throw new Error('unreachable');

  // The capture, its slices timed between yields.
  const captures: number[] = [];
  let longest = 0;
  let longestCpu = 0;
  const slices: number[] = [];
  for (let r = 0; r < reps; r++) {
    let sliceStart = performance.now();
    let sliceCpu = process.cpuUsage();
    const endSlice = () => {
      slices.push(performance.now() - sliceStart);
      longest = Math.max(longest, performance.now() - sliceStart);
      longestCpu = Math.max(longestCpu, cpuMs(sliceCpu));
    };
    const data = new StatusData(store, {
      snapshot: discovered,
      yieldTurn: async () => {
        endSlice();
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
        sliceCpu = process.cpuUsage();
      },
    });
    const start = performance.now();
    await data.capture();
    endSlice();
    captures.push(performance.now() - start);
  }

  // Requests: the capture done once up front, as at a cycle's end; then only the render.
  const data = new StatusData(store, { snapshot: discovered });
  await data.capture();
  const pages: Record<string, PageFigures> = {};
  for (const [name, query] of Object.entries(QUERIES)) {
    const first: number[] = [];
    const firstCpu: number[] = [];
    const again: number[] = [];
    let bytes = 0;
    for (let r = 0; r < reps; r++) {
      // A new page each rep: its first request of this snapshot builds the view.
      const page = createStatusPage({
        version: 'bench',
        source: { store, data, intervalSeconds: () => 15 },
      });
      const start = performance.now();
      const startCpu = process.cpuUsage();
      const response = await page(query);
      firstCpu.push(cpuMs(startCpu));
      first.push(performance.now() - start);
      if (response.status !== 200) throw new Error(`${name}: HTTP ${response.status}`);
      bytes = Buffer.byteLength(response.body);
      const second = performance.now();
      await page(query);
      again.push(performance.now() - second);
    }
    pages[name] = {
      bytes,
      renderMs: round(median(first)),
      renderCpuMs: round(median(firstCpu)),
      againMs: round(median(again)),
    };
  }
  const baselineMs = median(baselines);
  const worst = Math.max(...Object.values(pages).map((p) => p.renderMs));
  return {
    targets: store.size,
    nodes,
    baselineMs: round(baselineMs),
    captureMs: round(median(captures)),
    captureLongestSliceMs: round(longest),
    captureLongestSliceCpuMs: round(longestCpu),
    captureMedianSliceMs: round(median(slices), 3),
    pages,
    worstRenderRatio: round(worst / baselineMs),
    captureRatio: round(median(captures) / baselineMs),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: '20000,100000' },
      reps: { type: 'string', default: '5' },
      json: { type: 'string' },
    },
  });
  const runs: StatusPageFigures[] = [];
  for (const targets of String(values.targets).split(',').map(Number)) {
    runs.push(await measureStatusPage({ targets, reps: Number(values.reps) }));
  }
  const result = {
    name: 'status-page',
    at: new Date().toISOString(),
    loadAverage: loadavg().map((l) => round(l)),
    cpus: cpus().length,
    runs,
  };
  const text = `${JSON.stringify(result, null, 2)}\n`;
  if (values.json) writeFileSync(values.json, text);
  else process.stdout.write(text);
  for (const r of runs) {
    const largest = Math.max(...Object.values(r.pages).map((p) => p.bytes));
    const slowest = Math.max(...Object.values(r.pages).map((p) => p.renderMs));
    process.stderr.write(
      `status-page ${r.targets} targets: largest page ${(largest / 1024).toFixed(0)} KiB, slowest request ${slowest} ms (${r.worstRenderRatio}x one pass), capture ${r.captureMs} ms in slices of ${r.captureMedianSliceMs} ms (median), at most ${r.captureLongestSliceMs} ms\n`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
