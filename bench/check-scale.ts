/**
 * Benchmark: `check` at cluster scale, and the exporter's first data, against nmap.
 *
 * It builds the world itself: the Kubernetes API double (test/helpers/kube-api-server.ts,
 * the real list+watch wire protocol) serving `--nodes` nodes on loopback addresses
 * (127.0.1.1 ...) and `--node-ports` NodePort Services shaped like real ones, and a
 * listener on 0.0.0.0 for every 5th NodePort, in a process of its own. Then, in
 * alternating rounds:
 *
 * - **check**: the whole process, `node dist/main.js check --discovery=kubernetes`, as
 *   the README documents it (no npm wrapper), with its default --probe.workers=auto;
 *   wall and CPU by GNU time, from exec to exit: Node's start, module loading,
 *   discovery's list, planning, probing and the report.
 * - **nmap**: `nmap -sT` over the same addresses and every port check probed, a whole
 *   process too. Its probes are addresses x ports (a port check probes on some nodes
 *   only, say 6443, nmap probes on all), so the two are compared as rates.
 *
 * The headline is the median of each round's ratio of rates. Once per run, the
 * exporter is started on the same world (`node dist/main.js --discovery=kubernetes`)
 * and /metrics is read every 250 ms until every target has its imanager_port_up
 * series: the time from exec to that is `firstDataSeconds`.
 *
 *   node --import tsx bench/check-scale.ts [--nodes 200] [--node-ports 100] [--rounds 9]
 *     [--concurrency 1024] [--first-data-trials 1] [--json FILE]
 *
 * Loopback only. Prints one JSON object (to stdout, or to --json FILE) and a summary line.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as fixtures from '../test/fixtures/kube/cluster.js';
import { KubeApiServer, type KubeObject } from '../test/helpers/kube-api-server.js';
import { Children } from './children.js';
import { NODE_PORT_RANGE } from './cluster.js';
import { builtMain } from './compile.js';
import { writeEndpoints } from './files.js';
import { addressAt } from './layout.js';
import { machineFacts } from './machine.js';
import { nmapArgs, parseGrepable } from './nmap.js';
import { parseTimeOutput, TIME_FORMAT } from './proc.js';
import { median, perRoundRatio, round } from './stats.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const MAIN = join(REPO_ROOT, 'dist', 'main.js');
const OPEN_EVERY = 5;
const CONTROL_PLANE_NODES = 3;
const BASIC_SERVICES = 20;
const SETTLE_MS = 300;
/** The goals of issue 14, beside which the figures are reported. */
export const CHECK_SCALE_GOALS = {
  checkOverNmapAtLeast: 0.5,
  firstDataSecondsAtMost: 10,
} as const;

interface Settings {
  readonly nodes: number;
  readonly nodePorts: number;
  readonly rounds: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly firstDataTrials: number;
  readonly json: string | undefined;
}

function parseSettings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      nodes: { type: 'string', default: '200' },
      'node-ports': { type: 'string', default: '100' },
      rounds: { type: 'string', default: '9' },
      concurrency: { type: 'string', default: '1024' },
      'timeout-ms': { type: 'string', default: '2000' },
      'first-data-trials': { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  });
  const problems: string[] = [];
  const integer = (name: keyof typeof values, min: number, max: number) => {
    const value = Number(values[name]);
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`--${name}: expected an integer in ${min}-${max}, got ${values[name]}`);
    }
    return value;
  };
  const settings: Settings = {
    nodes: integer('nodes', 1, 60_000),
    nodePorts: integer('node-ports', 0, NODE_PORT_RANGE.max - NODE_PORT_RANGE.min + 1),
    rounds: integer('rounds', 1, 100),
    concurrency: integer('concurrency', 1, 16_384),
    timeoutMs: integer('timeout-ms', 1, 60_000),
    firstDataTrials: integer('first-data-trials', 0, 20),
    json: values.json,
  };
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return settings;
}

function log(message: string): void {
  process.stderr.write(`check-scale: ${message}\n`);
}

/** A node object as the API sends it: a kubeadm control plane's or a worker's, renamed. */
export function nodeObject(i: number): KubeObject {
  const node = structuredClone(
    i < CONTROL_PLANE_NODES ? fixtures.controlPlaneNode : fixtures.workerNode2,
  ) as KubeObject & {
    metadata: { name: string; labels: Record<string, string> };
    status: {
      addresses: { type: string; address: string }[];
      conditions: { type: string; status: string }[];
    };
  };
  const name = `imanager-node-${String(i + 1).padStart(3, '0')}`;
  node.metadata.name = name;
  node.metadata.labels['kubernetes.io/hostname'] = name;
  node.status.addresses = [
    { type: 'InternalIP', address: addressAt(i) },
    { type: 'Hostname', address: name },
  ];
  for (const condition of node.status.conditions) {
    if (condition.type === 'Ready') condition.status = 'True';
  }
  return node;
}

/** A NodePort Service: iManager's basic services first, then GIS environments. */
export function serviceObject(j: number): KubeObject {
  const service = structuredClone(fixtures.imanagerDashboardUi) as KubeObject & {
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: { ports: { nodePort: number }[]; clusterIP: string; clusterIPs: string[] };
  };
  const basic = j < BASIC_SERVICES;
  service.metadata.name = basic ? `imanager-svc-${j}` : `gisapp-${j}`;
  service.metadata.namespace = basic ? 'supermap' : `gis-env-${j % 7}`;
  service.metadata.labels = { app: service.metadata.name };
  const port = service.spec.ports[0];
  if (port) port.nodePort = NODE_PORT_RANGE.min + j;
  return service;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

interface CheckTarget {
  readonly ip: string;
  readonly port: number;
  readonly state: string;
}

interface Round {
  readonly contender: 'check' | 'nmap';
  readonly round: number;
  readonly probes: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly probesPerSecond: number;
  readonly states: Record<string, number>;
  readonly extra: Record<string, unknown>;
}

/** One contender's round: its probes, its time, and the states it saw. */
function roundOf(
  contender: Round['contender'],
  round: number,
  probes: number,
  time: { readonly wallSeconds: number; readonly cpuSeconds: number },
  states: ReadonlyMap<string, string>,
  extra: Record<string, unknown>,
): Round {
  return {
    contender,
    round,
    probes,
    wallSeconds: time.wallSeconds,
    cpuSeconds: time.cpuSeconds,
    probesPerSecond: probes / time.wallSeconds,
    states: countStates(states.values()),
    extra,
  };
}

function countStates(states: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of states) counts[state] = (counts[state] ?? 0) + 1;
  return counts;
}

class World {
  readonly #settings: Settings;
  readonly #children = new Children();
  readonly #dir = mkdtempSync(join(tmpdir(), 'check-scale-'));
  #api: KubeApiServer | undefined;
  #kubeconfig = '';
  #addresses: string[] = [];
  #ports: number[] = [];
  #lastCheck = new Map<string, string>();

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  async setUp(): Promise<void> {
    log('building dist/ (npm run build)');
    builtMain();
    const { nodes, nodePorts } = this.#settings;
    this.#api = await KubeApiServer.start();
    for (let i = 0; i < nodes; i++) this.#api.create('nodes', nodeObject(i));
    for (let j = 0; j < nodePorts; j++) this.#api.create('services', serviceObject(j));
    this.#kubeconfig = await this.#api.writeKubeconfig();
    this.#addresses = Array.from({ length: nodes }, (_, i) => addressAt(i));
    const listening = [];
    for (let j = 0; j < nodePorts; j += OPEN_EVERY) {
      listening.push({ ip: '0.0.0.0', port: NODE_PORT_RANGE.min + j });
    }
    const file = join(this.#dir, 'listeners.txt');
    writeEndpoints(file, listening);
    const listeners = this.#children.start(
      [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench', 'listeners.ts'), file],
      { cwd: REPO_ROOT },
    );
    const [ready] = (await once(listeners.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    if (!String(ready).startsWith('ready')) throw new Error(`listeners: ${String(ready)}`);
    log(`${nodes} nodes x ${nodePorts} NodePorts, ${listening.length} NodePorts listening`);
  }

  checkArgv(extra: readonly string[] = []): string[] {
    return [
      process.execPath,
      MAIN,
      'check',
      '--discovery=kubernetes',
      `--kubeconfig=${this.#kubeconfig}`,
      '--output=json',
      '--probe.icmp=off',
      `--probe.concurrency=${this.#settings.concurrency}`,
      `--probe.timeout=${this.#settings.timeoutMs}ms`,
      ...extra,
    ];
  }

  async runCheck(roundIndex: number): Promise<Round> {
    const timeFile = join(this.#dir, 'time.txt');
    const result = await this.#children.run(
      [GNU_TIME, '-f', TIME_FORMAT, '-o', timeFile, ...this.checkArgv()],
      { cwd: REPO_ROOT, deadlineMs: 300_000 },
    );
    // 1: a required port is closed (most catalog ports on loopback are): a finished check.
    if (result.code !== 0 && result.code !== 1) {
      throw new Error(`check exited ${result.code}: ${result.stderr.slice(-2000)}`);
    }
    const time = parseTimeOutput(readFileSync(timeFile, 'utf8'));
    const report = JSON.parse(result.stdout) as { targets: CheckTarget[] };
    const states = new Map(report.targets.map((t) => [`${t.ip}:${t.port}`, t.state]));
    this.#lastCheck = states;
    this.#ports = [...new Set(report.targets.map((t) => t.port))].sort((a, b) => a - b);
    return roundOf('check', roundIndex, report.targets.length, time, states, {});
  }

  async runNmap(roundIndex: number): Promise<Round> {
    const hosts = join(this.#dir, 'hosts.txt');
    writeFileSync(hosts, `${this.#addresses.join('\n')}\n`);
    const output = join(this.#dir, `nmap-${roundIndex}.gnmap`);
    const args = nmapArgs({
      hostsFile: hosts,
      ports: this.#ports,
      outputFile: output,
      timing: 5,
      parallelism: this.#settings.concurrency,
      hostgroup: this.#addresses.length,
    });
    const timeFile = join(this.#dir, 'time.txt');
    const result = await this.#children.run(
      [GNU_TIME, '-f', TIME_FORMAT, '-o', timeFile, 'nmap', ...args],
      { cwd: REPO_ROOT, deadlineMs: 300_000 },
    );
    if (result.code !== 0) throw new Error(`nmap exited ${result.code}: ${result.stderr}`);
    const time = parseTimeOutput(readFileSync(timeFile, 'utf8'));
    const states = parseGrepable(readFileSync(output, 'utf8'), this.#ports);
    let disagreements = 0;
    for (const [key, state] of this.#lastCheck) {
      const theirs = states.get(key);
      if (theirs !== undefined && theirs !== state) disagreements++;
    }
    return roundOf('nmap', roundIndex, this.#addresses.length * this.#ports.length, time, states, {
      disagreementsWithCheck: disagreements,
      args: ['nmap', ...args].join(' '),
    });
  }

  /** Seconds from exec to every target having its imanager_port_up series. */
  async firstData(): Promise<{ seconds: number; targets: number }> {
    const port = await freePort();
    const started = performance.now();
    const exporter = this.#children.start(
      [
        process.execPath,
        MAIN,
        '--discovery=kubernetes',
        `--kubeconfig=${this.#kubeconfig}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--probe.icmp=off',
        `--probe.concurrency=${this.#settings.concurrency}`,
        '--log.level=warn',
      ],
      { cwd: REPO_ROOT },
    );
    exporter.stdout?.resume();
    exporter.stderr?.resume();
    try {
      for (let i = 0; i < 240; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        let text: string;
        try {
          text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        } catch {
          continue;
        }
        const up = text.match(/^imanager_port_up\{/gm)?.length ?? 0;
        const targets = [...text.matchAll(/^imanager_targets\{[^}]*\} (\d+)/gm)].reduce(
          (sum, m) => sum + Number(m[1]),
          0,
        );
        if (targets > 0 && up >= targets) {
          return { seconds: (performance.now() - started) / 1000, targets };
        }
      }
      throw new Error('the exporter did not show every target within 60 s');
    } finally {
      await this.#children.stop(exporter);
    }
  }

  async cleanUp(): Promise<void> {
    this.#children.killAll();
    await this.#api?.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function summarize(settings: Settings, all: readonly Round[], firstData: number[]) {
  const ratio = perRoundRatio(all, 'check', 'nmap', (r) => r.probesPerSecond);
  const byContender = (name: Round['contender']) => {
    const rounds = all.filter((r) => r.contender === name);
    return {
      probesPerRound: rounds[0]?.probes ?? 0,
      median: {
        probesPerSecond: round(median(rounds.map((r) => r.probesPerSecond)), 0),
        wallSeconds: round(median(rounds.map((r) => r.wallSeconds)), 3),
        cpuSeconds: round(median(rounds.map((r) => r.cpuSeconds)), 3),
      },
      rounds: rounds.map((r) => ({
        round: r.round,
        probes: r.probes,
        wallSeconds: round(r.wallSeconds, 3),
        cpuSeconds: round(r.cpuSeconds, 3),
        probesPerSecond: round(r.probesPerSecond, 0),
        states: r.states,
        ...Object.fromEntries(Object.entries(r.extra).filter(([k]) => k !== 'args')),
      })),
    };
  };
  const firstDataSeconds = firstData.length > 0 ? round(median(firstData), 2) : null;
  const report = {
    benchmark: 'check-scale',
    finishedAt: new Date().toISOString(),
    machine: machineFacts({ contenders: false }),
    settings: {
      nodes: settings.nodes,
      nodePorts: settings.nodePorts,
      rounds: settings.rounds,
      concurrency: settings.concurrency,
      timeoutMs: settings.timeoutMs,
      check: 'node dist/main.js check --discovery=kubernetes (default --probe.workers=auto)',
      nmap: all.find((r) => r.contender === 'nmap')?.extra.args ?? null,
    },
    headline: {
      checkOverNmap: ratio.median,
      how: 'median over rounds of check rate / nmap rate within the round; whole processes',
      firstDataSeconds,
    },
    goals: {
      checkOverNmap: {
        goal: `>= ${CHECK_SCALE_GOALS.checkOverNmapAtLeast}`,
        value: ratio.median,
        met: ratio.median !== null && ratio.median >= CHECK_SCALE_GOALS.checkOverNmapAtLeast,
      },
      firstDataSeconds: {
        goal: `<= ${CHECK_SCALE_GOALS.firstDataSecondsAtMost}`,
        value: firstDataSeconds,
        met:
          firstDataSeconds !== null && firstDataSeconds <= CHECK_SCALE_GOALS.firstDataSecondsAtMost,
      },
    },
    perRoundCheckOverNmap: ratio.rounds,
    firstDataTrialsSeconds: firstData.map((s) => round(s, 2)),
    contenders: { check: byContender('check'), nmap: byContender('nmap') },
  };
  const check = report.contenders.check.median;
  const nmap = report.contenders.nmap.median;
  const line =
    `check ${check.probesPerSecond} probes/s (${check.wallSeconds} s whole process), ` +
    `nmap ${nmap.probesPerSecond} probes/s (${nmap.wallSeconds} s): ` +
    `${ratio.median ?? '-'}x nmap by the median of per-round ratios; ` +
    `first data ${firstDataSeconds ?? '-'} s — ${settings.nodes} nodes x ${settings.nodePorts} NodePorts, ` +
    `${report.contenders.check.probesPerRound} targets, ${settings.rounds} rounds`;
  return { report, line };
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const world = new World(settings);
  const onSignal = () => {
    void world.cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await world.setUp();
    const all: Round[] = [];
    for (let r = 0; r < settings.rounds; r++) {
      // check first in even rounds, nmap first in odd ones (nmap needs check's ports once).
      const order = r % 2 === 0 ? ['check', 'nmap'] : ['nmap', 'check'];
      for (const contender of order) {
        const result = contender === 'check' ? await world.runCheck(r) : await world.runNmap(r);
        log(
          `round ${r + 1} ${contender}: ${result.probes} probes in ${result.wallSeconds} s, ` +
            `${Math.round(result.probesPerSecond)}/s`,
        );
        all.push(result);
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      }
    }
    const firstData: number[] = [];
    for (let t = 0; t < settings.firstDataTrials; t++) {
      const { seconds, targets } = await world.firstData();
      log(`first data: all ${targets} targets on /metrics ${seconds.toFixed(2)} s after exec`);
      firstData.push(seconds);
    }
    const { report, line } = summarize(settings, all, firstData);
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (settings.json !== undefined) writeFileSync(settings.json, json);
    else process.stdout.write(json);
    process.stdout.write(`${line}\n`);
  } finally {
    await world.cleanUp();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `check-scale: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  });
}
