/**
 * Long-running children for end-to-end tests (Prometheus, node exporter, exporter):
 * started, awaited until they log that they are ready, and stopped by their own pid.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { spawnWithDeadline } from '../helpers/node-child.js';

export interface Daemon {
  readonly child: ChildProcess;
  /** Everything it has written so far, stdout and stderr, for failure messages. */
  log(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Matched against its output: the daemon is ready once this appears. */
  readonly ready: RegExp;
  /** How long it may take to become ready. Default 20 s. */
  readonly readyTimeoutMs?: number;
  /** Killed after this long whatever happens, so a stuck test cannot leak it. Default 5 min. */
  readonly lifetimeMs?: number;
}

export async function startDaemon(
  argv: readonly string[],
  options: DaemonOptions,
): Promise<Daemon> {
  const child = spawnWithDeadline(argv, { timeoutMs: options.lifetimeMs ?? 300_000 });
  let output = '';
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const daemon: Daemon = {
    child,
    log: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await closed;
      clearTimeout(timer);
    },
  };
  await new Promise<void>((resolve, reject) => {
    const name = argv[0] ?? '';
    const timer = setTimeout(() => {
      reject(
        new Error(
          `${name} was not ready within ${options.readyTimeoutMs ?? 20_000} ms:\n${output}`,
        ),
      );
    }, options.readyTimeoutMs ?? 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (options.ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${name}`, { cause: error }));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await daemon.stop();
    throw error;
  });
  return daemon;
}

/** A TCP port free on 127.0.0.1 a moment ago, for a child that cannot listen on port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Metric family names and the label names their samples carry, from exposition text. */
export function familiesIn(text: string): Map<string, Set<string>> {
  const families = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) \S+/.exec(line);
    if (type) {
      families.set(type[1] as string, families.get(type[1] as string) ?? new Set());
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const name = sample[1] as string;
    const labels = families.get(name) ?? new Set<string>();
    families.set(name, labels);
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) {
      labels.add(m[1] as string);
    }
  }
  return families;
}
