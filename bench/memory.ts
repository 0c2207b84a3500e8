/**
 * Benchmark 3: the exporter's resident memory, as the kernel counts it (VmRSS of
 * /proc/PID/status: every thread, the heap, buffers, code):
 *   - after 3 probe cycles at each size (default 20,000 and 100,000 targets);
 *   - over a churn run: NodePorts replaced every second (targets removed and added on
 *     every node), sampled every 5 s after 90 s of churn to warm up. Growth is the
 *     median of the last minute's samples against the first minute's: one sample at
 *     each end says more about where in the garbage collector's saw-tooth it fell than
 *     about a leak.
 * Prometheus scrapes it (gzip) every scrape interval throughout, as in production.
 *
 *   node --import tsx bench/memory.ts [--targets 20000,100000] [--churn-targets 20000]
 *     [--churn-s 600] [--churn-warm-s 90] [--churn 1] [--scrape-interval-s 15] [--json FILE] [-- exporter flags]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Children } from './children.js';
import { clusterFor } from './cluster.js';
import {
  ExporterRun,
  log,
  runBench,
  scrape,
  sleep,
  startClusterListeners,
  tempDir,
} from './exporter-harness.js';
import { machineFacts } from './machine.js';
import { median, round, windowMedians } from './stats.js';

const NAME = 'memory';
const MB = 1024 * 1024;
/** Goals of the issue. */
const GOAL_RSS_MB: Readonly<Record<number, number>> = { 20000: 200, 100000: 400 };
const GOAL_CHURN_GROWTH = 0.1;
const SAMPLE_MS = 5000;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    targets: { type: 'string', default: '20000,100000' },
    cycles: { type: 'string', default: '3' },
    'churn-targets': { type: 'string', default: '20000' },
    'churn-s': { type: 'string', default: '600' },
    // Churn before the measured run starts (see churnRun).
    'churn-warm-s': { type: 'string', default: '90' },
    // Samples per window of the growth figure (5 s each: 12 = a minute).
    'window-samples': { type: 'string', default: '12' },
    churn: { type: 'string', default: '1' },
    'scrape-interval-s': { type: 'string', default: '15' },
    // Options for the exporter's node, e.g. --max-semi-space-size=2 (see the README).
    'node-options': { type: 'string', default: '' },
    json: { type: 'string' },
  },
});
const sizes = String(values.targets)
  .split(',')
  .filter((s) => s !== '')
  .map(Number);
const cycles = Number(values.cycles);
const churnTargets = Number(values['churn-targets']);
const churnMs = Number(values['churn-s']) * 1000;
const churnWarmMs = Number(values['churn-warm-s']) * 1000;
const churnPerStep = Number(values.churn);
const windowSamples = Number(values['window-samples']);
const scrapeIntervalMs = Number(values['scrape-interval-s']) * 1000;
const nodeOptions = String(values['node-options'])
  .split(' ')
  .filter((o) => o !== '');

/** Scrapes every scrapeIntervalMs until stopped, as Prometheus would. */
function scrapeLoop(url: string): { stop: () => Promise<number> } {
  let stopped = false;
  let count = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const result = await scrape(url, { gzip: true }).catch(() => undefined);
      if (result?.status === 200) count++;
      const rest = scrapeIntervalMs - (performance.now() - started);
      for (let waited = 0; waited < rest && !stopped; waited += 250) await sleep(250);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return count;
    },
  };
}

const mb = (bytes: number) => round(bytes / MB, 1);

async function afterCycles(children: Children, targets: number) {
  const cluster = clusterFor(targets);
  const run = await ExporterRun.start(children, {
    cluster,
    exporterFlags: positionals,
    nodeOptions,
  });
  log(
    NAME,
    `${run.targets} targets: waiting for ${cycles} cycles, scraped every ${scrapeIntervalMs / 1000} s`,
  );
  const scraper = scrapeLoop(run.url);
  const started = performance.now();
  await run.waitForCycles(cycles - 1, 20 * 60_000);
  // RSS moves with the garbage collector's phase: sampled through the last cycle too.
  const lastCycle: number[] = [];
  const before = (await run.stats()).cycles;
  for (;;) {
    lastCycle.push(run.memory().rssBytes);
    if ((await run.stats()).cycles > before) break;
    await sleep(1000);
  }
  const scrapes = await scraper.stop();
  const memory = run.memory();
  const stats = await run.stats();
  await run.stop(children);
  const goal = GOAL_RSS_MB[targets];
  log(NAME, `${run.targets} targets: RSS ${mb(memory.rssBytes)} MB after ${cycles} cycles`);
  return {
    targets: run.targets,
    cycles,
    scrapes,
    seconds: round((performance.now() - started) / 1000, 1),
    rssMB: mb(memory.rssBytes),
    lastCycleRssMB: {
      median: mb(median(lastCycle)),
      max: mb(Math.max(...lastCycle)),
      samples: lastCycle.length,
    },
    peakRssMB: mb(memory.peakRssBytes),
    cycleSeconds: stats.cycleSeconds.map((c) => round(c, 2)),
    intervalSeconds: stats.intervalSeconds,
    everyCycleWithinInterval: stats.cycleSeconds.every((c) => c <= stats.intervalSeconds),
    heapUsedMB: mb(stats.heapUsedBytes),
    heapTotalMB: mb(stats.heapTotalBytes),
    externalMB: mb(stats.externalBytes),
    arrayBuffersMB: mb(stats.arrayBuffersBytes),
    ...(goal !== undefined && { goalRssMB: goal, goalMet: memory.rssBytes / MB <= goal }),
  };
}

async function churnRun(children: Children) {
  const cluster = clusterFor(churnTargets, churnPerStep);
  const run = await ExporterRun.start(children, {
    cluster,
    exporterFlags: positionals,
    nodeOptions,
  });
  log(NAME, `churn: ${run.targets} targets, ${churnPerStep} NodePort(s) replaced every second`);
  const scraper = scrapeLoop(run.url);
  // Warm: the first cycles, the first scrapes, the JIT, and --churn-warm-s of churn;
  // then the measured run starts. The start's burst leaves V8 with a large
  // old-generation limit: the first minute after it climbs to that limit and falls at
  // the first full collection (181 -> 228 -> 174 MB in the 00:57 run), a step of the
  // collector's sizing, not of the churn, that a first window compared with the last
  // would read as a 14% shrink. The warm-up's samples are kept apart in the report.
  await run.waitForCycles(cycles, 20 * 60_000);
  const warmSamples: { atSeconds: number; rssMB: number }[] = [];
  const warmStarted = performance.now();
  while (performance.now() - warmStarted < churnWarmMs) {
    warmSamples.push({
      atSeconds: round((performance.now() - warmStarted) / 1000, 1),
      rssMB: mb(run.memory().rssBytes),
    });
    await sleep(Math.min(SAMPLE_MS, churnWarmMs - (performance.now() - warmStarted)));
  }
  await run.command('replans');
  const samples: { atSeconds: number; rssMB: number }[] = [];
  const started = performance.now();
  const sample = () => {
    const { rssBytes } = run.memory();
    samples.push({
      atSeconds: round((performance.now() - started) / 1000, 1),
      rssMB: mb(rssBytes),
    });
  };
  sample();
  const before = await run.stats();
  while (performance.now() - started < churnMs) {
    await sleep(Math.min(SAMPLE_MS, churnMs - (performance.now() - started)));
    sample();
    const last = samples[samples.length - 1];
    if (samples.length % 12 === 0 && last)
      log(NAME, `churn: ${last.atSeconds} s, RSS ${last.rssMB} MB`);
  }
  const after = await run.stats();
  const replans = await run.command<{ count: number; medianMs: number; maxMs: number }>('replans');
  const scrapes = await scraper.stop();
  const memory = run.memory();
  await run.stop(children);
  const start = samples[0]?.rssMB ?? Number.NaN;
  const end = samples[samples.length - 1]?.rssMB ?? Number.NaN;
  // A short run has fewer than two windows: then halves of it.
  const size = Math.max(1, Math.min(windowSamples, Math.floor(samples.length / 2)));
  const windows = windowMedians(
    samples.map((s) => s.rssMB),
    size,
  );
  const firstWindow = windows[0] ?? Number.NaN;
  const lastWindow = windows[windows.length - 1] ?? Number.NaN;
  const growth = (lastWindow - firstWindow) / firstWindow;
  return {
    targets: run.targets,
    churnPerSecond: {
      nodePorts: churnPerStep,
      targetsRemoved: churnPerStep * cluster.nodes,
      targetsAdded: churnPerStep * cluster.nodes,
    },
    seconds: round(churnMs / 1000, 0),
    warmSeconds: round(churnWarmMs / 1000, 0),
    warmSamples,
    targetsReplaced: (after.replans - before.replans) * churnPerStep * cluster.nodes,
    scrapes,
    startRssMB: start,
    endRssMB: end,
    windowSeconds: (size * SAMPLE_MS) / 1000,
    windowMedianRssMB: windows.map((w) => round(w, 1)),
    firstWindowMedianRssMB: round(firstWindow, 1),
    lastWindowMedianRssMB: round(lastWindow, 1),
    growthHow: 'last window median / first window median - 1',
    pointGrowth: round((end - start) / start, 3),
    minRssMB: Math.min(...samples.map((s) => s.rssMB)),
    maxRssMB: Math.max(...samples.map((s) => s.rssMB)),
    medianRssMB: median(samples.map((s) => s.rssMB)),
    peakRssMB: mb(memory.peakRssBytes),
    growth: round(growth, 3),
    goalGrowthAtMost: GOAL_CHURN_GROWTH,
    goalMet: Math.abs(growth) <= GOAL_CHURN_GROWTH,
    // Each replan (planner, store, scheduler) runs on the loop, between probes.
    replans: {
      count: replans.count,
      medianMs: round(replans.medianMs, 1),
      maxMs: round(replans.maxMs, 1),
    },
    cpuShareOfOneCore: round(
      (after.cpuSeconds - before.cpuSeconds) / ((performance.now() - started) / 1000),
      3,
    ),
    samples,
  };
}

const children = new Children();
runBench(NAME, children, async () => {
  const dir = tempDir('ipe-memory-');
  const machine = machineFacts();
  const churnCluster = clusterFor(churnTargets, churnPerStep);
  const listeners = await startClusterListeners(children, dir, churnCluster);
  const bySize = [];
  for (const targets of sizes) bySize.push(await afterCycles(children, targets));
  const churn = churnMs > 0 ? await churnRun(children) : null;
  await children.stop(listeners);

  const report = {
    benchmark: NAME,
    finishedAt: new Date().toISOString(),
    machine,
    settings: {
      nodeOptions,
      cycles,
      scrapeIntervalSeconds: scrapeIntervalMs / 1000,
      exporterFlags: positionals,
    },
    afterCycles: bySize,
    churn,
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (values.json !== undefined) writeFileSync(values.json, json);
  else process.stdout.write(json);
  const parts = bySize.map(
    (r) =>
      `${r.targets.toLocaleString('en-US')} targets: RSS ${r.rssMB} MB after ${cycles} cycles ` +
      `(${r.lastCycleRssMB.median} median, ${r.lastCycleRssMB.max} max over the last; peak ${r.peakRssMB})`,
  );
  if (churn) {
    parts.push(
      `churn ${churn.seconds} s at ${churn.targets.toLocaleString('en-US')} targets ` +
        `(${churn.churnPerSecond.targetsAdded} added and removed per second): ` +
        `RSS median ${churn.firstWindowMedianRssMB} -> ${churn.lastWindowMedianRssMB} MB over ` +
        `${churn.windowSeconds} s windows (${round(churn.growth * 100, 1)}%), ` +
        `replan ${churn.replans.medianMs} ms median`,
    );
  }
  process.stdout.write(`${parts.join('; ')}\n`);
});
