/**
 * Serving under abuse and at scale (issue 13): the real program (dist/main.js, built
 * from this tree first) probes N targets on 127.1.x.y, where nothing
 * listens (every probe refused, on loopback only), and is served to clients that
 * misbehave. Each figure is printed beside its goal, and as a ratio to a baseline
 * measured in the same run:
 *   - RSS growth with 30 clients that never read (goal: under 40 MiB), and how much of
 *     it the first of them brings (the one body) against what the other 29 add;
 *   - scrape latency from 127.0.0.2 while 300 slow-header connections from 127.0.0.1
 *     are open, and during a wrong-password flood (goal: within 2x of the idle scrape);
 *   - event-loop delay p99 and max with 50 scrapers and 4 status-page clients (goal at
 *     20k: p99 <= 25 ms, max <= 100 ms), from a preloaded monitorEventLoopDelay;
 *   - connect-time p50/p95 of the probes, from /metrics, with and without that load
 *     (goal: within 1 ms);
 *   - /metrics scrape time and size, the status page's size and time (goal at 100k:
 *     scrape <= 1 s, page <= 1 MB and <= 200 ms).
 *
 *   node --import tsx bench/serving.ts [--quick] [--targets 20000,100000] [--json FILE]
 *
 * With --json (bench/run.sh), the report goes to FILE and stdout gets a one-line summary.
 *
 * --quick: 2,000 targets and short phases, for a smoke run that the bench still works.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import bcrypt from 'bcryptjs';
import { ROLES } from '../src/catalog/types.js';
import { builtMain } from './compile.js';
import { REPO_ROOT, sleep, tempDir } from './exporter-harness.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string' },
    json: { type: 'string' },
  },
});
const QUICK = values.quick ?? false;
const SIZES = (values.targets ?? (QUICK ? '2000' : '20000,100000')).split(',').map(Number);
/** The probe interval; the storm outlasts it, so the loaded connect times were all probed under load. */
const INTERVAL_SECONDS = QUICK ? 4 : 15;
const STORM_SECONDS = INTERVAL_SECONDS + 5;
const LOOP_DELAY = join(REPO_ROOT, 'test/faults/loop-delay.mjs');
const PORTS_PER_NODE = 20; // every catalog port on a node with every role
const USER_HASH = bcrypt.hashSync('right', 10);

/** The program as users run it, built from this tree: never a stale dist/. */
function entryArgv(): string[] {
  return [builtMain()];
}

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  log: string;
  stop(): Promise<void>;
}

async function startExporter(
  dir: string,
  targets: number,
  web?: { file: string; authorization: string },
): Promise<Running> {
  const nodes = Math.ceil(targets / PORTS_PER_NODE);
  const lines = ['nodes:'];
  for (let i = 0; i < nodes; i++) {
    const address = `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    lines.push(`  - { name: node-${i}, address: ${address}, roles: [${ROLES.join(', ')}] }`);
  }
  const config = join(dir, `config-${targets}.yml`);
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child = spawn(
    process.execPath,
    [
      ...entryArgv(),
      `--config.file=${config}`,
      '--web.listen-address=127.0.0.1:0',
      '--probe.icmp=off',
      `--probe.interval=${INTERVAL_SECONDS}s`,
      ...(web ? [`--web.config.file=${web.file}`] : []),
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_OPTIONS: `--import=${LOOP_DELAY}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const running: Running = {
    child,
    url: '',
    log: '',
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
  child.stderr?.on('data', (chunk: Buffer) => {
    running.log += chunk.toString();
  });
  process.once('exit', () => child.kill('SIGKILL'));
  for (let i = 0; i < 600; i++) {
    const url = /"msg":"listening","url":"([^"]+)"/.exec(running.log)?.[1];
    if (url) {
      (running as { url: string }).url = url;
      break;
    }
    if (child.exitCode !== null) throw new Error(`exporter exited: ${running.log}`);
    await sleep(100);
  }
  // Ready once the first full cycle is in.
  for (let i = 0; i < 600; i++) {
    const ready = await get(`${running.url}/-/ready`, {
      ...(web && { authorization: web.authorization }),
    });
    if (ready.status === 200) return running;
    await sleep(500);
  }
  throw new Error(`not ready: ${running.log.slice(-2000)}`);
}

interface Got {
  readonly status: number;
  readonly ms: number;
  readonly bytes: number;
  readonly body: Buffer;
}

function get(
  url: string,
  options: { gzip?: boolean; localAddress?: string; authorization?: string } = {},
): Promise<Got> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        agent: false,
        ...(options.localAddress && { localAddress: options.localAddress }),
        headers: {
          ...(options.gzip && { 'accept-encoding': 'gzip' }),
          ...(options.authorization && { authorization: options.authorization }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            bytes: body.length,
            body,
          });
        });
        res.on('error', () =>
          resolve({ status: 0, ms: Number.NaN, bytes: 0, body: Buffer.alloc(0) }),
        );
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error('timed out')));
    // A failed request is a figure (status 0), not the end of the run.
    req.on('error', () =>
      resolve({ status: 0, ms: performance.now() - started, bytes: 0, body: Buffer.alloc(0) }),
    );
    req.end();
  });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

async function scrapeMedianMs(url: string, n: number, options: Parameters<typeof get>[1] = {}) {
  const times: number[] = [];
  for (let i = 0; i < n; i++)
    times.push((await get(`${url}/metrics`, { gzip: true, ...options })).ms);
  return median(times);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Connect times (ms) of every target with a result, from one scrape. */
async function connectTimes(url: string): Promise<number[]> {
  const text = (await get(`${url}/metrics`)).body.toString();
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('imanager_port_connect_duration_seconds{')) continue;
    out.push(Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000);
  }
  return out;
}

function stalledClient(url: string, head: string, localAddress = '127.0.0.1'): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(port), host: '127.0.0.1', localAddress }, () => {
      socket.pause();
      socket.write(head);
      resolve(socket);
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

/** The stall report of the preloaded monitor since the last SIGUSR2. */
async function loopDelay(run: Running): Promise<{ p99: number; max: number }> {
  const from = run.log.length;
  run.child.kill('SIGUSR2');
  for (let i = 0; i < 100; i++) {
    const line = run.log
      .slice(from)
      .split('\n')
      .find((l) => l.includes('"event loop delay"'));
    if (line) {
      const r = JSON.parse(line) as { p99StallMs: number; maxStallMs: number };
      return { p99: r.p99StallMs, max: r.maxStallMs };
    }
    await sleep(50);
  }
  throw new Error('no event loop report');
}

async function measure(targets: number, dir: string) {
  const figures: Record<string, unknown> = { targets };
  const run = await startExporter(dir, targets);
  try {
    const pid = run.child.pid as number;
    const idle = await scrapeMedianMs(run.url, 5);
    const one = await get(`${run.url}/metrics`);
    const zipped = await get(`${run.url}/metrics`, { gzip: true });
    const page = await get(`${run.url}/`);
    figures.scrape = { idleGzipMs: idle, bytes: one.bytes, gzipBytes: zipped.bytes };
    figures.statusPage = { ms: page.ms, bytes: page.bytes };

    // 30 clients that never read, half asking for gzip. RSS is read once after the
    // first (which holds the one body every response needs: 82 MB at 100k, handed back
    // to the kernel between scrapes) and again after all 30: the difference is what the
    // other 29 add. The goal is judged on growth over idle, as the issue states it.
    const rssBefore = rssMiB(pid);
    const stalled: Socket[] = [];
    let rssOne = rssBefore;
    for (let i = 0; i < 30; i++) {
      const gzip = i % 2 ? 'Accept-Encoding: gzip\r\n' : '';
      const socket = await stalledClient(
        run.url,
        `GET /metrics HTTP/1.1\r\nHost: x\r\n${gzip}\r\n`,
      ).catch(() => undefined);
      if (socket) stalled.push(socket);
      if (i === 0) {
        await sleep(2000);
        rssOne = rssMiB(pid);
      }
      await sleep(QUICK ? 20 : 100);
    }
    await sleep(2000);
    const rssStalled = rssMiB(pid);
    figures.neverReading = {
      clients: 30,
      rssGrowthMiB: rssStalled - rssBefore,
      oneClientGrowthMiB: rssOne - rssBefore,
      othersGrowthMiB: rssStalled - rssOne,
      goalMiB: 40,
    };
    for (const s of stalled.splice(0)) s.destroy();

    // 300 slow-header connections from one address, scraped from another.
    for (let i = 0; i < 300; i++) {
      const socket = await stalledClient(run.url, 'GET /metr').catch(() => undefined);
      if (socket) stalled.push(socket);
    }
    const slowHeaders = await scrapeMedianMs(run.url, 5, { localAddress: '127.0.0.2' });
    figures.slowHeaders = {
      connections: 300,
      scrapeMs: slowHeaders,
      ratioToIdle: slowHeaders / idle,
      goalRatio: 2,
    };
    for (const s of stalled.splice(0)) s.destroy();

    // 50 scrapers and 4 status-page clients: loop delay and connect times. The quiet
    // figures wait an interval and a bit first, so that every target was last probed
    // with no client at all (the phases above load the server too).
    await sleep((INTERVAL_SECONDS + 3) * 1000);
    const quiet = await connectTimes(run.url);
    await sleep(1000);
    await loopDelay(run); // starts the window
    const storm = Promise.all([
      autocannon({
        url: `${run.url}/metrics`,
        connections: 50,
        duration: STORM_SECONDS,
        timeout: 10,
        headers: { 'accept-encoding': 'gzip' },
      }),
      autocannon({ url: `${run.url}/`, connections: 4, duration: STORM_SECONDS, timeout: 10 }),
    ]);
    // One interval and a bit into the storm: every target has been probed under load.
    await sleep((INTERVAL_SECONDS + 3) * 1000);
    const loaded = await connectTimes(run.url);
    const [scrapes, pages] = await storm;
    const delay = await loopDelay(run);
    figures.storm = {
      scrapers: 50,
      pageClients: 4,
      scrapes: scrapes.requests.total,
      scrapeErrors: scrapes.errors + scrapes.timeouts + scrapes.non2xx,
      pages: pages.requests.total,
      loopDelayP99Ms: delay.p99,
      loopDelayMaxMs: delay.max,
      goal: 'p99 <= 25 ms, max <= 100 ms (at 20k)',
    };
    figures.connectTime = {
      quietP50Ms: quantile(quiet, 0.5),
      quietP95Ms: quantile(quiet, 0.95),
      loadedP50Ms: quantile(loaded, 0.5),
      loadedP95Ms: quantile(loaded, 0.95),
      goal: 'within 1 ms',
    };
  } finally {
    await run.stop();
  }

  // A wrong-password flood, with basic auth: a right login from another address.
  const web = join(dir, 'web.yml');
  writeFileSync(web, `basic_auth_users:\n  alice: "${USER_HASH}"\n`);
  const right = `Basic ${Buffer.from('alice:right').toString('base64')}`;
  const authed = await startExporter(dir, targets, { file: web, authorization: right });
  try {
    const idle = await scrapeMedianMs(authed.url, 5, {
      authorization: right,
      localAddress: '127.0.0.2',
    });
    const flood = autocannon({
      url: `${authed.url}/metrics`,
      connections: 20,
      duration: QUICK ? 5 : 10,
      headers: { authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` },
    });
    await sleep(1000);
    const during = await scrapeMedianMs(authed.url, 5, {
      authorization: right,
      localAddress: '127.0.0.2',
    });
    const result = await flood;
    figures.passwordFlood = {
      wrongAttempts: result.requests.total,
      idleMs: idle,
      duringMs: during,
      ratioToIdle: during / idle,
      goalRatio: 2,
    };
  } finally {
    await authed.stop();
  }
  return figures;
}

const dir = tempDir('ipe-bench-serving-');
const results = [];
for (const targets of SIZES) {
  process.stderr.write(`serving: ${targets} targets...\n`);
  results.push(await measure(targets, dir));
  process.stderr.write(`serving: ${JSON.stringify(results.at(-1))}\n`);
}
const report = { bench: 'serving', quick: QUICK, loadAverage: loadavg(), results };
if (values.json) {
  writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  const summary = results.map((r) => {
    const f = r as Record<string, Record<string, number>>;
    return `${r.targets} targets: rss +${f.neverReading?.rssGrowthMiB?.toFixed(1)} MiB (first client +${f.neverReading?.oneClientGrowthMiB?.toFixed(1)}, other 29 +${f.neverReading?.othersGrowthMiB?.toFixed(1)}), slow-headers x${f.slowHeaders?.ratioToIdle?.toFixed(2)}, flood x${f.passwordFlood?.ratioToIdle?.toFixed(2)}, loop p99 ${f.storm?.loopDelayP99Ms?.toFixed(0)} ms`;
  });
  process.stdout.write(`${summary.join('; ')}\n`);
} else {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}
process.exit(0);
