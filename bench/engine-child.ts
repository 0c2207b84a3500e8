/**
 * Contender "engine": one full cycle of this project's scheduler and TCP prober over
 * a target list, spread off (as fast as the concurrency allows), in a process of its
 * own so that only the probing is charged to it.
 *
 *   node .tmp/bench-js/bench/engine-child.js --targets FILE [--states FILE]
 *     [--concurrency 1024] [--timeout-ms 2000] [--warmup 1000] [--workers 0]
 *
 * (compiled by bench/compile.ts; `node --import tsx bench/engine-child.ts` runs it too).
 * With `--workers N` the probes run on a pool of N worker threads (src/probe/pool.ts),
 * routed as the exporter routes them (src/probe/route.ts: a slow pace on the main thread);
 * with 0, on the main thread through the exporter's own prober (`--prober net`: tcpProbe).
 *
 * Prints one line of JSON: {probes, wallSeconds, cpuSeconds, states, ...}. Wall and
 * CPU (process.cpuUsage: user+sys of every thread of this process) cover the measured
 * `runOnce()` only, not Node's start, tsx's compile or the reading of the list. A
 * warm-up cycle on the first `--warmup` targets runs before, unmeasured, so the
 * figure is the steady state of a running exporter, not a cold JIT.
 */
import { parseArgs } from 'node:util';
import { PROBE_FLAGS } from '../src/config/flags.js';
import { createProbePool, type ProbePool } from '../src/probe/pool.js';
import { PROBERS } from '../src/probe/registry.js';
import { routeProbes } from '../src/probe/route.js';
import { interleaveByNode, Scheduler } from '../src/probe/scheduler.js';
import { tcpProbe } from '../src/probe/tcp.js';
import type { ProbeResult, Prober } from '../src/probe/types.js';
import { type Target, targetKey } from '../src/targets/types.js';
import {
  countStates,
  type Endpoint,
  openFileDescriptors,
  readEndpoints,
  writeStates,
} from './files.js';
import { round } from './stats.js';

/** A Target that knows its place in the list, so a result is stored without a lookup. */
type IndexedTarget = Target & { readonly index: number };

function toTargets(endpoints: readonly Endpoint[]): IndexedTarget[] {
  return endpoints.map(({ ip, port }, index) => {
    // One node per address, as the planner makes them: the scheduler interleaves by node.
    const fields = {
      vantage: 'central',
      node: ip,
      address: ip,
      ip,
      protocol: 'tcp',
      port,
    } as const;
    return {
      ...fields,
      key: targetKey(fields),
      category: 'custom',
      component: 'bench',
      portName: `bench-${port}`,
      scope: 'internal',
      required: true,
      expected: 'any',
      index,
    };
  });
}

async function runCycle(
  targets: readonly IndexedTarget[],
  concurrency: number,
  timeoutMs: number,
  states: (string | undefined)[],
  prober: Prober,
  pool: ProbePool | undefined,
) {
  const scheduler = new Scheduler({
    intervalMs: 3_600_000,
    timeoutMs,
    concurrency,
    spread: false,
    probe: (target, timeout) =>
      prober({ ip: target.address, port: target.port, timeoutMs: timeout }),
    onResult: (target: Target, result: ProbeResult) => {
      states[(target as IndexedTarget).index] = result.state;
    },
  });
  scheduler.setTargets(targets);
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const loopBefore = performance.eventLoopUtilization();
  const workersBefore = pool?.eventLoopUtilization() ?? [];
  const stats = await scheduler.runOnce();
  const wallSeconds = (performance.now() - wallBefore) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // How busy each loop was: which thread, if any, is the bottleneck.
  const loops = {
    main: round(performance.eventLoopUtilization(loopBefore).utilization, 3),
    workers: (pool?.eventLoopUtilization() ?? []).map((now, i) => {
      const before = workersBefore[i];
      return round(
        before ? performance.eventLoopUtilization(now, before).utilization : now.utilization,
        3,
      );
    }),
  };
  await scheduler.stop();
  return { stats, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, loops };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string' },
      states: { type: 'string' },
      concurrency: { type: 'string', default: '1024' },
      'timeout-ms': { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '1000' },
      // 0: probes on the main thread; N: on a pool of N worker threads.
      workers: { type: 'string', default: '0' },
      // The main thread's prober: `default`, the exporter's (the TCP handle, see
      // src/probe/registry.ts), or `net` (tcpProbe, net.Socket), for comparison.
      prober: { type: 'string', default: 'default' },
    },
  });
  if (values.targets === undefined) throw new Error('engine-child: --targets FILE is required');
  const concurrency = Number(values.concurrency);
  const timeoutMs = Number(values['timeout-ms']);
  const warmup = Number(values.warmup);
  const workers = Number(values.workers);
  const pool = workers > 0 ? createProbePool({ workers }) : undefined;
  // With threads, as the exporter routes them (src/pipeline.ts): the main thread keeps
  // a slow pace and the threads take the rest, so a burst is mostly theirs.
  const route =
    pool &&
    routeProbes({
      main: PROBERS.tcp,
      pool: pool.probe,
      mainBelowPerSecond: Number(PROBE_FLAGS['probe.main-thread-rate'].default),
    });
  const prober = route?.probe ?? (values.prober === 'net' ? tcpProbe : PROBERS.tcp);

  const endpoints = readEndpoints(values.targets);
  const targets = toTargets(endpoints);

  // The order is computed at a cycle's start when the target set changed; timed here
  // once so the report can say how much of the cycle it is.
  const orderStarted = performance.now();
  interleaveByNode(targets);
  const orderSeconds = (performance.now() - orderStarted) / 1000;

  if (warmup > 0) {
    const warm = targets.slice(0, Math.min(warmup, targets.length));
    await runCycle(warm, concurrency, timeoutMs, [], prober, pool);
  }

  const states: (string | undefined)[] = new Array(targets.length);
  const fdsBefore = openFileDescriptors();
  const measured = await runCycle(targets, concurrency, timeoutMs, states, prober, pool);
  // Closing a handle completes on a later loop turn; give the last ones that turn.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const fdsAfter = openFileDescriptors();
  if (values.states !== undefined) writeStates(values.states, endpoints, states);

  const report = {
    probes: measured.stats.probes,
    wallSeconds: measured.wallSeconds,
    cpuSeconds: measured.cpuSeconds,
    states: countStates(states),
    cycleSeconds: measured.stats.durationSeconds,
    orderSeconds,
    // Descriptors still open after the cycle: sockets the prober failed to destroy.
    fdsBefore,
    fdsAfter,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    workers,
    loopUtilization: measured.loops,
  };
  route?.stop();
  await pool?.close();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().then(
  // Sockets a prober left open would keep the loop alive; the figures are out already.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`engine-child: ${error instanceof Error ? error.stack : error}\n`);
    process.exit(1);
  },
);
