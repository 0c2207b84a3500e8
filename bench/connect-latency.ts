/**
 * Benchmark: how true the reported connect time is. On the network test bed (veths
 * between namespaces, test/helpers/testbed.ts), every open port is connected to by a
 * plain blocking connect() (Python, the reference), by the exporter
 * (imanager_port_connect_duration_seconds) and by `check --output=json` (latencySeconds),
 * both as built (`node dist/main.js`, after npm run build), several rounds each, one
 * after the other so they do not load each other. The error of a sample is its time
 * less the median reference time of the same port; the headline is the error at p50 and
 * p95 for the exporter and for check (goal: p95 within 1 ms).
 *
 *   node --import tsx bench/connect-latency.ts [--rounds 10] [--json FILE]
 *
 * Needs root (it builds namespaces) and what the test bed needs.
 */

import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { collect } from '../test/helpers/node-child.js';
import { type BedTarget, createTestbed, type Testbed } from '../test/helpers/testbed.js';
import { ReferenceProber } from '../test/helpers/testbed-reference.js';
import { parseExposition } from '../test/metrics/exposition.js';
import { builtMain } from './compile.js';
import { machineFacts } from './machine.js';
import { median, round } from './stats.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    json: { type: 'string' },
  },
});
const rounds = Math.max(1, Number(values.rounds));
const GOAL_P95_MS = 1;

const idOf = (node: string, ip: string, port: number | string) => `${node} ${ip}:${port}`;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

async function scrape(bed: Testbed, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(`${url}/metrics`)}).then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const result = await collect(
    bed.vantage.spawn(process.execPath, ['-e', script], { timeoutMs: 10_000 }),
  );
  if (result.code !== 0) throw new Error(`scrape failed: ${result.stderr}`);
  return result.stdout;
}

/** Reference: `rounds` plain connects per open port, port after port. */
async function referenceTimes(bed: Testbed, open: readonly BedTarget[]) {
  const prober = new ReferenceProber(bed.vantage);
  const times = new Map<string, number[]>();
  try {
    for (let r = 0; r < rounds; r++) {
      for (const t of open) {
        const { outcome, seconds } = await prober.connect(t.ip, t.port, { timeoutSeconds: 5 });
        if (outcome !== 'connected') throw new Error(`${t.id}: reference got ${outcome}`);
        const id = idOf(t.node, t.ip, t.port);
        times.set(id, [...(times.get(id) ?? []), seconds]);
      }
    }
  } finally {
    prober.close();
  }
  return times;
}

/** The exporter's reported connect times over `rounds` cycles of 5 s (spread, as in production). */
async function exporterTimes(bed: Testbed, config: string, open: readonly BedTarget[]) {
  const child = bed.vantage.spawn(
    process.execPath,
    [
      MAIN,
      '--web.listen-address=127.0.0.1:0',
      `--config.file=${config}`,
      '--probe.interval=5s',
      '--probe.timeout=500ms',
      '--probe.icmp=off',
    ],
    { timeoutMs: 120_000 + rounds * 6000 },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const times = new Map<string, number[]>();
  try {
    let url: string | undefined;
    for (let i = 0; i < 200 && !url; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      url = /"msg":"listening","url":"([^"]+)"/.exec(log)?.[1];
    }
    if (!url) throw new Error(`the exporter did not start:\n${log}`);
    let lastCycle: string | undefined;
    let cycles = 0;
    // Once a second: a scrape is work on the exporter's loop, and this measures the loop.
    for (let i = 0; i < (rounds + 2) * 6 && cycles < rounds + 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const { samples } = parseExposition(await scrape(bed, url));
      const cycle = samples.find((s) => s.name === 'imanager_probe_cycle_duration_seconds')?.value;
      if (cycle === undefined || cycle === lastCycle) continue;
      lastCycle = cycle;
      // The first (burst) cycle is left out: start-up work shares its loop.
      if (cycles++ === 0) continue;
      const wanted = new Set(open.map((t) => idOf(t.node, t.ip, t.port)));
      for (const s of samples) {
        if (s.name !== 'imanager_port_connect_duration_seconds') continue;
        const id = idOf(s.labels.node ?? '', s.labels.ip ?? '', s.labels.port ?? '');
        if (wanted.has(id)) times.set(id, [...(times.get(id) ?? []), Number(s.value)]);
      }
    }
  } finally {
    child.kill('SIGTERM');
  }
  return times;
}

/** check's reported latency over `rounds` runs. */
async function checkTimes(bed: Testbed, config: string, open: readonly BedTarget[]) {
  const wanted = new Set(open.map((t) => idOf(t.node, t.ip, t.port)));
  const times = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    const result = await collect(
      bed.vantage.spawn(
        process.execPath,
        [
          MAIN,
          'check',
          `--config.file=${config}`,
          '--probe.timeout=500ms',
          '--probe.icmp=off',
          '--output=json',
        ],
        { timeoutMs: 120_000 },
      ),
    );
    const report = JSON.parse(result.stdout) as {
      targets: { node: string; ip: string; port: number; latencySeconds: number | null }[];
    };
    for (const t of report.targets) {
      const id = idOf(t.node, t.ip, t.port);
      if (wanted.has(id) && t.latencySeconds !== null) {
        times.set(id, [...(times.get(id) ?? []), t.latencySeconds]);
      }
    }
  }
  return times;
}

/** Errors in ms against each port's median reference: p50 and p95 of their sizes. */
function errors(measured: ReadonlyMap<string, number[]>, reference: ReadonlyMap<string, number[]>) {
  const all: number[] = [];
  for (const [id, samples] of measured) {
    const base = median(reference.get(id) ?? []);
    for (const seconds of samples) all.push(Math.abs(seconds - base) * 1000);
  }
  all.sort((a, b) => a - b);
  return {
    samples: all.length,
    p50Ms: round(percentile(all, 50), 3),
    p95Ms: round(percentile(all, 95), 3),
    goalP95Ms: GOAL_P95_MS,
    met: percentile(all, 95) <= GOAL_P95_MS,
  };
}

const facts = machineFacts();
// As production runs them (node dist/main.js): under tsx the loader's own work shares
// the cores with the probes being timed (bench/compile.ts).
const MAIN = builtMain();
const bed = await createTestbed({ dnsNames: 0 });
const dir = await mkdtemp(join(tmpdir(), 'ipe-latency-'));
try {
  const config = join(dir, 'config.yml');
  // Literal nodes only: a name's lookup is not the connect being timed.
  const { targets } = await bed.writeExporterConfig(config, {
    nodes: (n) => n.resolution === 'literal' && n.group === 'worker',
  });
  const open = targets.filter((t) => t.state === 'open');
  const reference = await referenceTimes(bed, open);
  const exporter = await exporterTimes(bed, config, open);
  const check = await checkTimes(bed, config, open);
  const all = [...reference.values()].flat().sort((a, b) => a - b);
  const result = {
    benchmark: 'connect-latency',
    ...facts,
    openPorts: open.length,
    rounds,
    referenceConnectMs: {
      p50: round(percentile(all, 50) * 1000, 3),
      p95: round(percentile(all, 95) * 1000, 3),
    },
    exporterError: errors(exporter, reference),
    checkError: errors(check, reference),
    loadAverage1mAtEnd: round(loadavg()[0] ?? 0, 2),
  };
  const json = `${JSON.stringify(result, null, 2)}\n`;
  // As the other benchmarks: the JSON to its file, the summary line on stdout.
  if (values.json !== undefined) writeFileSync(values.json, json);
  else process.stdout.write(json);
  process.stdout.write(
    `connect-latency: error against plain connect() on a veth, exporter p50 ${result.exporterError.p50Ms} ms p95 ${result.exporterError.p95Ms} ms; check p50 ${result.checkError.p50Ms} ms p95 ${result.checkError.p95Ms} ms (goal p95 <= ${GOAL_P95_MS} ms)\n`,
  );
} finally {
  await bed.close();
  await rm(dir, { recursive: true, force: true });
}
