/**
 * Benchmark 2: what a scrape of /metrics costs the exporter while it keeps probing:
 * render time, bytes, gzip bytes, and the longest event-loop stall during the scrape
 * (a stalled loop delays every probe callback, which inflates measured connect times).
 * Beside it, in the same child, the naive collector: one prom-client Gauge per family,
 * set(labels, value) per target, registry.metrics().
 *
 *   node --import tsx bench/scrape-cost.ts [--targets 20000,100000] [--scrapes 10]
 *     [--naive-max-targets 20000] [--naive-reps 10] [--json FILE] [-- exporter flags]
 *
 * Prints one JSON object (to stdout, or to --json FILE) and a one-line summary.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Children } from './children.js';
import { clusterFor } from './cluster.js';
import {
  ExporterRun,
  log,
  runBench,
  type ScrapeResult,
  scrape,
  sleep,
  startClusterListeners,
  tempDir,
} from './exporter-harness.js';
import { machineFacts } from './machine.js';
import { median, round } from './stats.js';

const NAME = 'scrape-cost';
/** Goals of the issue, at 20,000 targets. */
const GOAL_RENDER_MS = 100;
const GOAL_NAIVE_RATIO = 5;
const GOAL_STALL_MS = 25;
/** The event-loop monitor's sampling step: finer than the 25 ms goal. */
const DELAY_RESOLUTION_MS = 1;
/** Quiet time between scrapes, as between Prometheus' scrapes (which are 15 s apart). */
const PAUSE_MS = 500;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    targets: { type: 'string', default: '20000,100000' },
    scrapes: { type: 'string', default: '10' },
    'naive-max-targets': { type: 'string', default: '20000' },
    'naive-reps': { type: 'string', default: '10' },
    'baseline-s': { type: 'string', default: '5' },
    json: { type: 'string' },
  },
});
const sizes = String(values.targets).split(',').map(Number);
const scrapes = Number(values.scrapes);
const naiveMaxTargets = Number(values['naive-max-targets']);
const naiveReps = Number(values['naive-reps']);
const baselineMs = Number(values['baseline-s']) * 1000;

interface Delay {
  readonly maxMs: number;
  readonly p99Ms: number;
}

async function measureSize(children: Children, targets: number) {
  const cluster = clusterFor(targets);
  const run = await ExporterRun.start(children, {
    cluster,
    delayResolutionMs: DELAY_RESOLUTION_MS,
    exporterFlags: positionals,
  });
  log(NAME, `${run.targets} targets: exporter up, waiting for the second cycle to start`);
  // The first cycle runs as fast as it can; from the second on, probes are spread
  // over the interval, as in steady state.
  await run.waitFor('second cycle', (s) => s.cycles >= 1 && s.tcpProbes > s.targets, 300_000);

  // The loop's delay with probing alone: what a scrape adds to.
  await run.command('delay-reset');
  const before = (await run.stats()).tcpProbes;
  await sleep(baselineMs);
  const baseline = await run.command<Delay>('delay');
  const probesPerSecondAlone = ((await run.stats()).tcpProbes - before) / (baselineMs / 1000);

  for (let i = 0; i < 2; i++) await scrape(run.url, { gzip: true });
  await run.command('renders');

  const measured: { scrape: ScrapeResult; stall: Delay }[] = [];
  const probesBefore = (await run.stats()).tcpProbes;
  const windowStarted = performance.now();
  for (let i = 0; i < scrapes; i++) {
    await sleep(PAUSE_MS);
    await run.command('delay-reset');
    const result = await scrape(run.url, { gzip: true });
    if (result.status !== 200) throw new Error(`scrape answered ${result.status}`);
    const stall = await run.command<Delay>('delay');
    measured.push({ scrape: result, stall });
    log(
      NAME,
      `${run.targets} targets: scrape ${i + 1}: ${result.wallMs.toFixed(0)} ms, ` +
        `longest stall ${stall.maxMs.toFixed(1)} ms`,
    );
  }
  const probesDuring =
    ((await run.stats()).tcpProbes - probesBefore) / ((performance.now() - windowStarted) / 1000);
  const { renders } = await run.command<{ renders: { ms: number; bytes: number }[] }>('renders');
  const plain = await scrape(run.url, { gzip: false });

  let naive: Record<string, unknown> | null = null;
  if (targets <= naiveMaxTargets) {
    log(NAME, `${run.targets} targets: naive prom-client collector, ${naiveReps} reps`);
    await run.command('delay-reset');
    const n = await run.command<{ setMs: number[]; renderMs: number[]; bytes: number }>('naive', {
      reps: naiveReps,
    });
    const stall = await run.command<Delay>('delay');
    naive = {
      renderMsMedian: round(median(n.renderMs), 1),
      setAllMsMedian: round(median(n.setMs), 1),
      bytes: n.bytes,
      longestStallMs: round(stall.maxMs, 1),
      renderMs: n.renderMs.map((ms) => round(ms, 1)),
    };
  }
  await run.stop(children);

  const renderMs = renders.map((r) => r.ms);
  const stalls = measured.map((m) => m.stall.maxMs);
  const renderMedian = median(renderMs);
  const naiveRatio =
    naive !== null ? round((naive.renderMsMedian as number) / renderMedian, 1) : null;
  return {
    targets: run.targets,
    nodes: cluster.nodes,
    nodePorts: cluster.nodePorts,
    renderMsMedian: round(renderMedian, 1),
    renderMs: renderMs.map((ms) => round(ms, 1)),
    scrapeWallMsMedian: round(median(measured.map((m) => m.scrape.wallMs)), 1),
    bytes: plain.bytes,
    gzipBytes: measured[0]?.scrape.bytes ?? null,
    longestStallMs: round(Math.max(...stalls), 1),
    stallMsMedian: round(median(stalls), 1),
    stallMs: stalls.map((ms) => round(ms, 1)),
    probingAlone: {
      longestStallMs: round(baseline.maxMs, 1),
      p99DelayMs: round(baseline.p99Ms, 2),
      probesPerSecond: Math.round(probesPerSecondAlone),
    },
    probesPerSecondDuringScrapes: Math.round(probesDuring),
    naive,
    naiveOverRender: naiveRatio,
  };
}

const children = new Children();
runBench(NAME, children, async () => {
  const dir = tempDir('ipe-scrape-');
  const machine = machineFacts();
  const listeners = await startClusterListeners(children, dir, clusterFor(sizes[0] ?? 20000));
  const results = [];
  for (const targets of sizes) results.push(await measureSize(children, targets));
  await children.stop(listeners);

  const at20k = results.find((r) => r.targets >= 19000 && r.targets <= 21000);
  const goals = at20k
    ? {
        renderMsAtMost: GOAL_RENDER_MS,
        renderMet: at20k.renderMsMedian <= GOAL_RENDER_MS,
        naiveRatioAtLeast: GOAL_NAIVE_RATIO,
        naiveRatioMet: at20k.naiveOverRender !== null && at20k.naiveOverRender >= GOAL_NAIVE_RATIO,
        longestStallMsAtMost: GOAL_STALL_MS,
        stallMet: at20k.longestStallMs <= GOAL_STALL_MS,
      }
    : null;
  const report = {
    benchmark: NAME,
    finishedAt: new Date().toISOString(),
    machine,
    settings: {
      scrapes,
      exporterFlags: positionals,
      delayResolutionMs: DELAY_RESOLUTION_MS,
      pauseBetweenScrapesMs: PAUSE_MS,
      gzip: true,
    },
    sizes: results,
    goals,
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (values.json !== undefined) writeFileSync(values.json, json);
  else process.stdout.write(json);
  const mb = (bytes: number | null) => (bytes === null ? '?' : (bytes / 1e6).toFixed(1));
  const parts = results.map(
    (r) =>
      `${r.targets.toLocaleString('en-US')} targets: render ${r.renderMsMedian} ms median` +
      (r.naiveOverRender !== null
        ? ` (naive prom-client ${r.naive?.renderMsMedian} ms: ${r.naiveOverRender}x)`
        : '') +
      `, ${mb(r.bytes)} MB (${mb(r.gzipBytes)} MB gzip), longest stall ${r.longestStallMs} ms`,
  );
  process.stdout.write(`${parts.join('; ')}\n`);
});
