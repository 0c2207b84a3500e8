/**
 * Benchmark 1: probe throughput and CPU cost of this project's probe engine, against
 * nmap -sT (the kernel floor: a connect() per port in C) and Debian's
 * prometheus-blackbox-exporter (what a Prometheus setup would otherwise run), on the
 * same loopback targets, in alternating rounds (engine, nmap, blackbox, engine, ...).
 *
 *   node --import tsx bench/probe-throughput.ts [--targets 20000] [--rounds 5]
 *     [--dropped-share 0.1] [--json FILE] [--concurrency 1024] [--timeout-ms 2000]
 *     [--blackbox-targets 5000] [--blackbox-concurrency 256] [--nmap-timing 5]
 *
 * Prints one JSON object (to stdout, or to --json FILE) and then a one-line summary.
 * Progress goes to stderr. See bench/README.md for the method.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { workerCount } from '../src/probe/pool.js';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import { Children } from './children.js';
import { compiledChild } from './compile.js';
import { type ChildReport, endpointKey, readStates, writeEndpoints } from './files.js';
import { countExpected, type Layout, planLayout, subsetByAddress } from './layout.js';
import { BLACKBOX, machineFacts } from './machine.js';
import { nmapArgs, parseGrepable } from './nmap.js';
import { openFilesLimit, parseTimeOutput, TIME_FORMAT } from './proc.js';
import { median, perRoundRatio, round } from './stats.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const CONTENDERS = ['engine', 'pool', 'nmap', 'blackbox'] as const;
type Contender = (typeof CONTENDERS)[number];

const GNU_TIME = '/usr/bin/time';
/** Pause between contenders, so the listeners drain and one run's tail is not the next's start. */
const SETTLE_MS = 300;
/** More descriptors than this left open by a finished cycle means the prober leaks sockets. */
const LEAK_WARNING_FDS = 16;

interface Settings {
  readonly targets: number;
  readonly rounds: number;
  readonly droppedShare: number;
  readonly json: string | undefined;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly warmup: number;
  readonly poolWorkers: number;
  readonly blackboxTargets: number;
  readonly blackboxConcurrency: number;
  readonly nmapTiming: number;
  readonly ports: number;
  readonly basePort: number;
  readonly contenders: readonly Contender[];
  readonly deadlineMs: number;
}

function parseSettings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      targets: { type: 'string', default: '20000' },
      rounds: { type: 'string', default: '5' },
      'dropped-share': { type: 'string', default: '0' },
      json: { type: 'string' },
      concurrency: { type: 'string', default: '1024' },
      'timeout-ms': { type: 'string', default: '2000' },
      // Targets of the unmeasured warm-up cycle; `all`: a whole cycle over the list.
      warmup: { type: 'string', default: 'all' },
      // What the exporter's --probe.workers=auto starts here (at least 1, to have a pool).
      'pool-workers': { type: 'string', default: 'auto' },
      'blackbox-targets': { type: 'string', default: '5000' },
      'blackbox-concurrency': { type: 'string', default: '256' },
      'nmap-timing': { type: 'string', default: '5' },
      ports: { type: 'string', default: '20' },
      'base-port': { type: 'string', default: '21000' },
      contenders: { type: 'string', default: CONTENDERS.join(',') },
      'deadline-s': { type: 'string', default: '240' },
    },
  });
  const problems: string[] = [];
  const integer = (name: keyof typeof values, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const raw = values[name];
    const value = Number(raw);
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`--${name}: expected an integer in ${min}-${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const droppedShare = Number(values['dropped-share']);
  if (!(droppedShare >= 0 && droppedShare < 1)) {
    problems.push(`--dropped-share: expected a number in [0, 1), got ${values['dropped-share']}`);
  }
  const contenders = String(values.contenders)
    .split(',')
    .filter((name) => name !== '');
  for (const name of contenders) {
    if (!(CONTENDERS as readonly string[]).includes(name)) {
      problems.push(
        `--contenders: unknown ${JSON.stringify(name)}; known: ${CONTENDERS.join(',')}`,
      );
    }
  }
  const settings: Settings = {
    targets: integer('targets', 1, 1_000_000),
    rounds: integer('rounds', 1, 100),
    droppedShare,
    json: values.json,
    concurrency: integer('concurrency', 1, 16_384),
    timeoutMs: integer('timeout-ms', 1, 60_000),
    // A cycle over the first 1,000 left TurboFan compiling on its background threads
    // through the measured cycle (perf: 18% of the process's CPU there): not the
    // steady state of an exporter that has run a cycle before.
    warmup: values.warmup === 'all' ? integer('targets', 1, 1_000_000) : integer('warmup', 0),
    poolWorkers:
      values['pool-workers'] === 'auto'
        ? Math.max(1, workerCount('auto'))
        : integer('pool-workers', 1, 64),
    blackboxTargets: integer('blackbox-targets', 1),
    blackboxConcurrency: integer('blackbox-concurrency', 1, 4096),
    nmapTiming: integer('nmap-timing', 0, 5),
    ports: integer('ports', 1, 1000),
    basePort: integer('base-port', 1, 65535),
    contenders: contenders as Contender[],
    deadlineMs: integer('deadline-s', 1) * 1000,
  };
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return settings;
}

/** Fails early, naming the Debian package, instead of halfway through a run. */
function preflight(settings: Settings): void {
  const need: [string, string][] = [[GNU_TIME, 'time']];
  if (settings.contenders.includes('nmap')) need.push(['/usr/bin/nmap', 'nmap']);
  if (settings.contenders.includes('blackbox')) {
    need.push([BLACKBOX, 'prometheus-blackbox-exporter']);
  }
  for (const [path, pkg] of need) {
    try {
      readFileSync(path, { flag: 'r' }).subarray(0, 1);
    } catch {
      throw new Error(
        `${path} not found: install the Debian package ${pkg} (bash bench/run.sh does)`,
      );
    }
  }
  if (settings.droppedShare > 0 && process.getuid?.() !== 0) {
    throw new Error('--dropped-share needs root: it makes a network namespace and an nft rule');
  }
  // Each probe in flight holds a socket; nmap and the listeners need theirs too.
  const limit = openFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  const wanted = Math.max(settings.concurrency, settings.blackboxConcurrency) + 1024;
  if (limit !== undefined && limit < wanted) {
    throw new Error(
      `open files limit ${limit} is below ${wanted} for --concurrency ${settings.concurrency}; ` +
        `raise it (ulimit -n ${wanted}) or lower --concurrency`,
    );
  }
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** What one contender measured in one round. */
interface RoundResult {
  readonly contender: Contender;
  readonly round: number;
  readonly probes: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly probesPerSecond: number;
  readonly cpuSecondsPer1kProbes: number;
  readonly states: Readonly<Record<string, number>>;
  /** Targets whose state differs from what the layout made them. */
  readonly mismatches: number;
  readonly extra: Readonly<Record<string, unknown>>;
}

class Bench {
  readonly #settings: Settings;
  readonly #children = new Children();
  readonly #dir: string;
  readonly #layout: Layout;
  readonly #expected: Map<string, string>;
  #netns: Netns | undefined;
  #blackbox: { child: ChildProcess; url: string } | undefined;
  #cleaned = false;

  constructor(settings: Settings) {
    this.#settings = settings;
    this.#dir = mkdtempSync(join(tmpdir(), 'ipe-bench-'));
    this.#layout = planLayout({
      targets: settings.targets,
      ports: settings.ports,
      basePort: settings.basePort,
      wildcardOpenPorts: Math.round(settings.ports / 5),
      sparseOpenPorts: Math.round(settings.ports / 10),
      sparseEvery: 8,
      droppedShare: settings.droppedShare,
    });
    this.#expected = new Map(
      this.#layout.targets.map((t) => [endpointKey(t.ip, t.port), t.expected]),
    );
  }

  #path(name: string): string {
    return join(this.#dir, name);
  }

  /** Runs `argv` in the benchmark's namespace when there is one. */
  #inNetns(argv: readonly string[]): string[] {
    return this.#netns ? ['ip', 'netns', 'exec', this.#netns.name, ...argv] : [...argv];
  }

  #timed(argv: readonly string[], timeFile: string): string[] {
    return this.#inNetns([GNU_TIME, '-f', TIME_FORMAT, '-o', timeFile, ...argv]);
  }

  async setUp(): Promise<void> {
    const layout = this.#layout;
    writeEndpoints(this.#path('targets.txt'), layout.targets);
    writeFileSync(this.#path('hosts.txt'), `${layout.addresses.join('\n')}\n`);
    writeEndpoints(
      this.#path('blackbox-targets.txt'),
      subsetByAddress(layout, this.#settings.blackboxTargets),
    );
    writeEndpoints(this.#path('listeners.txt'), layout.listeners);

    if (this.#settings.droppedShare > 0) {
      this.#netns = await createNetns('bench');
      const ports = layout.droppedPorts.join(', ');
      // Input, not output: a drop on output fails connect() at once with EPERM.
      writeFileSync(
        this.#path('drop.nft'),
        'table inet ipe_bench {\n' +
          '  chain input {\n' +
          '    type filter hook input priority filter; policy accept;\n' +
          `    tcp dport { ${ports} } tcp flags & (syn | ack) == syn drop\n` +
          '  }\n' +
          '}\n',
      );
      await this.#netns.exec('nft', ['-f', this.#path('drop.nft')]);
      log(`namespace ${this.#netns.name}: SYNs to ports ${ports} dropped`);
    }

    const listeners = this.#children.start(
      this.#inNetns([
        process.execPath,
        '--import',
        'tsx',
        'bench/listeners.ts',
        this.#path('listeners.txt'),
      ]),
      { cwd: REPO_ROOT },
    );
    await this.#waitForLine(listeners, /^ready/, 'listeners').catch((error: Error) => {
      throw new Error(`${error.message} (another program holds a port? choose --base-port)`, {
        cause: error,
      });
    });
    log(`${layout.listeners.length} listeners up`);

    if (this.#settings.contenders.includes('blackbox')) await this.#startBlackbox();
  }

  async #startBlackbox(): Promise<void> {
    const config = this.#path('blackbox.yml');
    writeFileSync(
      config,
      `modules:\n  tcp:\n    prober: tcp\n    timeout: ${this.#settings.timeoutMs / 1000}s\n`,
    );
    const url = `http://127.0.0.1:${await freePort()}`;
    // Its log goes to a file, not a pipe this process would have to drain; read back
    // when it dies.
    const logFd = openSync(this.#path('blackbox.log'), 'w');
    try {
      const child = this.#children.start(
        this.#inNetns([
          BLACKBOX,
          `--config.file=${config}`,
          `--web.listen-address=${url.slice('http://'.length)}`,
        ]),
        { cwd: this.#dir, stderrFd: logFd },
      );
      this.#blackbox = { child, url };
    } finally {
      closeSync(logFd);
    }
  }

  #waitForLine(child: ChildProcess, pattern: RegExp, name: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = '';
      let errors = '';
      const timer = setTimeout(() => fail(new Error(`${name}: not ready after 30 s`)), 30_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      child.stderr?.on('data', (chunk: Buffer) => {
        errors += chunk.toString();
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (pattern.test(seen)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) =>
        fail(new Error(`${name} exited (${code}) before it was ready: ${errors.trim()}`)),
      );
    });
  }

  async runRound(roundIndex: number): Promise<RoundResult[]> {
    const results: RoundResult[] = [];
    for (const contender of this.#settings.contenders) {
      const result = await this.#runContender(contender, roundIndex);
      log(
        `round ${roundIndex + 1} ${contender}: ${result.probes} probes in ` +
          `${result.wallSeconds.toFixed(3)} s, ${Math.round(result.probesPerSecond)}/s, ` +
          `${result.cpuSeconds.toFixed(2)} CPU s, mismatches ${result.mismatches}`,
      );
      results.push(result);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    }
    return results;
  }

  async #runContender(contender: Contender, roundIndex: number): Promise<RoundResult> {
    switch (contender) {
      case 'engine':
        return this.#runEngine('engine', roundIndex, 0);
      case 'pool':
        return this.#runEngine('pool', roundIndex, this.#settings.poolWorkers);
      case 'nmap':
        return this.#runNmap(roundIndex);
      case 'blackbox':
        return this.#runBlackbox(roundIndex);
    }
  }

  #check(result: { code: number | null; stderr: string }, name: string): void {
    if (result.code !== 0) {
      throw new Error(`${name} failed (exit ${result.code}): ${result.stderr.trim().slice(-2000)}`);
    }
  }

  #mismatches(states: Map<string, string>, expected: (key: string) => string | undefined) {
    let count = 0;
    for (const [key, state] of states) if (state !== expected(key)) count++;
    return count;
  }

  async #runEngine(
    contender: 'engine' | 'pool',
    roundIndex: number,
    workers: number,
  ): Promise<RoundResult> {
    const s = this.#settings;
    const statesFile = this.#path(`${contender}-${roundIndex}.states`);
    const timeFile = this.#path(`${contender}-${roundIndex}.time`);
    const result = await this.#children.run(
      this.#timed(
        [
          process.execPath,
          compiledChild('engine-child'),
          '--targets',
          this.#path('targets.txt'),
          '--states',
          statesFile,
          '--concurrency',
          String(s.concurrency),
          '--timeout-ms',
          String(s.timeoutMs),
          '--warmup',
          String(s.warmup),
          '--workers',
          String(workers),
        ],
        timeFile,
      ),
      { cwd: REPO_ROOT, deadlineMs: s.deadlineMs },
    );
    this.#check(result, `${contender} child`);
    const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as ChildReport;
    const states = readStates(statesFile);
    const whole = parseTimeOutput(readFileSync(timeFile, 'utf8'));
    const { probes, wallSeconds, cpuSeconds, states: counts, ...extra } = report;
    const leaked = Number(extra.fdsAfter ?? 0) - Number(extra.fdsBefore ?? 0);
    if (leaked > LEAK_WARNING_FDS) {
      log(
        `${contender}: ${leaked} more descriptors open after the cycle than before: sockets not destroyed?`,
      );
    }
    return this.#result(contender, roundIndex, {
      probes,
      wallSeconds,
      cpuSeconds: cpuSeconds ?? Number.NaN,
      states: counts,
      mismatches: this.#mismatches(states, (key) => this.#expected.get(key)),
      extra: {
        ...extra,
        // The whole child process: Node's start and tsx's compile included.
        processWallSeconds: whole.wallSeconds,
        processCpuSeconds: whole.cpuSeconds,
      },
    });
  }

  async #runNmap(roundIndex: number): Promise<RoundResult> {
    const s = this.#settings;
    const layout = this.#layout;
    const outputFile = this.#path(`nmap-${roundIndex}.gnmap`);
    const timeFile = this.#path(`nmap-${roundIndex}.time`);
    const args = nmapArgs({
      hostsFile: this.#path('hosts.txt'),
      ports: layout.ports,
      outputFile,
      timing: s.nmapTiming,
      parallelism: s.concurrency,
      hostgroup: Math.min(layout.addresses.length, 4096),
      ...(this.#netns ? { timeoutMs: s.timeoutMs } : {}),
    });
    const result = await this.#children.run(this.#timed(['nmap', ...args], timeFile), {
      cwd: this.#dir,
      deadlineMs: s.deadlineMs,
    });
    this.#check(result, 'nmap');
    const states = parseGrepable(readFileSync(outputFile, 'utf8'), layout.ports);
    const whole = parseTimeOutput(readFileSync(timeFile, 'utf8'));
    // Compared with the engine's states of the same round, target by target.
    const engineStates = this.#engineStates(roundIndex);
    return this.#result('nmap', roundIndex, {
      probes: states.size,
      wallSeconds: whole.wallSeconds,
      cpuSeconds: whole.cpuSeconds,
      states: countValues(states),
      mismatches: this.#mismatches(states, (key) => this.#expected.get(key)),
      extra: {
        missing: layout.targets.length - states.size,
        ...(engineStates
          ? { disagreementsWithEngine: this.#mismatches(states, (key) => engineStates.get(key)) }
          : {}),
        args: ['nmap', ...args].join(' ').replaceAll(this.#dir, '$TMP'),
      },
    });
  }

  #engineStates(roundIndex: number): Map<string, string> | undefined {
    if (!this.#settings.contenders.includes('engine')) return undefined;
    try {
      return readStates(this.#path(`engine-${roundIndex}.states`));
    } catch {
      return undefined;
    }
  }

  async #runBlackbox(roundIndex: number): Promise<RoundResult> {
    const s = this.#settings;
    const blackbox = this.#blackbox;
    if (blackbox?.child.pid === undefined) throw new Error('blackbox is not running');
    const statesFile = this.#path(`blackbox-${roundIndex}.states`);
    const result = await this.#children.run(
      this.#inNetns([
        process.execPath,
        '--import',
        'tsx',
        'bench/blackbox-driver.ts',
        '--url',
        blackbox.url,
        '--pid',
        String(blackbox.child.pid),
        '--targets',
        this.#path('blackbox-targets.txt'),
        '--states',
        statesFile,
        '--concurrency',
        String(s.blackboxConcurrency),
        '--timeout-ms',
        String(s.timeoutMs),
      ]),
      { cwd: REPO_ROOT, deadlineMs: s.deadlineMs },
    );
    if (blackbox.child.exitCode !== null || blackbox.child.signalCode !== null) {
      const tail = readFileSync(this.#path('blackbox.log'), 'utf8').trim().split('\n').slice(-5);
      throw new Error(`blackbox exited (${blackbox.child.exitCode}): ${tail.join('\n')}`);
    }
    this.#check(result, 'blackbox driver');
    const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as ChildReport;
    const states = readStates(statesFile);
    const { probes, wallSeconds, cpuSeconds, states: counts, ...extra } = report;
    return this.#result('blackbox', roundIndex, {
      probes,
      wallSeconds,
      cpuSeconds: cpuSeconds ?? Number.NaN,
      states: counts,
      mismatches: this.#mismatches(states, (key) => this.#expected.get(key)),
      extra,
    });
  }

  #result(
    contender: Contender,
    roundIndex: number,
    r: Omit<RoundResult, 'contender' | 'round' | 'probesPerSecond' | 'cpuSecondsPer1kProbes'>,
  ): RoundResult {
    return {
      contender,
      round: roundIndex + 1,
      ...r,
      probesPerSecond: r.probes / r.wallSeconds,
      cpuSecondsPer1kProbes: (r.cpuSeconds / r.probes) * 1000,
    };
  }

  get layout(): Layout {
    return this.#layout;
  }

  get namespace(): string | undefined {
    return this.#netns?.name;
  }

  /** Kills every child and removes the temp files; safe to call twice and from 'exit'. */
  cleanUpSync(): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    this.#children.killAll();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async cleanUp(): Promise<void> {
    this.cleanUpSync();
    // After its processes are gone, so nothing holds the namespace.
    await this.#netns?.close();
  }
}

function countValues(states: Map<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of states.values()) counts[state] = (counts[state] ?? 0) + 1;
  return counts;
}

function summarize(settings: Settings, bench: Bench, all: readonly RoundResult[]) {
  const contenders: Record<string, unknown> = {};
  const medians = new Map<Contender, { probesPerSecond: number; cpuSecondsPer1kProbes: number }>();
  for (const contender of settings.contenders) {
    const rounds = all.filter((r) => r.contender === contender);
    const m = {
      probesPerSecond: median(rounds.map((r) => r.probesPerSecond)),
      cpuSecondsPer1kProbes: median(rounds.map((r) => r.cpuSecondsPer1kProbes)),
      wallSeconds: median(rounds.map((r) => r.wallSeconds)),
      cpuSeconds: median(rounds.map((r) => r.cpuSeconds)),
    };
    medians.set(contender, m);
    contenders[contender] = {
      probesPerRound: rounds[0]?.probes ?? 0,
      median: {
        probesPerSecond: round(m.probesPerSecond, 0),
        cpuSecondsPer1kProbes: round(m.cpuSecondsPer1kProbes, 4),
        wallSeconds: round(m.wallSeconds, 3),
        cpuSeconds: round(m.cpuSeconds, 3),
      },
      mismatchesTotal: rounds.reduce((sum, r) => sum + r.mismatches, 0),
      rounds: rounds.map((r) => ({
        round: r.round,
        probes: r.probes,
        wallSeconds: round(r.wallSeconds, 3),
        cpuSeconds: round(r.cpuSeconds, 3),
        probesPerSecond: round(r.probesPerSecond, 0),
        cpuSecondsPer1kProbes: round(r.cpuSecondsPer1kProbes, 4),
        states: r.states,
        mismatches: r.mismatches,
        ...roundExtras(r.extra),
      })),
    };
  }
  const engine = medians.get('engine');
  const pool = medians.get('pool');
  const nmap = medians.get('nmap');
  const blackbox = medians.get('blackbox');
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? round(a / b, 3) : null;
  const ratios = {
    throughputEngineOverNmap: ratio(engine?.probesPerSecond, nmap?.probesPerSecond),
    throughputEngineOverBlackbox: ratio(engine?.probesPerSecond, blackbox?.probesPerSecond),
    cpuPerProbeEngineOverNmap: ratio(engine?.cpuSecondsPer1kProbes, nmap?.cpuSecondsPer1kProbes),
    cpuPerProbeEngineOverBlackbox: ratio(
      engine?.cpuSecondsPer1kProbes,
      blackbox?.cpuSecondsPer1kProbes,
    ),
    throughputPoolOverNmap: ratio(pool?.probesPerSecond, nmap?.probesPerSecond),
    throughputPoolOverBlackbox: ratio(pool?.probesPerSecond, blackbox?.probesPerSecond),
    cpuPerProbePoolOverNmap: ratio(pool?.cpuSecondsPer1kProbes, nmap?.cpuSecondsPer1kProbes),
  };
  // The headline: the median of each round's ratio, contenders of one round having run
  // back to back under the same load, not a ratio of medians taken from different rounds.
  const perRound = (
    a: Contender,
    b: Contender,
    figure: 'probesPerSecond' | 'cpuSecondsPer1kProbes',
  ) => perRoundRatio(all, a, b, (r) => r[figure]);
  const perRoundRatios = {
    throughputEngineOverNmap: perRound('engine', 'nmap', 'probesPerSecond'),
    throughputEngineOverBlackbox: perRound('engine', 'blackbox', 'probesPerSecond'),
    cpuPerProbeEngineOverNmap: perRound('engine', 'nmap', 'cpuSecondsPer1kProbes'),
    throughputPoolOverNmap: perRound('pool', 'nmap', 'probesPerSecond'),
    throughputPoolOverBlackbox: perRound('pool', 'blackbox', 'probesPerSecond'),
    cpuPerProbePoolOverNmap: perRound('pool', 'nmap', 'cpuSecondsPer1kProbes'),
  };
  // The exporter's default engine here: the pool where --probe.workers=auto starts one.
  const defaultContender: Contender = workerCount('auto') > 0 ? 'pool' : 'engine';
  const key = defaultContender === 'pool' ? 'Pool' : 'Engine';
  const headline = {
    contender: defaultContender,
    workers: defaultContender === 'pool' ? settings.poolWorkers : 0,
    overNmap: perRoundRatios[`throughput${key}OverNmap`].median,
    overBlackbox: perRoundRatios[`throughput${key}OverBlackbox`].median,
    cpuPerProbeOverNmap: perRoundRatios[`cpuPerProbe${key}OverNmap`].median,
    how: 'median over rounds of the ratio within each round',
  };
  const layout = bench.layout;
  const disagreements = all
    .filter((r) => r.contender === 'nmap')
    .reduce((sum, r) => sum + Number(r.extra.disagreementsWithEngine ?? 0), 0);
  // With dropped ports, a slot is held for a whole timeout per dropped target: no
  // contender can beat concurrency / (dropped share x timeout).
  const expected = countExpected(layout.targets);
  const droppedShare = expected.timeout / layout.targets.length;
  const timeoutBound = (concurrency: number) =>
    droppedShare > 0
      ? {
          timeoutBoundProbesPerSecond: round(
            concurrency / (droppedShare * (settings.timeoutMs / 1000)),
            0,
          ),
        }
      : {};
  const nmapCommand = all.find((r) => r.contender === 'nmap')?.extra.args;
  const report = {
    benchmark: 'probe-throughput',
    finishedAt: new Date().toISOString(),
    machine: machineFacts({ contenders: true }),
    settings: {
      targets: layout.targets.length,
      addresses: layout.addresses.length,
      ports: `${layout.ports[0]}-${layout.ports[layout.ports.length - 1]}`,
      expectedStates: expected,
      droppedPorts: layout.droppedPorts,
      listeners: layout.listeners.length,
      namespace: bench.namespace ?? null,
      rounds: settings.rounds,
      order: settings.contenders,
      engine: {
        concurrency: settings.concurrency,
        timeoutMs: settings.timeoutMs,
        warmupTargets: settings.warmup,
        spread: false,
        ...timeoutBound(settings.concurrency),
      },
      pool: { workers: settings.poolWorkers, concurrency: settings.concurrency },
      nmap: {
        timing: `-T${settings.nmapTiming}`,
        parallelism: settings.concurrency,
        ...timeoutBound(settings.concurrency),
        command: nmapCommand ?? null,
      },
      blackbox: {
        targets: Math.min(
          layout.targets.length,
          Math.ceil(settings.blackboxTargets / layout.ports.length) * layout.ports.length,
        ),
        concurrency: settings.blackboxConcurrency,
        timeoutMs: settings.timeoutMs,
        ...timeoutBound(settings.blackboxConcurrency),
      },
    },
    headline,
    perRoundRatios,
    contenders,
    /** Ratios of the medians of each contender's rounds: kept for comparison with older runs. */
    ratios,
    engineNmapDisagreementsTotal:
      medians.has('engine') && medians.has('nmap') ? disagreements : null,
  };
  const line = summaryLine(layout.targets.length, settings, medians, ratios, all);
  const head =
    `headline (${defaultContender}${defaultContender === 'pool' ? ` of ${settings.poolWorkers}` : ''}, ` +
    `median of per-round ratios): ${headline.overNmap ?? '-'}x nmap, ${headline.overBlackbox ?? '-'}x blackbox, ` +
    `CPU/probe ${headline.cpuPerProbeOverNmap ?? '-'}x nmap's`;
  return { report, line: `${head}; ${line}` };
}

function roundExtras(extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(extra)) {
    if (key === 'args') continue;
    out[key] = typeof value === 'number' ? round(value, 4) : value;
  }
  return out;
}

function summaryLine(
  targets: number,
  settings: Settings,
  medians: Map<Contender, { probesPerSecond: number; cpuSecondsPer1kProbes: number }>,
  ratios: Record<string, number | null>,
  all: readonly RoundResult[],
): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const parts: string[] = [];
  for (const [name, label] of [
    ['engine', 'engine'],
    ['pool', `pool of ${settings.poolWorkers}`],
  ] as const) {
    const m = medians.get(name);
    if (!m) continue;
    const key = name === 'engine' ? 'Engine' : 'Pool';
    const overNmap = ratios[`throughput${key}OverNmap`] ?? null;
    const overBlackbox = ratios[`throughput${key}OverBlackbox`] ?? null;
    const vs: string[] = [];
    if (overNmap !== null) vs.push(`${overNmap}x nmap`);
    if (overBlackbox !== null) vs.push(`${overBlackbox}x blackbox`);
    parts.push(
      `${label} ${n(m.probesPerSecond)} probes/s${vs.length ? ` (${vs.join(', ')})` : ''}, ` +
        `${m.cpuSecondsPer1kProbes.toFixed(3)} CPU s/1k probes`,
    );
  }
  for (const other of ['nmap', 'blackbox'] as const) {
    const m = medians.get(other);
    if (m) {
      parts.push(
        `${other} ${n(m.probesPerSecond)} probes/s, ${m.cpuSecondsPer1kProbes.toFixed(3)} CPU s/1k`,
      );
    }
  }
  const mismatches = all.reduce((sum, r) => sum + r.mismatches, 0);
  const where = settings.droppedShare > 0 ? `, ${settings.droppedShare} dropped` : '';
  return (
    `${parts.join('; ')} (medians of ${settings.rounds} rounds), ${n(targets)} targets${where}, ` +
    `${mismatches} state mismatches`
  );
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  preflight(settings);
  const bench = new Bench(settings);
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    bench.cleanUpSync();
    // The namespace helper deletes its namespaces in its own 'exit' handler.
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => bench.cleanUpSync());

  try {
    log(
      `${bench.layout.targets.length} targets (${bench.layout.addresses.length} addresses x ` +
        `${bench.layout.ports.length} ports), ${settings.rounds} rounds of ${settings.contenders.join(', ')}`,
    );
    await bench.setUp();
    const all: RoundResult[] = [];
    for (let r = 0; r < settings.rounds; r++) all.push(...(await bench.runRound(r)));
    const { report, line } = summarize(settings, bench, all);
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (settings.json !== undefined) writeFileSync(settings.json, json);
    else process.stdout.write(json);
    process.stdout.write(`${line}\n`);
  } finally {
    await bench.cleanUp();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
