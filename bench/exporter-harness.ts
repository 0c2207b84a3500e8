/**
 * The parent side of the exporter benchmarks (scrape cost, memory, detection latency,
 * steady-state CPU): starts the listeners of the synthetic cluster and the exporter
 * child (bench/exporter-child.ts), sends it commands, scrapes it over HTTP as
 * Prometheus does, and reads what the kernel accounts for it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Children } from './children.js';
import { type ClusterOptions, openNodePorts } from './cluster.js';
import { compiledChild } from './compile.js';
import { writeEndpoints } from './files.js';
import { processCpuSeconds, processMemory } from './proc.js';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

export function log(bench: string, message: string): void {
  process.stderr.write(`${bench}: ${message}\n`);
}

/** Resolves when `child` prints a line matching `pattern`; rejects when it exits first. */
export function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  name: string,
  timeoutMs = 60_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let errors = '';
    const timer = setTimeout(
      () => fail(new Error(`${name}: not ready after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) =>
      fail(
        new Error(`${name} exited (${code}) before it was ready: ${errors.trim().slice(-2000)}`),
      ),
    );
  });
}

/**
 * The listeners of the synthetic cluster's open NodePorts, on 0.0.0.0, in a process
 * of their own (bench/listeners.ts) so that accepting is charged to no exporter figure.
 */
export async function startClusterListeners(
  children: Children,
  dir: string,
  cluster: ClusterOptions,
): Promise<ChildProcess> {
  const file = join(dir, 'listeners.txt');
  writeEndpoints(
    file,
    openNodePorts(cluster).map((port) => ({ ip: '0.0.0.0', port })),
  );
  const child = children.start([process.execPath, '--import', 'tsx', 'bench/listeners.ts', file], {
    cwd: REPO_ROOT,
  });
  await waitForLine(child, /^ready/, 'listeners');
  return child;
}

export interface ExporterRunOptions {
  readonly cluster: ClusterOptions;
  readonly churnIntervalMs?: number;
  /** Sample the event loop's delay every this many ms (0: no monitor, no cost). */
  readonly delayResolutionMs?: number;
  /** Exporter flags, e.g. `--probe.interval=15s`. */
  readonly exporterFlags?: readonly string[];
  /** Node options for the child, e.g. `--expose-gc`. */
  readonly nodeOptions?: readonly string[];
}

/** The stats command's reply. */
export interface ExporterStats {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  readonly maxRssBytes: number;
  readonly cpuSeconds: number;
  readonly targets: number;
  readonly tcpProbes: number;
  readonly cycles: number;
  /** Each cycle's duration so far; the first is the start's burst. */
  readonly cycleSeconds: readonly number[];
  readonly intervalSeconds: number;
  readonly replans: number;
}

/** One running exporter child. */
export class ExporterRun {
  readonly child: ChildProcess;
  readonly url: string;
  readonly pid: number;
  readonly targets: number;
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #stderr = '';

  private constructor(child: ChildProcess, ready: { url: string; pid: number; targets: number }) {
    this.child = child;
    this.url = ready.url;
    this.pid = ready.pid;
    this.targets = ready.targets;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      let message: { id?: number; ok?: boolean; error?: string };
      try {
        message = JSON.parse(line);
      } catch {
        return;
      }
      if (message.id === undefined) return;
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (!waiter) return;
      if (message.ok) waiter.resolve(message);
      else waiter.reject(new Error(`exporter child: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.#pending.values()) {
        waiter.reject(
          new Error(
            `exporter child exited (${code ?? signal}): ${this.#stderr.trim().slice(-2000)}`,
          ),
        );
      }
      this.#pending.clear();
    });
  }

  static async start(children: Children, options: ExporterRunOptions): Promise<ExporterRun> {
    const c = options.cluster;
    const child = children.start(
      [
        process.execPath,
        ...(options.nodeOptions ?? []),
        compiledChild('exporter-child'),
        '--nodes',
        String(c.nodes),
        '--node-ports',
        String(c.nodePorts),
        '--churn',
        String(c.churn),
        '--open-every',
        String(c.openEvery),
        '--churn-interval-ms',
        String(options.churnIntervalMs ?? 1000),
        '--delay-resolution-ms',
        String(options.delayResolutionMs ?? 0),
        '--',
        ...(options.exporterFlags ?? []),
      ],
      { cwd: REPO_ROOT, stdin: true },
    );
    const line = await waitForLine(child, /"event":"ready"/, 'exporter child', 120_000);
    return new ExporterRun(child, JSON.parse(line));
  }

  command<T = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
  ): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin?.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  stats(): Promise<ExporterStats> {
    return this.command<ExporterStats>('stats');
  }

  /** CPU seconds of every thread of the child, as the kernel counts them (10 ms steps). */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  memory() {
    return processMemory(this.pid);
  }

  /** Polls stats until `done` holds; fails after `timeoutMs`. */
  async waitFor(
    what: string,
    done: (stats: ExporterStats) => boolean,
    timeoutMs: number,
    pollMs = 250,
  ): Promise<ExporterStats> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const stats = await this.stats();
      if (done(stats)) return stats;
      if (performance.now() > deadline) {
        throw new Error(
          `exporter child: ${what} not reached in ${timeoutMs} ms: ${JSON.stringify(stats)}`,
        );
      }
      await sleep(pollMs);
    }
  }

  /** Waits until `cycles` more full probe cycles have ended. */
  async waitForCycles(cycles: number, timeoutMs: number): Promise<ExporterStats> {
    const start = (await this.stats()).cycles;
    return this.waitFor(`${cycles} cycles`, (s) => s.cycles >= start + cycles, timeoutMs);
  }

  /** Stops the exporter as a signal would, and the process after it (killed if it hangs). */
  async stop(children: Children): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.command('stop').catch(() => undefined);
      await Promise.race([exited, sleep(10_000)]);
    }
    await children.stop(this.child);
  }
}

export interface ScrapeResult {
  readonly status: number;
  /** From sending the request to the last byte of the body. */
  readonly wallMs: number;
  /** Bytes on the wire: gzip bytes when gzip was asked. */
  readonly bytes: number;
  readonly body: Buffer;
}

/** GET /metrics as Prometheus does, on a fresh connection; the body is kept as it came. */
export function scrape(url: string, options: { gzip: boolean }): Promise<ScrapeResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/metrics`,
      {
        headers: {
          accept: 'text/plain;version=0.0.4',
          ...(options.gzip && { 'accept-encoding': 'gzip' }),
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            wallMs: performance.now() - started,
            bytes: body.length,
            body,
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
    req.end();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A temp directory removed on exit, however the benchmark ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Runs a benchmark's main with the cleanup every benchmark needs: children killed on
 * exit, error or Ctrl-C.
 */
export function runBench(name: string, children: Children, main: () => Promise<void>): void {
  const onSignal = (signal: NodeJS.Signals) => {
    log(name, `${signal}: stopping`);
    children.killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => children.killAll());
  // Exits when main settles: a listener or a timer left behind must not keep it alive.
  // (stdout and stderr are synchronous for files and pipes on Linux: nothing is lost.)
  main().then(
    () => {
      children.killAll();
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${name}: ${error instanceof Error ? error.stack : String(error)}\n`);
      children.killAll();
      process.exit(1);
    },
  );
}
