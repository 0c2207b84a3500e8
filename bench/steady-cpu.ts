/**
 * Benchmark 5: the exporter's CPU in steady state: the real exporter at 20,000
 * targets and a 15 s interval, scraped (gzip) every 15 s as Prometheus would, over a
 * window after the first cycles. CPU is utime+stime of every thread of the process
 * (/proc/PID/stat), divided by the window's wall time: the share of one core.
 *
 *   node --import tsx bench/steady-cpu.ts [--targets 20000] [--window-s 120]
 *     [--scrape-interval-s 15] [--json FILE] [-- exporter flags, e.g. --probe.interval=15s]
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
import { round } from './stats.js';

const NAME = 'steady-cpu';
const GOAL_SHARE = 0.12;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    targets: { type: 'string', default: '20000' },
    'window-s': { type: 'string', default: '120' },
    'warmup-cycles': { type: 'string', default: '2' },
    'scrape-interval-s': { type: 'string', default: '15' },
    // Options for the exporter's node, e.g. --max-semi-space-size=2 (see the README).
    'node-options': { type: 'string', default: '' },
    json: { type: 'string' },
  },
});
const windowMs = Number(values['window-s']) * 1000;
const scrapeIntervalMs = Number(values['scrape-interval-s']) * 1000;
const warmupCycles = Number(values['warmup-cycles']);
const nodeOptions = String(values['node-options'])
  .split(' ')
  .filter((o) => o !== '');

const children = new Children();
runBench(NAME, children, async () => {
  const dir = tempDir('ipe-cpu-');
  const machine = machineFacts();
  const cluster = clusterFor(Number(values.targets));
  const listeners = await startClusterListeners(children, dir, cluster);
  const run = await ExporterRun.start(children, {
    cluster,
    exporterFlags: positionals,
    nodeOptions,
  });
  log(NAME, `${run.targets} targets: warming up for ${warmupCycles} cycles`);
  await run.waitForCycles(warmupCycles, 10 * 60_000);

  log(NAME, `measuring for ${windowMs / 1000} s`);
  const before = await run.stats();
  const cpuBefore = run.cpuSeconds();
  const started = performance.now();
  let scrapes = 0;
  let scrapeCpuSeconds = 0;
  let nextScrape = started;
  while (performance.now() - started < windowMs) {
    if (performance.now() >= nextScrape) {
      const cpu = run.cpuSeconds();
      const result = await scrape(run.url, { gzip: true });
      if (result.status !== 200) throw new Error(`scrape answered ${result.status}`);
      scrapeCpuSeconds += run.cpuSeconds() - cpu;
      scrapes++;
      nextScrape += scrapeIntervalMs;
    }
    await sleep(Math.max(0, Math.min(nextScrape, started + windowMs) - performance.now()));
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuSeconds = run.cpuSeconds() - cpuBefore;
  const after = await run.stats();
  await run.stop(children);
  await children.stop(listeners);

  const share = cpuSeconds / wallSeconds;
  const probes = after.tcpProbes - before.tcpProbes;
  const report = {
    benchmark: NAME,
    finishedAt: new Date().toISOString(),
    machine,
    settings: {
      targets: run.targets,
      windowSeconds: round(wallSeconds, 1),
      warmupCycles,
      scrapeIntervalSeconds: scrapeIntervalMs / 1000,
      exporterFlags: positionals,
      nodeOptions,
    },
    cpuSeconds: round(cpuSeconds, 2),
    cpuShareOfOneCore: round(share, 3),
    probes,
    cycles: after.cycles - before.cycles,
    cpuSecondsPer1kProbes: round((cpuSeconds / probes) * 1000, 4),
    scrapes,
    // CPU while a scrape was served (render, gzip, write), probing in the same moments included.
    scrapeCpuSeconds: round(scrapeCpuSeconds, 2),
    goalShareAtMost: GOAL_SHARE,
    goalMet: share <= GOAL_SHARE,
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (values.json !== undefined) writeFileSync(values.json, json);
  else process.stdout.write(json);
  process.stdout.write(
    `${round(share * 100, 1)}% of one core at ${run.targets.toLocaleString('en-US')} targets ` +
      `(${probes.toLocaleString('en-US')} probes and ${scrapes} scrapes in ${round(wallSeconds, 0)} s; ` +
      `scrapes ${round(scrapeCpuSeconds, 2)} CPU s of ${round(cpuSeconds, 2)})\n`,
  );
});
