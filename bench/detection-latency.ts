/**
 * Benchmark 4: detection latency. A port that was open closes (its listener stops);
 * how long until /metrics shows imanager_port_up 0 for it? Measured from just before
 * the listener closes to the first /metrics response that shows 0, polled every
 * --poll-ms, over --trials trials at a random phase of the probe interval each.
 *
 *   node --import tsx bench/detection-latency.ts [--trials 20] [--targets 1000]
 *     [--interval 1s] [--timeout 500ms] [--poll-ms 25] [--json FILE] [-- exporter flags]
 *
 * The goal is interval + timeout + 1 s: a probe that starts just before the close
 * still finds it open, so the worst case waits one interval for the next probe, up
 * to one timeout for its answer, and then the scrape.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/config/duration.js';
import { Children } from './children.js';
import { clusterFor, clusterNodes, nodePortAt } from './cluster.js';
import {
  ExporterRun,
  log,
  runBench,
  scrape,
  sleep,
  startClusterListeners,
  tempDir,
} from './exporter-harness.js';
import { portUp } from './exposition.js';
import { machineFacts } from './machine.js';
import { median, round } from './stats.js';

const NAME = 'detection-latency';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    trials: { type: 'string', default: '20' },
    targets: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '1s' },
    // Less than the interval, as the exporter requires.
    timeout: { type: 'string', default: '500ms' },
    'poll-ms': { type: 'string', default: '25' },
    json: { type: 'string' },
  },
});
const trials = Number(values.trials);
const intervalMs = parseDuration(String(values.interval)) ?? Number.NaN;
const timeoutMs = parseDuration(String(values.timeout)) ?? Number.NaN;
const pollMs = Number(values['poll-ms']);
const goalMs = intervalMs + timeoutMs + 1000;

async function listen(address: string, port: number): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  server.listen(port, address);
  await once(server, 'listening');
  return server;
}

/** Polls /metrics until the target's imanager_port_up is `value`; resolves with when it saw it. */
async function waitForUp(
  url: string,
  address: string,
  port: number,
  value: string,
  limitMs: number,
) {
  const started = performance.now();
  for (;;) {
    const result = await scrape(url, { gzip: false });
    const seenAt = performance.now();
    if (portUp(result.body.toString('latin1'), address, port) === value) return seenAt;
    if (seenAt - started > limitMs) {
      throw new Error(
        `imanager_port_up{address="${address}",port="${port}"} not ${value} after ${limitMs} ms`,
      );
    }
    await sleep(pollMs);
  }
}

const children = new Children();
runBench(NAME, children, async () => {
  const dir = tempDir('ipe-detect-');
  const machine = machineFacts();
  const cluster = clusterFor(Number(values.targets));
  const listeners = await startClusterListeners(children, dir, cluster);
  // A NodePort without a cluster listener (offset 1), opened on the first node only.
  const node = clusterNodes(cluster)[0];
  if (!node) throw new Error('no node');
  const address = node.addresses[0] as string;
  const port = nodePortAt(1).nodePort;
  let server = await listen(address, port);
  const run = await ExporterRun.start(children, {
    cluster,
    exporterFlags: [
      `--probe.interval=${values.interval}`,
      `--probe.timeout=${values.timeout}`,
      ...positionals,
    ],
  });
  log(
    NAME,
    `${run.targets} targets, interval ${values.interval}, timeout ${values.timeout}; watching ${address}:${port}`,
  );

  const latenciesMs: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    await waitForUp(run.url, address, port, '1', goalMs * 5);
    // A random phase of the interval, so the trials sample every moment of a cycle.
    await sleep(Math.random() * intervalMs);
    const closedAt = performance.now();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const seenAt = await waitForUp(run.url, address, port, '0', goalMs * 5);
    latenciesMs.push(seenAt - closedAt);
    log(NAME, `trial ${trial + 1}: ${(seenAt - closedAt).toFixed(0)} ms`);
    server = await listen(address, port);
  }
  server.close();
  await run.stop(children);
  await children.stop(listeners);

  const report = {
    benchmark: NAME,
    finishedAt: new Date().toISOString(),
    machine,
    settings: {
      targets: run.targets,
      intervalMs,
      timeoutMs,
      pollMs,
      trials,
      exporterFlags: positionals,
    },
    medianMs: round(median(latenciesMs), 0),
    maxMs: round(Math.max(...latenciesMs), 0),
    minMs: round(Math.min(...latenciesMs), 0),
    goalMs,
    goalMet: Math.max(...latenciesMs) <= goalMs,
    latenciesMs: latenciesMs.map((ms) => round(ms, 0)),
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (values.json !== undefined) writeFileSync(values.json, json);
  else process.stdout.write(json);
  process.stdout.write(
    `closed port seen as imanager_port_up 0 after ${report.medianMs} ms median, ${report.maxMs} ms max ` +
      `(${trials} trials, interval ${values.interval}, timeout ${values.timeout}, ${run.targets.toLocaleString('en-US')} targets; goal ${goalMs} ms)\n`,
  );
});
