/**
 * Soak (not CI): the exporter runs for a while (10 minutes by default) with 20,000
 * targets while its config is rewritten and reloaded with SIGHUP every 30 s, a tenth
 * of the nodes replaced each time, and Prometheus-like clients scrape it. Reports its
 * RSS and open file descriptors at the start and at the end (and the highest seen),
 * so a leak shows as growth that does not level off.
 *
 *   sudo node --import tsx bench/soak.ts [--minutes 10] [--nodes 1250] [--churn-seconds 30]
 *
 * Everything runs inside a network namespace it makes (root needed): the targets are
 * 127.1.x.y there, where nothing listens, so every probe is refused and no real
 * service is touched. Prints one JSON object, then a one-line summary.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROLES } from '../src/catalog/types.js';
import { createNetns } from '../test/helpers/netns.js';
import { collect } from '../test/helpers/node-child.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    nodes: { type: 'string', default: '1250' },
    'churn-seconds': { type: 'string', default: '30' },
    'interval-seconds': { type: 'string', default: '15' },
  },
});
const MINUTES = Number(values.minutes);
const NODES = Number(values.nodes);
const CHURN_S = Number(values['churn-seconds']);
const INTERVAL_S = Number(values['interval-seconds']);
const URL = 'http://127.0.0.1:19101';
/** Each reload replaces this share of the nodes. */
const CHURN_SHARE = 0.1;

interface Reading {
  readonly atSeconds: number;
  readonly rssMB: number;
  readonly fds: number;
}

function read(pid: number, startedAt: number): Reading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return {
    atSeconds: Math.round((Date.now() - startedAt) / 1000),
    rssMB: Math.round(rssKB / 102.4) / 10,
    fds: readdirSync(`/proc/${pid}/fd`).length,
  };
}

/**
 * The config of generation g: NODES nodes in batches of a tenth; generation g renews
 * batch (g - 1) mod batches, giving its nodes new names and addresses, so each reload
 * removes a tenth of the targets and adds as many new ones.
 */
function configText(generation: number): string {
  const lines = ['nodes:'];
  const perBatch = Math.max(1, Math.floor(NODES * CHURN_SHARE));
  const batches = Math.ceil(NODES / perBatch);
  for (let i = 0; i < NODES; i++) {
    const batch = Math.floor(i / perBatch);
    const renewals = generation > batch ? Math.floor((generation - 1 - batch) / batches) + 1 : 0;
    const id = i + renewals * NODES;
    const address = `127.1.${Math.floor(id / 250) % 250}.${(id % 250) + 1}`;
    lines.push(`  - { name: node-${id}, address: ${address}, roles: [${ROLES.join(', ')}] }`);
  }
  return `${lines.join('\n')}\n`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const ns = await createNetns('soak');
  const dir = await mkdtemp(join(tmpdir(), 'ipe-soak-'));
  const config = join(dir, 'config.yml');
  let generation = 0;
  await writeFile(config, configText(generation));
  let log = '';
  const exporter = ns.spawnNode(
    'src/main.ts',
    [
      `--config.file=${config}`,
      '--web.listen-address=127.0.0.1:19101',
      `--probe.interval=${INTERVAL_S}s`,
      '--probe.icmp=off',
    ],
    { timeoutMs: (MINUTES * 60 + 300) * 1000 },
  );
  exporter.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  const pid = exporter.pid as number;
  try {
    // Wait for the first full cycle, then start counting.
    for (let i = 0; i < 120; i++) {
      const ready = await ns.runNode('test/fixtures/fetch.ts', [`${URL}/-/ready`]);
      if (ready.stdout.startsWith('200')) break;
      await sleep(1000);
    }
    const startedAt = Date.now();
    const readings: Reading[] = [read(pid, startedAt)];
    // Steady scrapes, one a second over two connections: a few Prometheus servers' worth.
    const scrapers = collect(
      ns.spawnNode(
        'test/faults/scrape-storm.ts',
        [`${URL}/metrics`, '2', String(MINUTES * 60), '1'],
        { timeoutMs: (MINUTES * 60 + 120) * 1000 },
      ),
    );
    const endAt = startedAt + MINUTES * 60_000;
    let nextChurn = startedAt + CHURN_S * 1000;
    while (Date.now() < endAt) {
      await sleep(Math.min(10_000, Math.max(0, endAt - Date.now())));
      readings.push(read(pid, startedAt));
      if (Date.now() >= nextChurn && Date.now() < endAt) {
        generation += 1;
        await writeFile(config, configText(generation));
        process.kill(pid, 'SIGHUP');
        nextChurn += CHURN_S * 1000;
      }
    }
    const scraped = await scrapers;
    if (scraped.code !== 0) throw new Error(`the scrapers failed: ${scraped.stderr}`);
    const storm = JSON.parse(scraped.stdout) as Record<string, unknown>;
    const lines = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; durationSeconds?: number });
    const overruns = lines.filter((l) => l.msg === 'probe cycle took longer than the interval');
    const first = readings[0] as Reading;
    const last = readings.at(-1) as Reading;
    const result = {
      minutes: MINUTES,
      targets: NODES * 16,
      intervalSeconds: INTERVAL_S,
      reloadsSent: generation,
      reloadsDone: lines.filter((l) => l.msg === 'configuration reloaded').length,
      reloadsRefused: lines.filter((l) => l.msg.startsWith('configuration reload refused')).length,
      cyclesOverrun: overruns.length,
      longestOverrunSeconds: Math.max(0, ...overruns.map((l) => l.durationSeconds ?? 0)),
      scrapes: storm.requests,
      failedScrapes: {
        errors: storm.errors,
        timeouts: storm.timeouts,
        non2xx: storm.non2xx,
      },
      start: first,
      end: last,
      maxRssMB: Math.max(...readings.map((r) => r.rssMB)),
      maxFds: Math.max(...readings.map((r) => r.fds)),
      readings,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `soak: ${MINUTES} min, ${result.targets} targets, ${result.reloadsDone}/${generation} reloads: ` +
        `RSS ${first.rssMB} -> ${last.rssMB} MB (max ${result.maxRssMB}), ` +
        `fds ${first.fds} -> ${last.fds} (max ${result.maxFds}), ` +
        `${String(storm.requests)} scrapes, ${String(storm.errors)} failed, ` +
        `${result.cyclesOverrun} cycles overran\n`,
    );
  } finally {
    exporter.kill('SIGTERM');
    await ns.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
